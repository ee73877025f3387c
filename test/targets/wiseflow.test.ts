/**
 * The WISEflow target's behaviours beyond the conformance kit, against its simulator over HTTP:
 * the person goes through desired → actual → plan → apply as the runtime calls them.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { OperationResult, PersonChanged, PersonContext, Plan, TargetContext } from '../../src/spi/index.js';
import { WiseflowConfig, type WiseflowConfigInput } from '../../src/targets/wiseflow/config.js';
import { target } from '../../src/targets/wiseflow/index.js';
import type { WiseflowSession } from '../../src/targets/wiseflow/read.js';
import { defaultLicense, startWiseflowSimulator, type UserRec, type WiseflowSimulator, type WiseflowSimulatorOptions } from '../../src/targets/wiseflow/simulator/index.js';

const SECRET = 'wf-test-secret-77aa1b';
const FNR = '01810012345';
const TYPES = { feideId: 529, nationalId: 530, studentId: 531, personId: 532 };
const POLICY = {
  managedRoles: ['Assessor', 'Author', 'Reviewer'],
  rules: [{ affiliations: ['employee'], roles: ['Assessor', 'Author'] }, { affiliations: [], businessRoles: ['iam:exam-reviewer'], roles: ['Reviewer'] }],
  sensor: { affiliations: ['sensor'], roles: ['Reviewer'] },
};

interface World { sim: WiseflowSimulator; session: WiseflowSession; ctx: TargetContext<WiseflowConfig>; lines: string[] }
const open: World[] = [];
afterEach(async () => {
  for (const w of open.splice(0)) {
    await target.close!(w.session);
    await w.sim.close();
  }
});

async function world(simOpts: Partial<WiseflowSimulatorOptions> = {}, cfg: Partial<WiseflowConfigInput> = {}): Promise<World> {
  const license = defaultLicense();
  license.loginMethod = 'standard';
  const sim = await startWiseflowSimulator({ clients: [{ id: 'tilgang', secret: SECRET }], license, requireClientName: true, ...simOpts });
  process.env.TILGANG_TEST_WISEFLOW_SECRET = SECRET;
  const config = WiseflowConfig.parse({
    url: sim.url, auth: { clientId: 'tilgang', clientSecret: { env: 'TILGANG_TEST_WISEFLOW_SECRET' } }, userDataTypes: TYPES,
    attributes: { secondaryEmails: 'idautoPersonEmailAddresses' }, languages: { nb: 'nb_NO', en: 'en_GB' }, policy: POLICY, ...cfg,
  });
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write(c: Buffer, _e, done) { lines.push(c.toString()); done(); } }));
  const ctx = { config, global: {} as never, log };
  const session = await target.connect(ctx);
  await target.check!(session, ctx);
  const w = { sim, session, ctx, lines };
  open.push(w);
  return w;
}

function person(attrs: Record<string, string[]>, entitled = true, id: string = randomUUID()): PersonContext {
  const event: PersonChanged = { eventId: randomUUID(), personId: id, changeType: 'MODIFY', changeTime: 0 };
  const n = id.slice(0, 8);
  const all: Record<string, string[]> = {
    idautoID: [id], givenName: ['Åse'], sn: ['Ødegård'], mail: [`${n}@uni.example.no`], idautoPersonFeideID: [`${n}@uni.example.no`],
    idautoPersonNationalID: [FNR], idautoPersonStuID: ['512345'], idautoPersonAffiliations: ['student'], idautoPersonPreferredLanguage: ['nb'], ...attrs,
  };
  return { id, event, record: { dn: `idautoID=${id},ou=People`, attrs: all }, mv: undefined, entitled, provisioned: false };
}

/** One person through the target, as the runtime does it. */
async function reconcile(w: World, p: PersonContext): Promise<{ plan: Plan; results: OperationResult[] }> {
  const d = target.desired(p, w.ctx);
  const a = await target.actual(p, d, w.session, w.ctx);
  const plan = target.plan(d, a, p, w.ctx);
  const results = plan.operations.length ? await target.apply(plan, w.session, w.ctx, p) : [];
  return { plan, results };
}

const userOf = (w: World, p: PersonContext): UserRec[] => w.sim.licence.data.users.filter((u) => u.userData.some((d) => d.userDataTypeId === TYPES.personId && d.value === p.id));
const roleNames = (w: World, u: UserRec) => u.roles.map((r) => w.sim.licence.role(r.licenseRoleId)!.name).sort();
const kinds = (plan: Plan) => plan.operations.map((o) => o.kind);

