/**
 * The Lenel target against the OpenAccess simulator over HTTP, one person at a time through the
 * target's own steps (desired → actual → plan → apply), retrying transient failures as the
 * runtime does.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config.js';
import { isTransient, TerminalError, TransientError, type MvPerson, type OperationResult, type PersonChanged, type PersonContext, type TargetContext } from '../../spi/index.js';
import { LenelConfig, type LenelConfigInput } from './config.js';
import { target } from './index.js';
import type { LenelSession } from './read.js';
import { startLenelSimulator, type LenelSimulator } from './simulator/index.js';
import type { Instance } from './simulator/types.js';

const PASSWORD = 'Op3rator-secret-pw';
const NATIONAL_ID = '01810012345';
const global = loadConfig('tilgang.example.yaml');

let sim: LenelSimulator;
let session: LenelSession;
let ctx: TargetContext<LenelConfig>;
const lines: string[] = [];

const ORG = (stedkode: string, nameNb: string) => ({ stedkode, parentStedkode: null, level: 'department' as const, nameNb, nameEn: nameNb, shortName: nameNb, adOu: nameNb });

function config(over: Partial<LenelConfigInput> = {}): LenelConfig {
  return LenelConfig.parse({
    url: sim.apiUrl, applicationId: 'TILGANG_TEST', username: 'op', password: { env: 'TILGANG_TEST_LENEL_PASSWORD' },
    badge: { type: 1, inactiveStatus: 5 },
    accessLevels: [
      { affiliation: 'employee', levels: ['Main entrance'] },
      { role: 'iam:lab', levels: ['Science labs'] },
      { affiliation: 'employee', stedkode: '150000', levels: ['Science building'] },
      { role: 'iam:librarian', levels: ['Library'] },
    ],
    ...over,
  });
}

let n = 0;
function person(over: { attrs?: Record<string, string[]>; entitled?: boolean; mv?: Partial<MvPerson> } = {}): PersonContext {
  n++;
  const id = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  const attrs: Record<string, string[]> = {
    idautoID: [id], givenName: ['Kari'], sn: [`Nordmann${n}`], mail: [`kari${n}@uni.example.no`], telephoneNumber: ['5501'],
    idautoPersonJobTitle: ['Lecturer'], idautoPersonHRID: [`H${1000 + n}`], idautoPersonNationalID: [NATIONAL_ID],
    idautoPersonAffiliation: ['employee'], idautoPersonAffiliations: ['employee'], ...over.attrs,
  };
  const mv: MvPerson = {
    id, username: null, studentId: null, hrId: attrs.idautoPersonHRID?.[0] ?? null, primaryAffiliation: 'employee',
    affiliations: [{ affiliation: 'employee', stedkode: '150000' }], roles: ['iam:lab'], orgUnits: [ORG('150000', 'Fakultet for naturvitenskap')], enrolments: [],
    ...over.mv,
  };
  const event: PersonChanged = { eventId: `ev-${id}`, personId: id, changeType: 'MODIFY', changeTime: 0 };
  return { id, event, record: { dn: `idautoID=${id},ou=People`, attrs }, mv, entitled: over.entitled ?? true, provisioned: false };
}

/** One pass for a person; a transient failure is retried (up to 5 times), as the runtime does. */
async function reconcile(p: PersonContext, c: TargetContext<LenelConfig> = ctx, s: LenelSession = session) {
  for (let attempt = 0; ; attempt++) {
    const d = target.desired(p, c);
    try {
      const a = await target.actual(p, d, s, c);
      const plan = target.plan(d, a, p, c);
      const results: OperationResult[] = await target.apply(plan, s, c, p);
      return { plan, results, kinds: plan.operations.map((o) => o.kind), attempts: attempt + 1 };
    } catch (e) {
      if (!isTransient(e) || attempt >= 4) throw e;
    }
  }
}

