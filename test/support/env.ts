import { randomUUID } from 'node:crypto';
import { AlreadyExistsError, Attribute, Change, Client, InsufficientAccessError } from 'ldapts';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { loadConfig, readSecret, type Config } from '../../src/config.js';
import { ensureTopics, makeKafka } from '../../src/lib/kafka.js';
import { EventCodec } from '../../src/schemas/codec.js';
import type { PersonChanged, ProvisioningResult } from '../../src/schemas/generated.js';

/**
 * A test's own corner of the shared stack: its own topics, its own directory subtree
 * (ou=test-<id>,ou=Tests,dc=meta, see testsParent), its own MV schema name, so tests run beside
 * each other and beside a running demo.
 */
export interface TestEnv {
  id: string;
  cfg: Config;
  kafka: Kafka;
  peopleDn: string;
  admin: Client;
  codec: EventCodec;
  addPerson(p: Partial<TestPerson> & { id?: string }): Promise<TestPerson>;
  dn(id: string): string;
  modify(dn: string, attr: string, values: string[], op?: 'replace' | 'add' | 'delete'): Promise<void>;
  /** Adds people one after another in the background (a steady stream of changes) until stopped. */
  keepAdding(pauseMs: number): { people: string[]; stop(): Promise<string[]> };
  close(): Promise<void>;
}

export interface TestPerson {
  id: string;
  username: string;
  givenName: string;
  sn: string;
  mail: string;
  affiliation: string;
  extra: Record<string, string[]>;
}

let testsBase: Promise<string> | undefined;

/**
 * Where tests keep their people: ou=Tests beside the people base, which a running demo does not
 * watch, so its producer and writeback never act on them. A directory started from an older
 * configuration lets tilgang write status only under the people base (a write is tried on a probe
 * person): the tests stop there with what to do, rather than put their people under the people
 * base, where a running demo would publish and provision them.
 */
function testsParent(cfg: Config, admin: Client): Promise<string> {
  testsBase ??= (async () => {
    const tests = `ou=Tests,${cfg.directory.suffix}`;
    await admin.add(tests, { objectClass: ['top', 'organizationalUnit'], ou: 'Tests' }).catch((e: Error) => {
      if (!(e instanceof AlreadyExistsError)) throw e;
    });
    const probeId = `probe-${randomUUID()}`;
    const probe = `idautoID=${probeId},${tests}`;
    await admin.add(probe, { objectClass: ['idautoPerson', 'tilgangStatusHolder'], idautoID: probeId, cn: 'Probe', sn: 'Probe' });
    const tilgang = new Client({ url: cfg.directory.url });
    try {
      await tilgang.bind(cfg.directory.bindDn, readSecret(cfg.directory.password, 'directory.password'));
      await tilgang.modify(probe, new Change({ operation: 'replace', modification: new Attribute({ type: 'tilgangTargetStatus', values: ['probe'] }) }));
      return tests;
    } catch (e) {
      if (!(e instanceof InsufficientAccessError)) throw e;
      throw new Error(`the directory does not let ${cfg.directory.bindDn} write its status under ${tests}: it runs an older configuration; `
        + 'restart it (`tilgang stack down ldap && tilgang stack up ldap`) when no demo or test needs it');
    } finally {
      await tilgang.unbind().catch(() => {});
      await admin.del(probe).catch(() => {});
    }
  })();
  return testsBase;
}

