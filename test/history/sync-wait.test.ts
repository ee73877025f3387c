import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetGroup } from '../../src/consumers/target-group.js';
import { ResultsRecorder } from '../../src/history/recorder.js';
import { target as ad } from '../../src/targets/ad/index.js';
import { testEnv, type TestEnv } from '../support/env.js';
import { cliConfig, tilgangCli } from '../support/cli.js';

/**
 * `tilgang sync --all --wait` as a user runs it, against a group of the real AD target (Samba) and
 * the results store, both in this process: log-only, so the domain is only read.
 */
describe('tilgang sync --all --wait', () => {
  let env: TestEnv;
  let group: TargetGroup;
  let recorder: ResultsRecorder;

  beforeAll(async () => {
    env = await testEnv('syncwait', (cfg) => { cfg.history.groupId = `tilgang.history.${cfg.runtime.instanceId}`; });
    // AD alone is enabled: the run addresses it only.
    for (const [name, block] of Object.entries(env.cfg.targets)) if (name !== 'ad') env.cfg.targets[name] = { ...(block as object), enabled: false };
    group = new TargetGroup(env.cfg, env.kafka, ad, { groupId: `tilgang.ad.${env.id}`, topics: { dlq: `test.${env.id}.ad.dlq` } });
    await group.start();
    recorder = new ResultsRecorder(env.cfg, env.kafka);
    await recorder.start();
  }, 180_000);

  afterAll(async () => {
    await group?.stop();
    await recorder?.stop();
    await env?.close();
  });

  it('follows the results as they arrive, then prints the report of the finished run', async () => {
    for (let i = 0; i < 3; i++) await env.addPerson({ affiliation: 'employee' });
    const r = await tilgangCli(cliConfig(env.cfg, () => {}), ['sync', '--all', '--log-only', '--wait']);
    expect(r.code).toBe(0);
    const runId = /^run (run-\S+): 3 SNAPSHOT event\(s\) published \(log only\)$/m.exec(r.stdout)?.[1];
    expect(runId).toBeTruthy();
    // Not a terminal: a progress line on stderr, then the report on stdout.
    expect(r.stderr).toMatch(/ad \d\/3 \(\d+\.\d\/s/);
    expect(r.stdout).toContain(`run ${runId} (snapshot, cli, log only): 3 event(s) published`);
    expect(r.stdout).toMatch(/; DONE\n/);
    expect(r.stdout).toMatch(/ ad +3\/3 result\(s\); done/);
    expect(r.stdout).toMatch(/ total +3\n/);
  }, 180_000);
});
