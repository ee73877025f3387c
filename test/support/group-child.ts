// A target group in its own process, for tests that kill, stall or stop a worker.
//   TILGANG_TEST_MODE=crash (default): kills itself after applying, before committing results and offsets.
//   TILGANG_TEST_MODE=stall: after its first applied effect, every apply waits for a line on stdin
//     (the test stops the process meanwhile, so it misses its heartbeats), then commits as if nothing happened.
//   TILGANG_TEST_MODE=slow-retry: a transient failure asks for a retry a minute later (Retry-After), so a
//     stop arrives while the worker waits to retry.
//   TILGANG_TEST_MODE=plain: an ordinary worker.
// Prints 'started', 'applied', 'committed <partition>' and 'refused <partition>' on stdout.
import { createInterface } from 'node:readline';
import { makeKafka } from '../../src/lib/kafka.js';
import { TargetGroup } from '../../src/consumers/target-group.js';
import type { Config } from '../../src/config.js';
import { TransientError, type AnyTarget } from '../../src/spi/index.js';
import { pgTarget } from './pg-target.js';

const cfg = JSON.parse(process.env.TILGANG_TEST_CONFIG!) as Config;
const mode = process.env.TILGANG_TEST_MODE ?? 'crash';
const say = (line: string) => process.stdout.write(`${line}\n`);

let target: AnyTarget = pgTarget;
if (mode === 'stall') {
  const go = new Promise<void>((resolve) => createInterface({ input: process.stdin }).once('line', () => resolve()));
  let told = false;
  target = {
    ...pgTarget,
    async apply(plan, client, ctx, person) {
      const out = await pgTarget.apply(plan, client, ctx, person);
      if (!told) { told = true; say('applied'); }
      await go;
      return out;
    },
  };
}

if (mode === 'slow-retry') {
  target = {
    ...pgTarget,
    async apply(plan, client, ctx, person) {
      try {
        return await pgTarget.apply(plan, client, ctx, person);
      } catch (e) {
        if (e instanceof TransientError) throw new TransientError(e.message, e.code, 60_000);
        throw e;
      }
    },
  };
}

const g = new TargetGroup(cfg, makeKafka(cfg), target, {
  groupId: process.env.TILGANG_TEST_GROUP!,
  topics: { dlq: `${process.env.TILGANG_TEST_GROUP!}.dlq` },
  beforeCommit: mode === 'crash' ? async () => {
    say('applied');
    process.kill(process.pid, 'SIGKILL');
  } : undefined,
  afterCommit: (partition, err) => say(`${err ? 'refused' : 'committed'} ${partition}${err ? ` ${err.message}` : ''}`),
});
await g.start();
say('started');
// Exit 0 when everything taken in was committed, 3 when events in flight were left for the next owner.
process.once('SIGTERM', () => {
  g.stop().then(({ unfinished, outage }) => {
    say(`stopped unfinished=${unfinished}${outage ? ' outage' : ''}`);
    process.exit(unfinished || outage ? 3 : 0);
  }, () => process.exit(1));
});
