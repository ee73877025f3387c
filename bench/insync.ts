/**
 * Brings people in sync in a target by the target's own read, plan and apply, run here without
 * Kafka: what a full reconciliation would do, as a benchmark's setup (its time is not measured).
 * Waves of 500 people as the runtime reads them; transient failures (an OU another person's apply
 * made meanwhile) are read and planned again.
 */
import type { Config } from '../src/config.js';
import { MassChangeGuard } from '../src/consumers/guard.js';
import { prepareWave, type Prepared, type ReconcileDeps } from '../src/consumers/reconcile.js';
import { guardSettingsFor, TargetGroup } from '../src/consumers/target-group.js';
import { Directory } from '../src/directory/client.js';
import { chunks, mapLimit } from '../src/lib/concurrency.js';
import { child as childLogger } from '../src/lib/log.js';
import { MvReader } from '../src/mv/person.js';
import { newRunId, runEvent } from '../src/producers/publisher.js';
import type { PersonChanged } from '../src/schemas/generated.js';
import { isTransient, type AnyTarget, type TargetContext } from '../src/spi/index.js';

const ATTEMPTS = 6;

/** Outcomes by name (APPLIED, UNCHANGED, SKIPPED, FAILED, `error: …`). */
export async function bringInSync(cfg: Config, target: AnyTarget, people: string[]): Promise<Record<string, number>> {
  const config = TargetGroup.targetConfig(cfg, target);
  const ctx: TargetContext<any> = { config, global: cfg, log: childLogger({ component: 'bench', target: target.name }) };
  const client = await target.connect(ctx);
  const directory = await Directory.connect(cfg);
  const mv = MvReader.fromConfig(cfg.mv);
  const deps: ReconcileDeps = {
    target, ctx, client, directory, mv, guard: new MassChangeGuard(mv.pool, cfg.runtime.stateSchema), guardSettings: guardSettingsFor(cfg, target.name),
    totalAccounts: async () => 0, sensitive: cfg.directory.sensitive, secrets: [],
  };
  const runId = newRunId();
  const outcomes: Record<string, number> = {};
  const count = (k: string) => { outcomes[k] = (outcomes[k] ?? 0) + 1; };
  const failure = (e: unknown) => count(`error: ${(e as Error).message.slice(0, 100)}`);
  try {
    for (const chunk of chunks(people, 500)) {
      let pending: PersonChanged[] = chunk.map((id) => runEvent(id, { runId, mode: 'SNAPSHOT', logOnly: false, targets: null, source: 'bench' }));
      for (let attempt = 1; pending.length; attempt++) {
        const again: PersonChanged[] = [];
        const retry = (e: PersonChanged, err: unknown) => (isTransient(err) && attempt < ATTEMPTS ? again.push(e) : failure(err));
        const prepared = await prepareWave(pending, deps);
        const apply: Extract<Prepared, { kind: 'apply' }>[] = [];
        prepared.forEach((r, i) => {
          if ('err' in r) retry(pending[i]!, r.err);
          else if (r.p.kind === 'done') count(r.p.result.outcome);
          else apply.push(r.p);
        });
        const applied: ({ ok: { outcome: string }[] } | { err: unknown })[] = target.applyBatch
          ? await target.applyBatch(apply.map((p) => ({ person: p.person, desired: p.desired, actual: p.actual, plan: p.plan })), client, ctx)
            .then((rs) => rs.map((ok) => ({ ok })), (err: unknown) => apply.map(() => ({ err })))
          : await mapLimit(apply, cfg.runtime.concurrency, (p) => target.apply(p.plan, client, ctx, p.person).then((ok) => ({ ok }), (err: unknown) => ({ err })));
        applied.forEach((a, i) => {
          if ('err' in a) retry(apply[i]!.event as PersonChanged, a.err);
          else count(a.ok.some((o) => o.outcome === 'FAILED') ? 'FAILED' : 'APPLIED');
        });
        pending = again;
      }
    }
  } finally {
    await target.close?.(client);
    await directory.close();
    await mv.close();
  }
  return outcomes;
}

export const show = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