const cardholderOf = (p: PersonContext): Instance | undefined => sim.store.all('Lnl_Cardholder').find((c) => c.IDAUTO_ID === p.id);
const badgeOf = (c: Instance) => sim.store.all('Lnl_Badge').find((b) => b.PERSONID === c.ID && b.TYPE === 1)!;
const levelName = (id: unknown) => sim.store.all('Lnl_AccessLevel').find((l) => l.ID === id)?.Name;
const levelsOf = (b: Instance) => sim.store.all('Lnl_AccessLevelAssignment').filter((a) => a.BadgeKey === b.BADGEKEY).map((a) => levelName(a.AccessLevelID)).sort();
const lookupName = (type: string, id: unknown) => sim.store.all(type).find((x) => x.ID === id)?.Name;
const writes = () => [...sim.store.writes.values()].reduce((a, b) => a + b, 0);

beforeAll(async () => {
  sim = await startLenelSimulator({ users: { op: PASSWORD }, applicationIds: ['TILGANG_TEST'] });
  process.env.TILGANG_TEST_LENEL_PASSWORD = PASSWORD;
  const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(s) });
  ctx = { config: config(), global, log };
  session = await target.connect(ctx);
});
afterAll(async () => {
  await target.close!(session);
  await sim.close();
});

describe('the Lenel target over OpenAccess', () => {
  it('passes the start check and names what it found', async () => {
    const r = await target.check!(session, ctx);
    expect(r.facts).toMatchObject({ version: '7.6.001', operator: 'op', badgeType: 1 });
    expect(r.warnings).toEqual([]);
    const bad = { ...ctx, config: config({ badge: { type: 99, inactiveStatus: 5 } }) };
    await expect(target.check!(session, bad)).rejects.toThrow(/no badge type 99/);
  });

  it('creates the cardholder with its badge and access levels; a second pass changes nothing', async () => {
    const p = person();
    const r = await reconcile(p);
    expect(r.kinds).toEqual(['create', 'grant', 'grant', 'grant']);
    expect(r.results.every((x) => x.outcome === 'APPLIED')).toBe(true);
    const c = cardholderOf(p)!;
    expect(c).toMatchObject({ SSNO: 'H' + String(1000 + n), FIRSTNAME: 'Kari', LASTNAME: `Nordmann${n}`, EMAIL: `kari${n}@uni.example.no`, EXT: '5501', IDAUTO_ID: p.id });
    expect(lookupName('Lnl_TITLE', c.TITLE)).toBe('Lecturer');
    expect(lookupName('Lnl_DEPT', c.DEPT)).toBe('Fakultet for naturvitenskap');
    const b = badgeOf(c);
    expect(b.STATUS).toBe(1);
    expect(levelsOf(b)).toEqual(['Main entrance', 'Science building', 'Science labs']);
    expect(r.results[0]!.accountId).toBe(String(c.ID));
    const w = writes();
    const again = await reconcile(p);
    expect(again.kinds).toEqual([]);
    expect(writes()).toBe(w);
    expect(sim.store.createsBySsno.get(String(c.SSNO))).toBe(1);
  });

  it('updates each field in place: e-mail, extension and title as update, names as rename, department as move', async () => {
    const p = person();
    await reconcile(p);
    const id = cardholderOf(p)!.ID;
    const step = async (attrs: Record<string, string[]>, kind: string, mv?: Partial<MvPerson>) => {
      Object.assign(p.record.attrs, attrs);
      if (mv) Object.assign(p.mv!, mv);
      const r = await reconcile(p);
      expect(r.kinds).toEqual([kind]);
      expect(r.results[0]!.outcome).toBe('APPLIED');
      expect((await reconcile(p)).kinds).toEqual([]);
    };
    await step({ mail: ['new@uni.example.no'] }, 'update');
    await step({ telephoneNumber: ['5599'] }, 'update');
    await step({ idautoPersonJobTitle: ['Professor'] }, 'update');
    await step({ givenName: ['Karianne'] }, 'rename');
    await step({ sn: ['Haugen'] }, 'rename');
    await step({}, 'move', { orgUnits: [ORG('160000', 'Det humanistiske fakultet')] });
    const c = cardholderOf(p)!;
    expect(c).toMatchObject({ ID: id, EMAIL: 'new@uni.example.no', EXT: '5599', FIRSTNAME: 'Karianne', LASTNAME: 'Haugen' });
    expect(lookupName('Lnl_TITLE', c.TITLE)).toBe('Professor');
    expect(lookupName('Lnl_DEPT', c.DEPT)).toBe('Det humanistiske fakultet');
    expect(sim.store.all('Lnl_Cardholder').filter((x) => x.IDAUTO_ID === p.id)).toHaveLength(1);
  });

  it('disables by the badge status and deactivation date, never deleting; enabling restores; levels stay', async () => {
    const p = person();
    await reconcile(p);
    const c = cardholderOf(p)!;
    const levels = levelsOf(badgeOf(c));
    const off = await reconcile({ ...p, entitled: false });
    expect(off.kinds).toEqual(['disable']);
    expect(off.plan.operations[0]!.destructive).toBe(true);
    const b = badgeOf(c);
    expect(b.STATUS).toBe(5);
    expect(Date.parse(String(b.DEACTIVATE))).toBeLessThanOrEqual(Date.now());
    expect(cardholderOf(p)).toBeDefined();
    expect(levelsOf(b)).toEqual(levels);
    expect((await reconcile({ ...p, entitled: false })).kinds).toEqual([]);
    const on = await reconcile(p);
    expect(on.kinds).toEqual(['enable']);
    expect(badgeOf(c).STATUS).toBe(1);
    expect(Date.parse(String(badgeOf(c).DEACTIVATE))).toBeGreaterThan(Date.now());
    expect(sim.store.all('Lnl_Badge').filter((x) => x.PERSONID === c.ID)).toHaveLength(1);
  });

  it('a badge someone set to another status (lost) is left alone, as are its levels', async () => {
    const p = person();
    await reconcile(p);
    const b = badgeOf(cardholderOf(p)!);
    sim.store.modify('Lnl_Badge', { BADGEKEY: b.BADGEKEY, STATUS: 2 });
    p.mv!.roles = [];
    expect((await reconcile(p)).kinds).toEqual([]);
    expect((await reconcile({ ...p, entitled: false })).kinds).toEqual([]);
    expect(badgeOf(cardholderOf(p)!).STATUS).toBe(2);
  });

  it('adds and removes only the levels the mapping manages; levels tilgang did not assign are left alone', async () => {
    const p = person();
    await reconcile(p);
    const b = badgeOf(cardholderOf(p)!);
    // By hand in OnGuard: an unmanaged level, and a managed one the person should not have.
    sim.store.create('Lnl_AccessLevelAssignment', { AccessLevelID: 7, BadgeKey: b.BADGEKEY });
    sim.store.create('Lnl_AccessLevelAssignment', { AccessLevelID: 2, BadgeKey: b.BADGEKEY });
    p.mv!.roles = [];
    const r = await reconcile(p);
    expect(r.plan.operations.map((o) => `${o.kind} ${o.detail}`).sort()).toEqual(['revoke access level Library', 'revoke access level Science labs']);
    expect(r.plan.operations.every((o) => o.counter === 'accessLevelsRemoved')).toBe(true);
    expect(levelsOf(b)).toEqual(['Main entrance', 'Science building', 'Server room']);
    p.mv!.roles = ['iam:librarian'];
    const g = await reconcile(p);
    expect(g.plan.operations.map((o) => `${o.kind} ${o.detail} ${o.counter}`)).toEqual(['grant access level Library accessLevelsAdded']);
    expect(levelsOf(b)).toEqual(['Library', 'Main entrance', 'Science building', 'Server room']);
  });

  it('two cardholders with the person\'s key are a duplicate error naming both; nothing is written', async () => {
    const p = person();
    const a = sim.store.create('Lnl_Cardholder', { LASTNAME: 'Hand', FIRSTNAME: 'One', SSNO: p.record.attrs.idautoPersonHRID![0] }, true);
    const b = sim.store.create('Lnl_Cardholder', { LASTNAME: 'Hand', FIRSTNAME: 'Two', SSNO: p.record.attrs.idautoPersonHRID![0] }, true);
    const w = writes();
    const err = await reconcile(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TerminalError);
    expect((err as Error).message).toContain(`cardholder ${a.ID} (Hand, One)`);
    expect((err as Error).message).toContain(`cardholder ${b.ID} (Hand, Two)`);
    expect((err as Error).message).not.toContain(String(p.record.attrs.idautoPersonHRID![0]));
    expect(writes()).toBe(w);
  });

  it('the key is the configured number, never the national id unless configured', async () => {
    const p = person({ attrs: { idautoPersonHRID: [] } });
    delete p.record.attrs.idautoPersonHRID;
    // Reached only when the runtime did not skip the person (the key is essential): still no account without a key.
    expect(() => target.desired(p, ctx)).toThrow(/no cardholder key/);
    const student = person({ attrs: { idautoPersonStuID: ['S777'] } });
    delete student.record.attrs.idautoPersonHRID;
    expect(target.desired(student, ctx)!.key).toBe('S777');
    const fnr = { ...ctx, config: config({ key: ['idautoPersonNationalID'] }) };
    const c = { ...ctx, global: { ...global, directory: { ...global.directory, sensitive: ['idautoPersonNationalID'] } } };
    expect(target.desired(p, fnr)!.key).toBe(NATIONAL_ID);
    const plan = target.plan(target.desired(p, fnr), { cardholder: null, badge: null, levels: [] }, p, { ...c, config: fnr.config });
    expect(JSON.stringify(plan.operations.map((o) => o.changes))).not.toContain(NATIONAL_ID);
    // Configured so, it is searched for in the request body: no URL or log line shows it.
    const own: string[] = [];
    const fc = { ...c, config: fnr.config, log: pino({ level: 'debug' }, { write: (l: string) => own.push(l) }) };
    const s = await target.connect(fc);
    try {
      const a = await target.actual(p, target.desired(p, fc), s, fc);
      expect(a.cardholder).toBeNull();
      sim.store.create('Lnl_Cardholder', { LASTNAME: 'Found', SSNO: NATIONAL_ID });
      expect((await target.actual(p, target.desired(p, fc), s, fc)).cardholder?.LASTNAME).toBe('Found');
      expect(own.some((l) => l.includes('list Lnl_Cardholder'))).toBe(true);
      expect(own.join('\n')).not.toContain(NATIONAL_ID);
    } finally {
      await target.close!(s);
    }
  });

  it('a session that expired is renewed once and the call repeated', async () => {
    const p = person();
    await reconcile(p);
    const logins = sim.logins();
    const refused = sim.requests.get('GET /instances') ?? 0;
    sim.expireSessions();
    p.record.attrs.mail = ['after-expiry@uni.example.no'];
    const r = await reconcile(p);
    expect(r.kinds).toEqual(['update']);
    expect(r.attempts).toBe(1);
    expect(sim.logins()).toBe(logins + 1);
    expect((sim.requests.get('GET /instances') ?? 0) - refused).toBeGreaterThan(0);
    expect(cardholderOf(p)!.EMAIL).toBe('after-expiry@uni.example.no');
  });

  it('5xx and 429 are transient (Retry-After kept); the write is applied once', async () => {
    const p = person();
    await reconcile(p);
    sim.fault({ status: 429, times: 1, retryAfterSeconds: 2, match: (x) => x.method === 'PUT' });
    p.record.attrs.mail = ['retried@uni.example.no'];
    const d = target.desired(p, ctx);
    const a = await target.actual(p, d, session, ctx);
    const plan = target.plan(d, a, p, ctx);
    const e = await target.apply(plan, session, ctx, p).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TransientError);
    expect((e as TransientError).retryAfterMs).toBe(2000);
    sim.fault({ status: 503, times: 2, match: (x) => x.method === 'PUT' });
    const puts = sim.store.writes.get('PUT Lnl_Cardholder') ?? 0;
    const r = await reconcile(p);
    expect(r.attempts).toBe(3);
    expect(sim.store.writes.get('PUT Lnl_Cardholder')).toBe(puts + 1);
    expect(cardholderOf(p)!.EMAIL).toBe('retried@uni.example.no');
  });

  it('a create whose answer is lost (timeout) is retried without a second cardholder', async () => {
    const c = { ...ctx, config: config({ timeoutMs: 1000 }) };
    const s = await target.connect(c);
    try {
      const p = person();
      const key = p.record.attrs.idautoPersonHRID![0]!;
      sim.fault({ status: 'timeout', times: 1, afterRun: true, match: (x) => x.method === 'POST' && (x.body.property_value_map as Record<string, unknown>)?.SSNO === key });
      const r = await reconcile(p, c, s);
      expect(r.attempts).toBe(2);
      // The second pass found the cardholder the lost answer made, and issued its badge.
      expect(r.kinds).toEqual(['enable', 'grant', 'grant', 'grant']);
      expect(sim.store.createsBySsno.get(key)).toBe(1);
      expect(badgeOf(cardholderOf(p)!).STATUS).toBe(1);
    } finally {
      await target.close!(s);
    }
  });

  it('no password or session token in any log line or error', () => {
    const all = lines.join('\n');
    expect(lines.some((l) => l.includes('"label":"login"'))).toBe(true);
    expect(sim.tokens().length).toBeGreaterThan(1);
    for (const secret of [PASSWORD, ...sim.tokens(), NATIONAL_ID]) expect(all.includes(secret)).toBe(false);
  });
});