export async function testEnv(name: string, overrides: (cfg: Config) => void = () => {}): Promise<TestEnv> {
  const id = `${name}-${randomUUID().slice(0, 8)}`;
  const base = loadConfig('tilgang.example.yaml');
  const admin = new Client({ url: base.directory.url });
  await admin.bind(base.directory.adminDn!, readSecret(base.directory.adminPassword!, 'admin'));
  const peopleDn = `ou=test-${id},${await testsParent(base, admin)}`;
  const cfg: Config = structuredClone(base);
  cfg.directory.peopleDn = peopleDn;
  cfg.kafka.partitions = 3;
  cfg.kafka.topics = {
    personChanged: `test.${id}.person.changed`,
    provisioningResult: `test.${id}.provisioning.result`,
    courseChanged: `test.${id}.course.changed`,
    producerState: `test.${id}.producer.state`,
  };
  cfg.runtime.stateSchema = `test_rt_${id.replace(/[^a-z0-9]/g, '_')}`;
  cfg.runtime.metricsPort = 0;
  cfg.runtime.instanceId = id;
  cfg.runtime.sessionTimeoutMs = 8000;
  overrides(cfg);
  await admin.add(peopleDn, { objectClass: ['organizationalUnit'], ou: `test-${id}` });
  const dn = (pid: string) => `idautoID=${pid},${peopleDn}`;
  const kafka = makeKafka(cfg, `test-${id}`);
  const ka = kafka.admin();
  await ka.connect();
  await ensureTopics(ka, [{ topic: cfg.kafka.topics.personChanged, partitions: cfg.kafka.partitions }, { topic: cfg.kafka.topics.provisioningResult, partitions: cfg.kafka.partitions }]);
  await ka.disconnect();
  let n = 0;
  const self: TestEnv = {
    id, cfg, kafka, peopleDn, admin, codec: new EventCodec(cfg.registry.url), dn,
    async addPerson(p) {
      n++;
      const person: TestPerson = {
        id: p.id ?? randomUUID(),
        username: p.username ?? `t${id.slice(-6).replace(/-/g, '')}${n}`.toLowerCase(),
        givenName: p.givenName ?? 'Åse Marit',
        sn: p.sn ?? `Ødegård-${n}`,
        mail: p.mail ?? `test${n}.${id}@uni.example.no`,
        affiliation: p.affiliation ?? 'student',
        extra: p.extra ?? {},
      };
      const attrs: Record<string, string | string[]> = {
        objectClass: ['idautoPerson', 'tilgangStatusHolder'],
        idautoID: person.id,
        cn: `${person.givenName} ${person.sn}`,
        sn: person.sn,
        givenName: person.givenName,
        idautoPersonUserNameMV: person.username,
        mail: person.mail,
        idautoPersonAffiliation: person.affiliation,
        idautoPersonAffiliations: person.affiliation,
        idautoPersonNationalID: '01810012345',
        ...person.extra,
      };
      for (const [k, v] of Object.entries(attrs)) if (Array.isArray(v) && v.length === 0) delete attrs[k];
      if (!person.givenName) delete attrs.givenName;
      if (!person.mail) delete attrs.mail;
      if (!person.username) delete attrs.idautoPersonUserNameMV;
      await admin.add(dn(person.id), attrs);
      return person;
    },
    keepAdding(pauseMs) {
      const people: string[] = [];
      let adding = true;
      const loop = (async () => {
        while (adding) {
          people.push((await self.addPerson({})).id);
          await sleep(pauseMs);
        }
      })();
      return { people, async stop() { adding = false; await loop; return people; } };
    },
    async modify(target, attr, values, op = 'replace') {
      await admin.modify(target, new Change({ operation: op, modification: new Attribute({ type: attr, values }) }));
    },
    async close() {
      const { searchEntries } = await admin.search(peopleDn, { scope: 'sub', filter: '(objectClass=*)', attributes: ['1.1'] }).catch(() => ({ searchEntries: [] as { dn: string }[] }));
      for (const e of searchEntries.sort((a, b) => b.dn.length - a.dn.length)) await admin.del(e.dn).catch(() => {});
      await admin.unbind().catch(() => {});
      await dropKafkaLeftovers(kafka, id);
    },
  };
  return self;
}

/**
 * Deletes the topics and consumer groups a test made (every name holds its id): a suite that
 * leaves thousands of partitions behind makes every later broker start slower.
 */
async function dropKafkaLeftovers(kafka: Kafka, id: string): Promise<void> {
  const ka = kafka.admin();
  try {
    await ka.connect();
    const topics = (await ka.listTopics()).filter((t) => t.includes(id));
    if (topics.length) await ka.deleteTopics({ topics, timeout: 10_000 });
    const groups = (await ka.listGroups()).groups.map((g) => g.groupId).filter((g) => g.includes(id));
    if (groups.length) await ka.deleteGroups(groups);
  } catch {
    // Best effort: a broker that is away (a disruptive test) leaves them for the next run.
  } finally {
    await ka.disconnect().catch(() => {});
  }
}

/** Reads a topic (read_committed) until `done` says enough or the time is up; returns every message seen. */
export async function collect(kafka: Kafka, topic: string, done: (msgs: KafkaMessage[]) => boolean, timeoutMs = 30_000): Promise<KafkaMessage[]> {
  const msgs: KafkaMessage[] = [];
  const consumer = kafka.consumer({ groupId: `test-collect-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      consumer.run({ eachMessage: async ({ message }) => {
        msgs.push(message);
        if (done(msgs)) { clearTimeout(timer); resolve(); }
      } });
    });
  } finally {
    await consumer.disconnect();
  }
  return msgs;
}

export async function decodeEvents(env: TestEnv, msgs: KafkaMessage[]): Promise<PersonChanged[]> {
  return Promise.all(msgs.map((m) => env.codec.decode('PersonChanged', m.value!)));
}

export async function decodeResults(env: TestEnv, msgs: KafkaMessage[]): Promise<ProvisioningResult[]> {
  return Promise.all(msgs.map((m) => env.codec.decode('ProvisioningResult', m.value!)));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function eventually<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** A consumer that keeps reading a topic in the background (read_committed) while a test acts. */
export class Collector {
  readonly messages: KafkaMessage[] = [];
  private consumer;
  constructor(kafka: Kafka, private readonly topic: string) {
    this.consumer = kafka.consumer({ groupId: `test-collector-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 50 });
  }
  async start(): Promise<this> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({ eachMessage: async ({ message }) => { this.messages.push(message); } });
    return this;
  }
  async until(pred: (msgs: KafkaMessage[]) => boolean, timeoutMs = 30_000, what = 'messages'): Promise<KafkaMessage[]> {
    await eventually(async () => pred(this.messages), timeoutMs, `${what} on ${this.topic} (have ${this.messages.length})`);
    return this.messages;
  }
  async stop(): Promise<void> {
    await this.consumer.disconnect().catch(() => {});
  }
}
