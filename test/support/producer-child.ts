// A producer in its own process, so a test can kill -9 it at any moment (between a transaction's sends and its commit, or anywhere).
import { makeKafka } from '../../src/lib/kafka.js';
import { ChangelogProducer } from '../../src/producers/changelog-producer.js';
import type { Config } from '../../src/config.js';

const cfg = JSON.parse(process.env.TILGANG_TEST_CONFIG!) as Config;
const pauseMs = Number(process.env.TILGANG_TEST_PAUSE_MS ?? 0);
const p = new ChangelogProducer(cfg, makeKafka(cfg), {
  name: process.env.TILGANG_TEST_PRODUCER!, pageSize: Number(process.env.TILGANG_TEST_PAGE_SIZE ?? 5), pollMs: 20,
  inTransaction: async () => {
    process.stdout.write('in-transaction\n');
    if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
  },
});
await p.start();
process.stdout.write('started\n');
