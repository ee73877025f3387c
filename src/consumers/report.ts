import type { Kafka } from 'kafkajs';
import { readToEnd } from '../lib/read-to-end.js';
import type { RegistrySettings } from '../lib/tls.js';
import { EventCodec } from '../schemas/codec.js';
import type { ProvisioningResult } from '../schemas/generated.js';
import { CORE_KIND_COUNTER } from '../spi/operations.js';

/** The seed's counters, in the seed's order; target-specific ones follow. */
export const SEED_COUNTERS = ['total', 'skipped', 'unchanged', 'add', 'addFail', 'update', 'updateFail', 'rename', 'renameFail',
  'move', 'moveFail', 'enable', 'enableFail', 'disable', 'disableFail'] as const;


export type Counters = Record<string, number>;

/**
 * Pure: counters per target from result events. One result is one person ("total"); a person
 * whose update and enable both happened counts in both, as the seed's jobs counted operations.
 */
export function countResults(results: ProvisioningResult[]): Map<string, Counters> {
  const out = new Map<string, Counters>();
  for (const r of results) {
    let c = out.get(r.target);
    if (!c) out.set(r.target, (c = Object.fromEntries(SEED_COUNTERS.map((k) => [k, 0]))));
    const inc = (k: string, n = 1) => { c![k] = (c![k] ?? 0) + n; };
    inc('total');
    if (r.outcome === 'SKIPPED') inc('skipped');
    if (r.outcome === 'UNCHANGED') inc('unchanged');
    if (r.outcome === 'PLANNED') inc('planned');
    if (r.outcome === 'HELD') inc('held');
    if (r.outcome === 'FAILED' && !(r.operations ?? []).length) inc('failed');
    for (const op of r.operations ?? []) {
      const name = (CORE_KIND_COUNTER as Record<string, string>)[op.kind];
      if (!name || op.outcome === 'PLANNED' || op.outcome === 'HELD' || op.outcome === 'SKIPPED') continue;
      inc(op.outcome === 'FAILED' ? `${name}Fail` : name);
    }
    for (const [k, v] of Object.entries(r.counters ?? {})) inc(k, v);
  }
  return out;
}

export async function readRunResults(kafka: Kafka, registry: string | RegistrySettings, topic: string, runId: string): Promise<ProvisioningResult[]> {
  const codec = new EventCodec(registry);
  const raw: Buffer[] = [];
  // Filter on the bytes' run id before decoding: a report over a long topic decodes only its run.
  await readToEnd(kafka, topic, (m) => { if (m.value && m.value.includes(runId)) raw.push(m.value); });
  const decoded = await Promise.all(raw.map((b) => codec.decode('ProvisioningResult', b)));
  return decoded.filter((r) => r.runId === runId);
}

export function formatReport(runId: string, counters: Map<string, Counters>): string {
  if (!counters.size) return `run ${runId}: no results yet`;
  const lines = [`run ${runId}`];
  for (const [target, c] of [...counters].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`  ${target}`);
    const keys = [...SEED_COUNTERS, ...Object.keys(c).filter((k) => !(SEED_COUNTERS as readonly string[]).includes(k)).sort()];
    for (const k of keys) lines.push(`    ${k.padEnd(22)} ${String(c[k] ?? 0).padStart(8)}`);
  }
  return lines.join('\n');
}
