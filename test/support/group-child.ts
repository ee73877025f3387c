// A target group in its own process that kills itself after applying, before committing results and offsets.
import { makeKafka } from '../../src/lib/kafka.js';
import { TargetGroup } from '../../src/consumers/target-group.js';
import type { Config } from '../../src/config.js';
import { pgTarget } from './pg-target.js';

const cfg = JSON.parse(process.env.TILGANG_TEST_CONFIG!) as Config;
const g = new TargetGroup(cfg, makeKafka(cfg), pgTarget, {
  groupId: process.env.TILGANG_TEST_GROUP!,
  topics: { dlq: `${process.env.TILGANG_TEST_GROUP!}.dlq` },
  beforeCommit: async () => {
    process.stdout.write('applied\n');
    process.kill(process.pid, 'SIGKILL');
  },
});
await g.start();
process.stdout.write('started\n');
