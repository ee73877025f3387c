import { resolvedSecrets, type Config } from '../config.js';
import { A } from '../directory/attributes.js';
import { Directory, first } from '../directory/client.js';
import { child } from '../lib/log.js';
import { MvReader } from '../mv/person.js';
import { findOnePerson, type KeyField } from '../producers/sync.js';
import { newRunId, runEvent } from '../producers/publisher.js';
import type { ProvisioningResult } from '../schemas/generated.js';
import { MassChangeGuard } from './guard.js';
import { prepare } from './reconcile.js';
import { TargetGroup } from './target-group.js';
import type { AnyTarget } from '../spi/index.js';

/**
 * `tilgang explain`: what each target would do for one person right now, computed exactly as a
 * log-only run computes it (read, plan) but printed here instead of published. Changes nothing.
 */
export async function explain(cfg: Config, targets: AnyTarget[], keyField: KeyField, keyValue: string): Promise<{ personId: string; username?: string; results: ProvisioningResult[] }> {
  const dir = await Directory.connect(cfg);
  const mv = MvReader.fromConfig(cfg.mv, { max: 2 });
  try {
    const found = await findOnePerson(dir, keyField, keyValue, [A.id, A.usernames]);
    const personId = first(found, A.id)!;
    const event = runEvent(personId, { runId: newRunId(), mode: 'REPROCESS', logOnly: true, targets: null, source: 'explain' });
    const results: ProvisioningResult[] = [];
    for (const target of targets) {
      const ctx = { config: TargetGroup.targetConfig(cfg, target), global: cfg, log: child({ component: 'explain', target: target.name }) };
      const client = await target.connect(ctx);
      try {
        const p = await prepare(event, {
          target, ctx, client, directory: dir, mv, guard: new MassChangeGuard(mv.pool, cfg.runtime.stateSchema),
          guardSettings: { maxOperations: 0, maxShare: 0, minAccounts: 0, windowMinutes: 1 }, totalAccounts: async () => 0,
          sensitive: cfg.directory.sensitive, secrets: resolvedSecrets(),
        });
        // A log-only event never reaches apply: prepare decides it (PLANNED, UNCHANGED, SKIPPED or FAILED).
        if (p.kind === 'done') results.push(p.result);
      } finally {
        await target.close?.(client);
      }
    }
    return { personId, username: first(found, A.usernames), results };
  } finally {
    await mv.close();
    await dir.close();
  }
}

export function formatExplain(x: Awaited<ReturnType<typeof explain>>): string {
  const lines = [`person ${x.personId}${x.username ? ` (${x.username})` : ''}`];
  for (const r of x.results) {
    const why = r.skipReason ? `: ${r.skipReason}` : r.error ? `: ${r.error.code}: ${r.error.message}` : '';
    lines.push(`  ${r.target}: ${r.outcome === 'PLANNED' ? 'would change' : r.outcome.toLowerCase()}${r.entitled === null ? '' : r.entitled ? ' (entitled)' : ' (not entitled)'}${why}`);
    for (const op of r.operations ?? []) {
      lines.push(`    ${op.kind}${op.detail ? `  ${op.detail}` : ''}`);
      for (const c of op.changes ?? []) lines.push(`      ${c.attribute}: ${c.from ?? '∅'} → ${c.to ?? '∅'}`);
    }
  }
  return lines.join('\n');
}
