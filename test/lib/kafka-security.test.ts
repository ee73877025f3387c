import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { WRITEBACK, dlqTopic } from '../../src/consumers/dlq.js';
import { ensureTopicsOn, makeKafka } from '../../src/lib/kafka.js';
import { dir } from '../../src/stack/process.js';
import { cliConfig, tilgangCli } from '../support/cli.js';
import { collect } from '../support/env.js';
import { startScramKafka, type ScramKafka } from '../support/tls-servers.js';

// Kafka with TLS and SASL/SCRAM for real: a broker of this test's own (the local stack's jars) whose
// only listener is SASL_SSL with SCRAM-SHA-512 and -256. tilgang's client, built from kafka.ssl and
// kafka.sasl, creates topics, commits a transaction and reads it back; the command line does the same
// from a configuration file; a wrong password or a missing authority is refused.
describe('Kafka over SASL_SSL with SCRAM (a broker of the test\'s own)', () => {
  let k: ScramKafka;
  let base: Config;

  beforeAll(async () => {
    k = await startScramKafka(join(dir('kafka'), 'lib'));
    base = loadConfig('tilgang.example.yaml');
    process.env.TILGANG_TEST_SCRAM_512 = k.users['scram-sha-512'].password;
    process.env.TILGANG_TEST_SCRAM_256 = k.users['scram-sha-256'].password;
  }, 180_000);

  afterAll(async () => {
    await k?.stop();
  });

  const cfgWith = (kafka: Partial<Config['kafka']>): Config => {
    const cfg = structuredClone(base);
    cfg.kafka = { ...cfg.kafka, brokers: [k.broker], ...kafka };
    return cfg;
  };
  const ssl = () => ({ caFile: k.certs.caFile, verifyHostname: true });

  for (const mechanism of ['scram-sha-512', 'scram-sha-256'] as const) {
    it(`${mechanism}: creates a topic, commits a transaction and reads it back`, async () => {
      const password = { env: mechanism === 'scram-sha-512' ? 'TILGANG_TEST_SCRAM_512' : 'TILGANG_TEST_SCRAM_256' };
      const cfg = cfgWith({ ssl: ssl(), sasl: { mechanism, username: k.users[mechanism].username, password } });
      const kafka = makeKafka(cfg, `test-scram-${mechanism}`);
      const topic = `test.scram.${randomUUID()}`;
      await ensureTopicsOn(kafka, [{ topic, partitions: 2 }]);
      const producer = kafka.producer({ transactionalId: `test.scram.${randomUUID()}`, idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      try {
        const t = await producer.transaction();
        await t.send({ topic, messages: [{ key: 'a', value: 'one' }, { key: 'b', value: 'two' }] });
        await t.commit();
      } finally {
        await producer.disconnect();
      }
      const read = await collect(kafka, topic, (msgs) => msgs.length >= 2, 60_000);
      expect(read.map((m) => m.value!.toString()).sort()).toEqual(['one', 'two']);
    }, 120_000);
  }

  it('the command line, configured from a file with kafka.ssl and kafka.sasl, reads a topic through the broker', async () => {
    const cfg = cfgWith({ ssl: ssl(), sasl: { mechanism: 'scram-sha-512', username: k.users['scram-sha-512'].username, password: { env: 'TILGANG_TEST_SCRAM_512' } } });
    await ensureTopicsOn(makeKafka(cfg, 'test-scram-cli'), [{ topic: dlqTopic(WRITEBACK), partitions: 1 }]);
    const r = await tilgangCli(cliConfig(cfg), ['dlq', 'list', WRITEBACK], { TILGANG_TEST_SCRAM_512: process.env.TILGANG_TEST_SCRAM_512! });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${dlqTopic(WRITEBACK)}: empty\n`);
    expect(r.code).toBe(0);
  }, 120_000);

  it('a wrong password is refused by the broker', async () => {
    process.env.TILGANG_TEST_SCRAM_WRONG = 'not-the-password';
    const cfg = cfgWith({ ssl: ssl(), sasl: { mechanism: 'scram-sha-512', username: k.users['scram-sha-512'].username, password: { env: 'TILGANG_TEST_SCRAM_WRONG' } } });
    const admin = makeKafka(cfg, 'test-scram-wrong').admin();
    await expect(admin.connect()).rejects.toThrow(/SASL|authentication/i);
    await admin.disconnect().catch(() => {});
  }, 120_000);

  it('an authority that did not sign the broker\'s certificate is refused', async () => {
    const cfg = cfgWith({ ssl: { caFile: k.certs.otherCaFile, verifyHostname: true }, sasl: { mechanism: 'scram-sha-512', username: k.users['scram-sha-512'].username, password: { env: 'TILGANG_TEST_SCRAM_512' } } });
    const admin = makeKafka(cfg, 'test-scram-ca').admin();
    await expect(admin.connect()).rejects.toThrow(/certificate/i);
    await admin.disconnect().catch(() => {});
  }, 120_000);
});
