import type { Config } from '../config.js';
import { A } from '../directory/attributes.js';
import { Directory, first } from '../directory/client.js';
import { findOnePerson, type KeyField } from '../producers/sync.js';
import { HistoryStore, type HistoryRow } from './store.js';

/** `--since`: an ISO time, or a duration back from now (`90m`, `12h`, `7d`, `2w`). */
export function parseSince(v: string, now = Date.now()): Date {
  const d = /^(\d+)\s*(m|h|d|w)$/.exec(v.trim());
  if (d) return new Date(now - Number(d[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[d[2] as 'm' | 'h' | 'd' | 'w']);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new Error(`${JSON.stringify(v)} is neither an ISO time (2026-01-31T08:00:00Z) nor a duration (90m, 12h, 7d, 2w)`);
  return new Date(t);
}

export interface PersonHistory {
  personId: string;
  username?: string;
  /** False when the key is an idautoID the directory no longer has (the history outlives the person). */
  inDirectory: boolean;
  results: HistoryRow[];
}

/**
 * One person's results, newest first. The key is looked up in the directory; an idautoID is
 * also taken as it is when the directory no longer has the person.
 */
export async function personHistory(cfg: Config, store: HistoryStore, keyField: KeyField, keyValue: string, q: { target?: string; since?: Date; limit?: number } = {}): Promise<PersonHistory> {
  const dir = await Directory.connect(cfg);
  let personId: string;
  let username: string | undefined;
  let inDirectory = true;
  try {
    try {
      const found = await findOnePerson(dir, keyField, keyValue, [A.id, A.usernames]);
      personId = first(found, A.id)!;
      username = first(found, A.usernames);
    } catch (e) {
      if (!(keyField === 'idautoID' || keyField === 'uhid') || !/^no person/.test((e as Error).message)) throw e;
      personId = keyValue;
      inDirectory = false;
    }
  } finally {
    await dir.close();
  }
  await store.ensure();
  return { personId, username, inDirectory, results: await store.history({ personId, ...q }) };
}

/** One line per result: when, target, outcome, run, why; the operations below it. */
export function formatHistory(h: PersonHistory): string {
  const lines = [`person ${h.personId}${h.username ? ` (${h.username})` : ''}${h.inDirectory ? '' : ' (no longer in the directory)'}: ${h.results.length} result(s)`];
  for (const r of h.results) {
    const why = r.skipReason ? `  ${r.skipReason}` : r.error ? `  ${r.error.code}: ${r.error.message}` : '';
    const run = r.runId ? `run ${r.runId}` : 'live change';
    const flags = [r.mode && r.mode !== 'LIVE' ? r.mode.toLowerCase() : '', r.logOnly ? 'log only' : '', r.coalescedInto ? `done by event ${r.coalescedInto}` : ''].filter(Boolean).join(', ');
    lines.push(`${new Date(r.processedAt).toISOString()}  ${r.target.padEnd(9)} ${r.outcome.padEnd(9)} ${run}${flags ? ` (${flags})` : ''}${why}`);
    for (const op of r.operations ?? []) {
      const changes = (op.changes ?? []).map((c) => `${c.attribute}: ${c.from ?? '∅'} → ${c.to ?? '∅'}`).join('; ');
      lines.push(`    ${op.kind} ${op.outcome.toLowerCase()}${op.detail ? `  ${op.detail}` : ''}${changes ? `  ${changes}` : ''}${op.error ? `  error: ${op.error}` : ''}`);
    }
  }
  return lines.join('\n');
}