describe('WISEflow target over HTTP', () => {
  it('creates a user with the policy\'s roles, primary and secondary emails, external ids and language in one call', async () => {
    const w = await world();
    const p = person({ idautoPersonAffiliations: ['employee'], idautoPersonEmailAddresses: ['second@uni.example.no'] });
    const writes0 = w.sim.writes();
    const { plan, results } = await reconcile(w, p);
    expect(kinds(plan)).toEqual(['create']);
    expect(results).toMatchObject([{ outcome: 'APPLIED' }]);
    expect(w.sim.writes()).toBe(writes0 + 1);
    const [u] = userOf(w, p);
    expect(results[0]!.accountId).toBe(String(u!.id));
    expect(roleNames(w, u!)).toEqual(['Assessor', 'Author']);
    expect(u!.emails.map((e) => [e.email, e.primary])).toEqual([[p.record.attrs.mail![0], true], ['second@uni.example.no', false]]);
    expect(Object.fromEntries(u!.userData.map((d) => [d.userDataTypeId, d.value]))).toEqual({ 529: p.record.attrs.idautoPersonFeideID![0], 530: FNR, 531: '512345', 532: p.id });
    expect(u!.language).toBe('nb_NO');
    expect(JSON.stringify(plan.operations.map((o) => o.changes))).not.toContain(FNR);
    expect((await reconcile(w, p)).plan.operations).toEqual([]);
  });

  it('adds and removes only the roles the policy manages: protected and hand-given roles stay', async () => {
    const w = await world();
    const p = person({ idautoPersonAffiliations: ['employee'] });
    await reconcile(w, p);
    const [u] = userOf(w, p);
    // By hand in WISEflow: a Manager role (not managed), and the protected Participant role UNIwise gives.
    u!.roles.push({ userRoleId: 1, licenseRoleId: 1 }, { userRoleId: 2, licenseRoleId: 3 });
    // No longer an employee; a reviewer by business role.
    const q = person({ idautoPersonAffiliations: ['student'], idautoPersonAppRoles: ['iam:exam-reviewer'] }, true, p.id);
    const { plan, results } = await reconcile(w, { ...q, record: { ...q.record, attrs: { ...q.record.attrs, idautoPersonFeideID: p.record.attrs.idautoPersonFeideID!, mail: p.record.attrs.mail! } } });
    expect(kinds(plan)).toEqual(['update']);
    expect(plan.operations[0]!.changes).toContainEqual({ attribute: 'roles', from: 'Assessor, Author', to: 'Reviewer' });
    expect(results).toMatchObject([{ outcome: 'APPLIED' }]);
    expect(roleNames(w, userOf(w, p)[0]!)).toEqual(['Manager', 'Participant', 'Reviewer']);
  });

  it('provisions an external examiner by the sensor rule alone', async () => {
    const w = await world();
    const p = person({ idautoPersonAffiliations: ['sensor', 'employee'], idautoPersonStuID: [] });
    const { plan } = await reconcile(w, p);
    expect(plan.operations[0]!.detail).toBe('external examiner');
    const [u] = userOf(w, p);
    expect(roleNames(w, u!)).toEqual(['Reviewer']);
    expect(u!.userData.some((d) => d.userDataTypeId === TYPES.studentId)).toBe(false);
  });

  it('changes the primary email as WISEflow requires: added as a secondary, made primary, the old one removed last', async () => {
    const w = await world();
    const p = person({ idautoPersonEmailAddresses: ['a@uni.example.no', 'b@uni.example.no'] });
    await reconcile(w, p);
    const next = { ...p, record: { ...p.record, attrs: { ...p.record.attrs, mail: ['b@uni.example.no'], idautoPersonEmailAddresses: ['new@uni.example.no', 'a@uni.example.no'] } } };
    const { plan, results } = await reconcile(w, next);
    expect(kinds(plan)).toEqual(['update']);
    expect(results).toMatchObject([{ outcome: 'APPLIED' }]);
    const u = userOf(w, p)[0]!;
    const emails = Object.fromEntries(u.emails.map((e) => [e.email, { primary: e.primary, activated: e.activated }]));
    // On a standard-login licence a primary added as such would wait for activation; this one did not.
    expect(emails).toEqual({ 'b@uni.example.no': { primary: true, activated: true }, 'new@uni.example.no': { primary: false, activated: true }, 'a@uni.example.no': { primary: false, activated: true } });
    expect((await reconcile(w, next)).plan.operations).toEqual([]);
  });

  it('applies each other kind of change in place: names, language, a secondary email removed, the student number changed and then removed', async () => {
    const w = await world();
    const p = person({ idautoPersonEmailAddresses: ['keep@uni.example.no', 'gone@uni.example.no'] });
    await reconcile(w, p);
    const step = async (attrs: Record<string, string[]>) => {
      const next = { ...p, record: { ...p.record, attrs: { ...p.record.attrs, ...attrs } } };
      const { plan, results } = await reconcile(w, next);
      expect(kinds(plan)).toEqual(['update']);
      expect(results).toMatchObject([{ outcome: 'APPLIED' }]);
      // Applied for good: the next pass finds nothing to do.
      expect((await reconcile(w, next)).plan.operations).toEqual([]);
      return { plan, user: userOf(w, p) };
    };
    let r = await step({ givenName: ['Åsa'], sn: ['Ødegaard'], idautoPersonPreferredLanguage: ['en'] });
    expect(r.plan.operations[0]!.changes).toEqual([
      { attribute: 'firstName', from: 'Åse', to: 'Åsa' }, { attribute: 'lastName', from: 'Ødegård', to: 'Ødegaard' }, { attribute: 'language', from: 'nb_NO', to: 'en_GB' },
    ]);
    expect(r.user).toMatchObject([{ firstName: 'Åsa', lastName: 'Ødegaard', language: 'en_GB' }]);
    r = await step({ givenName: ['Åsa'], sn: ['Ødegaard'], idautoPersonPreferredLanguage: ['en'], idautoPersonEmailAddresses: ['keep@uni.example.no'] });
    expect(r.user[0]!.emails.map((e) => e.email).sort()).toEqual([p.record.attrs.mail![0], 'keep@uni.example.no'].sort());
    const same = { givenName: ['Åsa'], sn: ['Ødegaard'], idautoPersonPreferredLanguage: ['en'], idautoPersonEmailAddresses: ['keep@uni.example.no'] };
    r = await step({ ...same, idautoPersonStuID: ['612345'] });
    expect(r.plan.operations[0]!.changes).toEqual([{ attribute: 'externalId.studentId', from: '512345', to: '612345' }]);
    expect(r.user[0]!.userData.filter((d) => d.userDataTypeId === TYPES.studentId).map((d) => d.value)).toEqual(['612345']);
    r = await step({ ...same, idautoPersonStuID: [] });
    expect(r.user[0]!.userData.some((d) => d.userDataTypeId === TYPES.studentId)).toBe(false);
    expect(userOf(w, p)).toHaveLength(1);
  });

  it('replaces a changed national id in place, never showing it, and does not make a second user', async () => {
    const w = await world();
    const p = person({});
    await reconcile(w, p);
    const NEW_FNR = '02029912345';
    const next = { ...p, record: { ...p.record, attrs: { ...p.record.attrs, idautoPersonNationalID: [NEW_FNR] } } };
    const { plan, results } = await reconcile(w, next);
    expect(plan.operations[0]!.changes).toEqual([{ attribute: 'externalId.nationalId', from: '[redacted]', to: '[redacted]' }]);
    expect(results).toMatchObject([{ outcome: 'APPLIED' }]);
    expect(userOf(w, p)).toHaveLength(1);
    expect(userOf(w, p)[0]!.userData.find((d) => d.userDataTypeId === TYPES.nationalId)?.value).toBe(NEW_FNR);
    const seen = [...w.lines, JSON.stringify(plan.operations.map(({ payload: _, ...o }) => o)), JSON.stringify(results)].join('\n');
    expect(w.lines.length).toBeGreaterThan(0);
    for (const s of [FNR, NEW_FNR, SECRET]) expect(seen).not.toContain(s);
  });

  it('reports a create WISEflow merged into a user the search did not find (the upsert matched on the national id)', async () => {
    const w = await world();
    const first = person({});
    const made = (await reconcile(w, first)).results[0]!.accountId;
    const other = person({});
    const { results } = await reconcile(w, other);
    expect(results[0]!.outcome).toBe('FAILED');
    expect(results[0]!.error).toContain(`existing userId ${made}`);
    expect(w.sim.licence.data.users).toHaveLength(1);
    expect(results[0]!.error).not.toContain(FNR);
  });

  it('deactivates login on lost entitlement and reactivates it, never deleting', async () => {
    const w = await world();
    const p = person({});
    await reconcile(w, p);
    expect(kinds((await reconcile(w, { ...p, entitled: false })).plan)).toEqual(['disable']);
    expect(userOf(w, p)[0]!.loginDeactivated).toBe(true);
    expect(kinds((await reconcile(w, p)).plan)).toEqual(['enable']);
    expect(userOf(w, p)).toMatchObject([{ loginDeactivated: false }]);
  });

  it('renews its token before it expires and when WISEflow no longer takes it', async () => {
    const w = await world({ tokenTtlSeconds: 1 });
    const p = person({});
    await reconcile(w, p);
    const issued = w.sim.tokensIssued();
    await new Promise((r) => setTimeout(r, 1100));
    expect((await reconcile(w, { ...p, entitled: false })).results).toMatchObject([{ outcome: 'APPLIED' }]);
    expect(w.sim.tokensIssued()).toBe(issued + 1);
    w.sim.revokeTokens();
    expect((await reconcile(w, p)).results).toMatchObject([{ outcome: 'APPLIED' }]);
    expect(w.sim.tokensIssued()).toBe(issued + 2);
  });

  it('honours 429 and Retry-After: a client allowed more than the licence gets throttled, and no person fails', async () => {
    const w = await world({ rateLimits: { perSecond: 10, perMinute: 1000 } }, { rateLimit: { perSecond: 100 } });
    const people = Array.from({ length: 25 }, (_, i) => person({ idautoPersonNationalID: [String(10000000000 + i)] }));
    const out = await Promise.all(people.map((p) => reconcile(w, p)));
    expect(out.flatMap((o) => o.results).every((r) => r.outcome === 'APPLIED')).toBe(true);
    expect(w.sim.throttled()).toBeGreaterThan(0);
    expect(w.session.client.throttled).toBeGreaterThan(0);
    for (const p of people) expect(userOf(w, p)).toHaveLength(1);
  });

  it('keeps under the licence\'s limits on its own side: no 429 at all', async () => {
    const w = await world({ rateLimits: { perSecond: 10, perMinute: 1000 } }, { rateLimit: { perSecond: 10, share: 0.8 } });
    const people = Array.from({ length: 25 }, (_, i) => person({ idautoPersonNationalID: [String(10000000000 + i)] }));
    const out = await Promise.all(people.map((p) => reconcile(w, p)));
    expect(out.flatMap((o) => o.results).every((r) => r.outcome === 'APPLIED')).toBe(true);
    expect(w.sim.throttled()).toBe(0);
    expect(w.sim.peakPerSecond()).toBeLessThanOrEqual(8);
  });

  it('refuses to start when the policy manages a protected role or one the licence lacks', async () => {
    const sim = await startWiseflowSimulator({ clients: [{ id: 'tilgang', secret: SECRET }] });
    try {
      process.env.TILGANG_TEST_WISEFLOW_SECRET = SECRET;
      const config = WiseflowConfig.parse({
        url: sim.url, auth: { clientId: 'tilgang', clientSecret: { env: 'TILGANG_TEST_WISEFLOW_SECRET' } }, userDataTypes: TYPES,
        policy: { managedRoles: ['Participant', 'Examiner'], rules: [{ affiliations: ['employee'], roles: ['Participant'] }] },
      });
      const ctx = { config, global: {} as never, log: pino({ level: 'silent' }) };
      const s = await target.connect(ctx);
      await expect(target.check!(s, ctx)).rejects.toThrow(/"Participant" is protected.*"Examiner" is not a role of the licence/);
      await target.close!(s);
    } finally {
      await sim.close();
    }
  });

  it('validates the policy with the configuration: a rule giving a role the policy does not manage is refused', () => {
    const r = WiseflowConfig.safeParse({
      url: 'http://127.0.0.1:1/v1', auth: { apiKey: { env: 'X' } }, userDataTypes: TYPES,
      policy: { managedRoles: ['Assessor'], rules: [{ affiliations: ['employee'], roles: ['Manager'] }] },
    });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('role \\"Manager\\" is not in managedRoles');
  });
});
