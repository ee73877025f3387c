/**
 * The fault suite: the sample university provisioned into every target while the producer, each
 * target's workers and the writeback are killed with SIGKILL and restarted at random, and the
 * simulators answer with 5xx, 429 + Retry-After, dropped connections, lost answers and slow answers.
 * Afterwards, and printed as figures:
 *   - every entitled person is in every target with the right attributes: a log-only reconciliation
 *     of everyone plans nothing (each target compares its desired account with the real one);
 *   - nobody was created twice in any target (the simulators count creates per key; AD accounts
 *     are counted per anchor);
 *   - every event has exactly one result per target it is addressed to;
 *   - the dead-letter topics hold only the planted bad records (the seed's, and a message that is
 *     not an event), each with its error.
 * Two workers of one group (Lenel) share its partitions; one is killed and the other takes over.
 *
 * `npm test` runs a small version (TILGANG_FAULT_PEOPLE, default 24). `npm run test:faults` runs
 * 5,000 people and also restarts the Kafka broker and slapd (TILGANG_FAULT_SERVERS=1): never beside
 * other work on a shared stack.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSecret } from '../../src/config.js';
import { readDeadLetters } from '../../src/consumers/dlq.js';
import { sync } from '../../src/producers/sync.js';
import type { PersonChanged, ProvisioningResult } from '../../src/schemas/generated.js';
import { kafkaService } from '../../src/stack/kafka.js';
import { ldapService } from '../../src/stack/ldap.js';
import type { KafkaMessage } from 'kafkajs';
import { decodeResults, eventually, sleep } from '../support/env.js';
import { TopicReader } from '../support/pipeline.js';
import { startWorld, WORLD_TARGETS, type Role, type World } from '../support/world.js';

const PEOPLE = Number(process.env.TILGANG_FAULT_PEOPLE ?? 24);
const SERVERS = process.env.TILGANG_FAULT_SERVERS === '1';
const SEED = Number(process.env.TILGANG_FAULT_SEED ?? 7);
const KILLS = Number(process.env.TILGANG_FAULT_KILLS ?? (PEOPLE > 500 ? 21 : 7));
const FAULTS = { seed: SEED, error5xx: 0.04, tooMany: 0.03, retryAfterSeconds: 1, timeout: 0.01, lostAnswer: 0.02, holdMs: 1_500, slow: 0.04, slowMs: 400 };
/** Minutes to wait for everything to settle, by size. */
const SETTLE_MS = Math.max(180_000, PEOPLE * 200);

/** A topic's messages decoded once each, as they arrive (a large run re-reads tens of thousands). */
class Decoded<T> {
  readonly items: T[] = [];
  private n = 0;
  constructor(private readonly messages: KafkaMessage[], private readonly decode: (m: KafkaMessage) => Promise<T | undefined>) {}
  async update(): Promise<T[]> {
    while (this.n < this.messages.length) {
      const m = this.messages[this.n++]!;
      const v = await this.decode(m);
      if (v !== undefined) this.items.push(v);
    }
    return this.items;
  }
}

