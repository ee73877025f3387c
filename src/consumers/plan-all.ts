import cliProgress from 'cli-progress';
import { resolvedSecrets, type Config } from '../config.js';
import { Directory } from '../directory/client.js';
import { child } from '../lib/log.js';
import { MvReader } from '../mv/person.js';
import { newRunId, runEvent } from '../producers/publisher.js';
import type { ProvisioningResult } from '../schemas/generated.js';
import { PERSON_STREAM, type AnyTarget } from '../spi/index.js';
import { errorInfo, prepareWave, type ReconcileDeps } from './reconcile.js';
import { MassChangeGuard } from './guard.js';
import { TargetGroup } from './target-group.js';

/** One person's preview for one target: what would happen, and the operations. */
export interface PlannedChange {
  personId: string;
  outcome: ProvisioningResult['outcome'];
  operations: { kind: string; detail: string | null; changes: { attribute: string; from?: string | null; to?: string | null }[] }[];
  reason: string | null;
}

export interface TargetPlan {
  target: string;
  people: number;
  /** By outcome: PLANNED (would change), UNCHANGED, SKIPPED, FAILED (cannot be planned: the reason is in the list). */
  outcomes: Record<string, number>;
  /** By operation kind: create, update, disable, ... */
  operations: Record<string, number>;
  /** Everyone who would change, was skipped or failed (the unchanged are only counted). */
  changes: PlannedChange[];
}

/**
 * `tilgang plan --all`: what every enabled target would do for every person now, computed as a
 * log-only run computes it (each wave of people read at once, desired, actual, plan) but kept
 * here: nothing is published, applied or counted by the guard. The whole population's preview.
 */
export async function planAll(cfg: Config, targets: AnyTarget[], o: { waveSize?: number; progress?: boolean; peopleDn?: string; limit?: number } = {}): Promise<TargetPlan[]> {
  const dir = await Directory.connect(cfg, { peopleDn: o.peopleDn });
  const mv = MvReader.fromConfig(cfg.mv, { max: 4 });
  const waveSize = o.waveSize ?? 200;
  const runId = newRunId();
  try {
    const ids: string[] = [];
    for await (const page of dir.personIds(1000)) {
      ids.push(...page);
      if (o.limit && ids.length >= o.limit) break;
    }
    if (o.limit) ids.splice(o.limit);
    const multi = o.progress ? new cliProgress.MultiBar({ format: '{target} [{bar}] {value}/{total} people  {eta_formatted}', hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
    const out: TargetPlan[] = [];
    try {
      for (const target of targets.filter((t) => (t.stream ?? PERSON_STREAM) === PERSON_STREAM)) {
        const ctx = { config: TargetGroup.targetConfig(cfg, target), global: cfg, log: child({ component: 'plan', target: target.name }) };
        const client = await target.connect(ctx);
        const deps: ReconcileDeps = {
          // Log-only events never reach the guard: it is there because the type wants one.
          target, ctx, client, directory: dir, mv, guard: new MassChangeGuard(mv.pool, cfg.runtime.stateSchema),
          guardSettings: { maxOperations: 0, maxShare: 0, minAccounts: 0, windowMinutes: 1 }, totalAccounts: async () => 0,
          sensitive: cfg.directory.sensitive, secrets: resolvedSecrets(),
        };
        const plan: TargetPlan = { target: target.name, people: ids.length, outcomes: {}, operations: {}, changes: [] };
        out.push(plan);
        const bar = multi?.create(ids.length, 0, { target: target.name.padEnd(10) });
        try {
          for (let i = 0; i < ids.length; i += waveSize) {
            const wave = ids.slice(i, i + waveSize);
            const events = wave.map((id) => runEvent(id, { runId, mode: 'REPROCESS', logOnly: true, targets: [target.name], source: 'plan' }));
            const outcomes = await prepareWave(events, deps);
            outcomes.forEach((x, k) => {
              const personId = wave[k]!;
              let r: PlannedChange;
              if ('err' in x) {
                const e = errorInfo(x.err, deps.secrets);
                r = { personId, outcome: 'FAILED', operations: [], reason: `${e.code}: ${e.message}` };
              } else if (x.p.kind === 'done') {
                const res = x.p.result;
                r = {
                  personId, outcome: res.outcome, reason: res.skipReason ?? (res.error ? `${res.error.code}: ${res.error.message}` : null),
                  operations: (res.operations ?? []).map((op) => ({ kind: op.kind, detail: op.detail ?? null, changes: op.changes ?? [] })),
                };
              } else {
                // A log-only event is decided before apply; a plan to apply here would be a bug, and is shown, not applied.
                r = { personId, outcome: 'PLANNED', reason: null, operations: x.p.plan.operations.map((op) => ({ kind: op.kind, detail: op.detail ?? null, changes: [] })) };
              }
              plan.outcomes[r.outcome] = (plan.outcomes[r.outcome] ?? 0) + 1;
              for (const op of r.operations) plan.operations[op.kind] = (plan.operations[op.kind] ?? 0) + 1;
              if (r.outcome !== 'UNCHANGED') plan.changes.push(r);
            });
            bar?.update(Math.min(i + waveSize, ids.length));
          }
        } finally {
          await target.close?.(client);
        }
      }
    } finally {
      multi?.stop();
    }
    return out;
  } finally {
    await mv.close();
    await dir.close();
  }
}

export function formatPlanAll(plans: TargetPlan[], o: { list?: number } = {}): string {
  const lines: string[] = [];
  const max = o.list ?? 50;
  for (const p of plans) {
    const outcomes = Object.entries(p.outcomes).sort().map(([k, v]) => `${k === 'PLANNED' ? 'would change' : k.toLowerCase()} ${v}`).join(', ');
    const ops = Object.entries(p.operations).sort().map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
    lines.push(`${p.target}: ${p.people} people; ${outcomes || 'nobody'}`, `  operations: ${ops}`);
    for (const c of p.changes.slice(0, max)) {
      const what = c.operations.map((op) => `${op.kind}${op.changes.length ? ` (${op.changes.map((x) => x.attribute).join(', ')})` : ''}`).join(', ');
      lines.push(`  ${c.personId}  ${c.outcome === 'PLANNED' ? what : `${c.outcome.toLowerCase()}${c.reason ? `: ${c.reason}` : ''}`}`);
    }
    if (p.changes.length > max) lines.push(`  ... and ${p.changes.length - max} more (--list N, or --json for all)`);
  }
  return lines.join('\n');
}