describe('the Lenel configuration', () => {
  it('reads the example configuration', () => {
    const cfg = LenelConfig.parse(loadConfig('tilgang.example.yaml').targets.lenel);
    expect(cfg.key).toEqual(['idautoPersonHRID', 'idautoPersonStuID']);
    expect(cfg.badge).toEqual({ type: 1, activeStatus: 1, inactiveStatus: 5, validDays: 3650 });
    expect(cfg.entitlement).toEqual({ affiliations: ['employee', 'student'], roles: [], request: 'lenel' });
    expect(cfg.simulator).toEqual({ port: 18090, latency: false });
  });

  it('names the wrong field of a bad configuration', () => {
    const r = LenelConfig.safeParse({ url: 'nope', applicationId: 'X', username: 'u', password: { env: 'P' }, badge: { type: 1 }, udfs: { 'bad name': 'x' } });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['badge.inactiveStatus', 'udfs.bad name', 'url']);
  });
});

describe('lookups', () => {
  it('people with the same new title at once share one title, made once', async () => {
    const ps = [1, 2, 3, 4].map(() => person({ attrs: { idautoPersonJobTitle: ['Brand-new title'] } }));
    const rs = await Promise.all(ps.map((p) => reconcile(p)));
    expect(rs.every((r) => r.results.every((x) => x.outcome === 'APPLIED'))).toBe(true);
    expect(sim.store.all('Lnl_TITLE').filter((t) => t.Name === 'Brand-new title')).toHaveLength(1);
    for (const p of ps) expect(lookupName('Lnl_TITLE', cardholderOf(p)!.TITLE)).toBe('Brand-new title');
  });

  it('two workers making the same new title at once: the one refused as a duplicate takes the title the other made', async () => {
    // Each worker has its own session and lookups; both find no such title, both create it, OnGuard refuses the second.
    const other = await target.connect(ctx);
    try {
      const [a, b] = await Promise.all([session.lookups.title.ensure('Title of two workers', true), other.lookups.title.ensure('Title of two workers', true)]);
      expect(a).toBe(b);
      expect(sim.store.all('Lnl_TITLE').filter((t) => t.Name === 'Title of two workers')).toHaveLength(1);
    } finally {
      await target.close!(other);
    }
  });
});