/** Polls less often in a large run: each look goes through everything seen so far. */
const POLL_MS = PEOPLE > 500 ? 3_000 : 200;
async function until<T>(what: string, ms: number, fn: () => Promise<T | false>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

/** mulberry32, for the kill schedule: one seed, one schedule. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe(`fault suite: ${PEOPLE} people into every target under kills${SERVERS ? ', broker and slapd restarts' : ''} and injected faults`, () => {
  let w: World;
  let events: TopicReader;
  let results: TopicReader;
  const roles: { role: Role; replica: number }[] = [
    { role: 'producer', replica: 0 }, { role: 'writeback', replica: 0 },
    ...WORLD_TARGETS.map((t) => ({ role: `target:${t}` as Role, replica: 0 })),
    { role: 'target:lenel', replica: 1 },
  ];

  beforeAll(async () => {
    w = await startWorld('faults', { faults: FAULTS });
  }, 300_000);

  afterAll(async () => {
    await events?.stop();
    await results?.stop();
    await w?.close();
  }, 120_000);

  it('provisions everyone once, with one result per event and only the planted records dead-lettered', async () => {
    const { env, cfg } = w;
    const started = Date.now();
    for (const r of roles) await w.start(r.role, r.replica);
    await w.ready();
    events = await new TopicReader(env.kafka, cfg.kafka.topics.personChanged).start();
    results = await new TopicReader(env.kafka, cfg.kafka.topics.provisioningResult).start();

    // Two workers of the Lenel group share its partitions.
    const admin = env.kafka.admin();
    await admin.connect();
    const lenelGroup = `${cfg.kafka.prefix}tilgang.lenel`;
    const members = await eventually(async () => {
      const { groups: [g] } = await admin.describeGroups([lenelGroup]);
      return g?.state === 'Stable' && g.members.length === 2 && g.members;
    }, 120_000, 'two Lenel workers in one group');
    expect(members).toHaveLength(2);
    await admin.disconnect();

    // A planted bad record that is not an event at all.
    const poisonKey = `not-an-event-${randomUUID()}`;
    const p = env.kafka.producer();
    await p.connect();
    await p.send({ topic: cfg.kafka.topics.personChanged, messages: [{ key: poisonKey, value: Buffer.from('{"personId": "not avro"}') }] });
    await p.disconnect();

    // Chaos: SIGKILL a random role now and then, restart it; servers restart once each in the full version.
    const random = rng(SEED);
    const kills: string[] = [];
    let chaos = true;
    const chaosDone = (async () => {
      // Every role once (the second Lenel worker first: the other takes its partitions over), then at random.
      const once = [roles.at(-1)!, ...roles.slice(0, -1).map((r) => ({ r, x: random() })).sort((a, b) => a.x - b.x).map((x) => x.r)];
      for (let k = 0; k < KILLS && chaos; k++) {
        await sleep(1_000 + random() * 4_000);
        const r = once[k] ?? roles[Math.floor(random() * roles.length)]!;
        await w.kill(r.role, r.replica);
        kills.push(`${r.role}${r.replica ? `#${r.replica}` : ''}`);
        await sleep(300 + random() * 2_000);
        await w.start(r.role, r.replica);
      }
    })();

    // The university appears in the directory (ADD events), then a full reconciliation of everyone.
    const seeding = w.seedPeople(PEOPLE, SEED);
    // The servers restart while the roles work through the backlog (the seed itself is not what is under test).
    const serversDone = (async () => {
      if (!SERVERS) return;
      await seeding;
      await sleep(5_000);
      await kafkaService.stop();
      await sleep(2_000);
      await kafkaService.start();
      kills.push('kafka broker');
      await sleep(20_000);
      await ldapService.stop();
      await sleep(2_000);
      await ldapService.start();
      kills.push('slapd');
      // The test's own admin connection comes back unbound.
      await env.admin.unbind().catch(() => {});
      await env.admin.bind(cfg.directory.adminDn!, readSecret(cfg.directory.adminPassword!, 'directory.adminPassword'));
    })();
    const seed = await seeding;
    const snapshot = await eventually(async () => sync(cfg, env.kafka, { all: true, peopleDn: env.peopleDn }), 300_000, 'the reconciliation published');
    await chaosDone;
    await serversDone;
    chaos = false;
    await w.ready();
    w.setFaults(null);

    // Every event gets its results: one per target it is addressed to.
    const addressedTo = (e: PersonChanged, t: string) => !e.targets || e.targets.includes(t);
    const seen = new Set<string>();
    const decodedEvents = new Decoded<PersonChanged>(events.messages, async (m) => (m.value?.[0] === 0 ? env.codec.decode('PersonChanged', m.value) : undefined));
    const decodedResults = new Decoded<ProvisioningResult>(results.messages, async (m) => {
      const r = await env.codec.decode('ProvisioningResult', m.value!);
      seen.add(`${r.target}|${r.sourceEventId}`);
      return r;
    });
    const settle = async () => {
      const evs = (await decodedEvents.update()).filter((e) => e.personId);
      const rs = await decodedResults.update();
      const missing = evs.flatMap((e) => WORLD_TARGETS.filter((t) => addressedTo(e, t) && !seen.has(`${t}|${e.eventId}`)).map((t) => `${t}|${e.personId}`));
      return { evs, rs, missing };
    };
    const settled = await until('a result for every event in every target', SETTLE_MS, async () => {
      const s = await settle();
      return s.missing.length === 0 && s.evs.length >= PEOPLE && s;
    }).catch(async (e: Error) => {
      const s = await settle();
      w.keep = true;
      const perTarget = new Map<string, number>();
      for (const m of s.missing) perTarget.set(m.split('|')[0]!, (perTarget.get(m.split('|')[0]!) ?? 0) + 1);
      // The lagging target's workers: the end of each one's last log, to see whether it stalled or was slow.
      const worst = [...perTarget].sort((a, b) => b[1] - a[1])[0]?.[0];
      for (const p of w.roles.values()) {
        if (p.role !== `target:${worst}`) continue;
        process.stderr.write(`--- ${p.log} (its last 40 lines)\n${readFileSync(p.log, 'utf8').split('\n').slice(-40).join('\n')}\n`);
      }
      throw new Error(`${e.message}; ${s.missing.length} missing (${[...perTarget].map(([t, n]) => `${t} ${n}`).join(', ')}), e.g. ${s.missing.slice(0, 5).join(', ')}`);
    });

    // A log-only reconciliation of everyone: what every target would still change.
    const verify = await sync(cfg, env.kafka, { all: true, logOnly: true, peopleDn: env.peopleDn });
    const check = await until('the verifying reconciliation\'s results', SETTLE_MS, async () => {
      const rs = (await decodedResults.update()).filter((r) => r.runId === verify.runId);
      return rs.length >= verify.published * WORLD_TARGETS.length && rs;
    });

    // Figures.
    const planted = new Set(seed.badRecords.map((b) => b.idautoId));
    const byTarget = Object.fromEntries(WORLD_TARGETS.map((t) => {
      const mine = check.filter((r) => r.target === t);
      const count = (o: ProvisioningResult['outcome']) => mine.filter((r) => r.outcome === o).length;
      return [t, {
        entitled: mine.filter((r) => r.entitled).length,
        // In place: nothing left to do for them (a course not in Moodle yet is reported as a skip, not a change).
        inPlace: mine.filter((r) => r.entitled && (r.outcome === 'UNCHANGED' || r.outcome === 'SKIPPED')).length,
        planned: count('PLANNED'), failed: count('FAILED'), skipped: count('SKIPPED'),
        // A planted record (a duplicate username or address) may stay unprovisioned; nobody else.
        notConverged: mine.filter((r) => (r.outcome === 'PLANNED' || r.outcome === 'FAILED') && !planted.has(r.personId))
          .map((r) => `${r.personId}: ${JSON.stringify(r.operations?.map((o) => [o.kind, o.detail, o.changes?.map((c) => c.attribute)]) ?? r.error?.message)}`),
      }];
    }));
    const creates: Record<string, { keys: number; twice: string[] }> = {};
    for (const [t, sim] of w.sims) {
      const m = sim.creates!();
      creates[t] = { keys: m.size, twice: [...m].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`) };
    }
    const adAccounts = await w.adAccounts();
    creates.ad = { keys: adAccounts.size, twice: [...adAccounts].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`) };
    const perEvent = new Map<string, number>();
    for (const r of await decodedResults.update()) if (!r.sourceEventId.startsWith('undecodable:')) perEvent.set(`${r.target}|${r.sourceEventId}`, (perEvent.get(`${r.target}|${r.sourceEventId}`) ?? 0) + 1);
    const twiceAnswered = [...perEvent].filter(([, n]) => n > 1).map(([k]) => k);
    const dlq: Record<string, { letters: number; unplanted: string[]; poison: boolean }> = {};
    for (const t of WORLD_TARGETS) {
      const { letters } = await readDeadLetters(env.kafka, t, undefined, cfg.kafka.prefix);
      dlq[t] = {
        letters: letters.length,
        unplanted: letters.filter((l) => !(planted.has(l.personId) || l.key === poisonKey || l.personId === poisonKey)).map((l) => `${l.personId}: ${l.error?.message}`),
        poison: letters.some((l) => (l.key === poisonKey || l.personId === poisonKey) && l.error?.code === 'undecodable'),
      };
      for (const l of letters) expect(l.error?.message, `${t} dead letter of ${l.personId}`).toBeTruthy();
    }
    const injected = Object.fromEntries([...w.sims].map(([t, s]) => [t, s.faults!.counts]));
    const restarts = [...w.roles.values()].map((r) => `${r.role}${r.replica ? `#${r.replica}` : ''} ×${r.starts}`);
    process.stdout.write([
      '',
      `fault suite: ${PEOPLE} people (seed ${SEED}), ${settled.evs.length} person.changed events + ${verify.published} verifying, ${((Date.now() - started) / 1000).toFixed(0)} s`,
      `  kills (SIGKILL, restarted): ${kills.join(', ') || 'none'}`,
      `  processes started: ${restarts.join(', ')}`,
      `  faults injected: ${WORLD_TARGETS.filter((t) => injected[t]).map((t) => `${t} ${JSON.stringify(injected[t])}`).join('; ')}`,
      `  planted bad records: ${planted.size} from the seed (${seed.badRecords.map((b) => b.kind).join(', ')}) + 1 message that is not an event`,
      '  target     entitled  in place  planned  failed  skipped  accounts  created twice  dead letters (unplanted)',
      ...WORLD_TARGETS.map((t) => `  ${t.padEnd(9)} ${String(byTarget[t]!.entitled).padStart(9)} ${String(byTarget[t]!.inPlace).padStart(9)} ${String(byTarget[t]!.planned).padStart(8)} ${String(byTarget[t]!.failed).padStart(7)} ${String(byTarget[t]!.skipped).padStart(8)} ${String(creates[t]!.keys).padStart(9)} ${String(creates[t]!.twice.length).padStart(14)} ${String(dlq[t]!.letters).padStart(13)} (${dlq[t]!.unplanted.length})`),
      `  events with more than one result in a target: ${twiceAnswered.length}; events without a result: ${settled.missing.length}`,
      '',
    ].join('\n'));

    for (const t of WORLD_TARGETS) {
      expect(byTarget[t]!.notConverged, `${t}: people a log-only reconciliation would still change`).toEqual([]);
      expect(byTarget[t]!.entitled, `${t}: entitled people`).toBeGreaterThan(0);
      expect(creates[t]!.twice, `${t}: people created twice`).toEqual([]);
      expect(dlq[t]!.unplanted, `${t}: dead letters of people that were not planted`).toEqual([]);
      expect(dlq[t]!.poison, `${t}: the message that is not an event, dead-lettered`).toBe(true);
    }
    expect(twiceAnswered).toEqual([]);
    expect(snapshot.published).toBe(PEOPLE);
    expect(kills.length).toBeGreaterThanOrEqual(Math.min(KILLS, 1));
  }, 60 * 60_000);

  // Security: what this run wrote, read back whole. The run had errors, retries, dead letters and
  // kills, and the people have national ids (the seed's synthetic fnr) that WISEflow is sent.
  it('leaves no password, token or national id in any log line, event, result, dead letter or error message', async () => {
    const { env, cfg } = w;
    const { searchEntries } = await env.admin.search(env.peopleDn, { scope: 'sub', filter: '(idautoPersonNationalID=*)', attributes: ['idautoPersonNationalID'] });
    const fnrs = searchEntries.flatMap((e) => [e.idautoPersonNationalID].flat().map(String));
    expect(fnrs.length).toBeGreaterThanOrEqual(PEOPLE - 1);
    const secrets = w.secrets;
    expect(secrets.every((x) => x.length >= 8)).toBe(true);
    const texts: { where: string; text: string }[] = [];
    for (const f of w.logs) texts.push({ where: f.split('/').at(-1)!, text: readFileSync(f, 'utf8') });
    const raw = (m: { value: Buffer | null }) => m.value?.toString('latin1') ?? '';
    for (const m of events.messages) texts.push({ where: 'person.changed (bytes)', text: raw(m) });
    for (const m of results.messages) texts.push({ where: 'provisioning.result (bytes)', text: raw(m) });
    for (const r of await decodeResults(env, results.messages)) texts.push({ where: `result of ${r.personId} in ${r.target}`, text: JSON.stringify(r) });
    for (const owner of [...WORLD_TARGETS, 'writeback']) {
      const { letters } = await readDeadLetters(env.kafka, owner, undefined, cfg.kafka.prefix);
      for (const l of letters) {
        texts.push({ where: `dead letter of ${l.personId} (${owner})`, text: JSON.stringify(l) });
        if (l.event) texts.push({ where: `dead letter of ${l.personId} (${owner}), its event`, text: Buffer.from(l.event, 'base64').toString('latin1') });
      }
    }
    const logLines = texts.filter((t) => t.where.endsWith('.stderr')).reduce((n, t) => n + t.text.split('\n').length, 0);
    expect(logLines).toBeGreaterThan(50);
    const found: string[] = [];
    // Every 11 digits in a row of any run of digits, looked up in a set: one pass over each text,
    // however many people (a search per national id took minutes at 5,000 people).
    const national = new Set(fnrs);
    for (const { where, text } of texts) {
      for (const x of secrets) if (text.includes(x)) found.push(`a secret in ${where}`);
      for (const run of text.match(/\d{11,}/g) ?? []) {
        for (let i = 0; i + 11 <= run.length; i++) {
          const f = run.slice(i, i + 11);
          if (national.has(f)) found.push(`national id ${f.slice(0, 2)}… in ${where}`);
        }
      }
    }
    process.stdout.write(`security: searched ${texts.length} texts (${logLines} log lines of ${w.logs.length} processes, ${events.messages.length} events, ${results.messages.length} results, dead letters) for ${secrets.length} secrets and ${fnrs.length} national ids: ${found.length} found\n`);
    expect(found).toEqual([]);
  }, 15 * 60_000);
});
