import { resolvedSecrets, type Config } from '../config.js';
import { A } from '../directory/attributes.js';
import { Directory, first } from '../directory/client.js';
import { child } from '../lib/log.js';
import { scrubMessage } from '../lib/redact.js';
import { MvReader } from '../mv/person.js';
import { KEY_FIELDS, type KeyField } from '../producers/sync.js';
import { newRunId, runEvent } from '../producers/publisher.js';
import type { ProvisioningResult } from '../schemas/generated.js';
import { PERSON_STREAM, type AnyTarget, type PersonContext, type PersonRecord } from '../spi/index.js';
import { personStream } from '../streams/person.js';
import { entitlementDecision, type EntitlementDecision } from './entitlement.js';
import { MassChangeGuard } from './guard.js';
import { baseResult, failedResult, planned, type ReconcileDeps } from './reconcile.js';
import { TargetGroup } from './target-group.js';

/** What one target would do for the person now, and why. */
export interface TargetExplanation {
  target: string;
  /** The entitlement decision with the rule that matched or why none did; null when the record was not read (skipped before). */
  entitlement: EntitlementDecision | null;
  /** The result a log-only run would publish now: PLANNED (would change), UNCHANGED, SKIPPED, FAILED. */
  result: ProvisioningResult;
  /** The account the person should have (null: none), and the account the target holds, sensitive values redacted. */
  desired: unknown;
  actual: unknown;
  /** The MV data the target was given (its facets). */
  mv: unknown;
  /** The last results the results store holds for the person and target, newest first (empty without a store). */
  lastResults: unknown[];
}

export interface Explanation {
  personId: string;
  username?: string;
  /** The directory record, sensitive attributes redacted. */
  record?: Record<string, string[]>;
  targets: TargetExplanation[];
  /** Set when the identifier names more than one person: nothing is planned for an ambiguous name. */
  duplicate?: { keyField: string; keyValue: string; people: { id: string; dn: string }[] };
}

export interface ExplainOptions {
  /** The last results of a person at a target (the results store), newest first. */
  lastResults?(personId: string, target: string): Promise<unknown[]>;
}

const REDACTED = '[redacted]';

/** A JSON-able copy of a target's desired/actual value: Maps and Sets as objects and arrays, sensitive values and secrets redacted. */
export function plainRedacted(v: unknown, hidden: ReadonlySet<string>, depth = 0): unknown {
  if (v === null || v === undefined) return v ?? null;
  if (depth > 8) return '…';
  if (typeof v === 'string') return hidden.has(v) ? REDACTED : v;
  if (typeof v !== 'object') return v;
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Map) return plainRedacted(Object.fromEntries(v), hidden, depth);
  if (v instanceof Set || Array.isArray(v)) return [...v].map((x) => plainRedacted(x, hidden, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    out[k] = /password|secret|token/i.test(k) && x !== null && x !== undefined && x !== '' ? REDACTED : plainRedacted(x, hidden, depth + 1);
  }
  return out;
}

/** The values that must never be printed: the record's sensitive attributes and every secret read. */
function hiddenValues(record: PersonRecord | undefined, sensitive: readonly string[]): Set<string> {
  const hidden = new Set<string>(resolvedSecrets().filter((s) => s.length >= 4));
  for (const a of sensitive) for (const v of record?.attrs[a] ?? []) if (v) hidden.add(v);
  return hidden;
}

/**
 * `tilgang explain`: what each target would do for one person right now, computed as a log-only
 * run computes it (load, desired, actual, plan), with the entitlement rule that decided, the
 * desired and actual account, the MV data used, and the last stored results. Changes nothing.
 */
export async function explain(cfg: Config, targets: AnyTarget[], keyField: KeyField, keyValue: string, opts: ExplainOptions = {}): Promise<Explanation> {
  const dir = await Directory.connect(cfg);
  const mv = MvReader.fromConfig(cfg.mv, { max: 2 });
  try {
    const attr = KEY_FIELDS[keyField];
    const found = await dir.findPeople(attr, keyValue, ['*']);
    if (!found.length) throw new Error(`no person in the directory has ${keyField}=${keyValue}`);
    if (found.length > 1) {
      const people = found.map((f) => ({ id: first(f, A.id) ?? '', dn: f.dn }));
      return { personId: '', targets: [], duplicate: { keyField, keyValue, people } };
    }
    const record = found[0]!;
    const personId = first(record, A.id)!;
    const hidden = hiddenValues(record, cfg.directory.sensitive);
    const shown: Record<string, string[]> = {};
    const sensitive = new Set(cfg.directory.sensitive.map((s) => s.toLowerCase()));
    for (const [k, vs] of Object.entries(record.attrs)) shown[k] = sensitive.has(k.toLowerCase()) ? vs.map(() => REDACTED) : vs;
    const event = runEvent(personId, { runId: newRunId(), mode: 'REPROCESS', logOnly: true, targets: null, source: 'explain' });
    const out: TargetExplanation[] = [];
    for (const target of targets.filter((t) => (t.stream ?? PERSON_STREAM) === PERSON_STREAM)) {
      const started = Date.now();
      const ctx = { config: TargetGroup.targetConfig(cfg, target), global: cfg, log: child({ component: 'explain', target: target.name }) };
      const deps: ReconcileDeps = {
        target, ctx, client: undefined, directory: dir, mv, guard: new MassChangeGuard(mv.pool, cfg.runtime.stateSchema),
        guardSettings: { maxOperations: 0, maxShare: 0, minAccounts: 0, windowMinutes: 1 }, totalAccounts: async () => 0,
        sensitive: cfg.directory.sensitive, secrets: resolvedSecrets(),
      };
      const x: TargetExplanation = {
        target: target.name, entitlement: null, result: undefined as unknown as ProvisioningResult,
        desired: null, actual: null, mv: null, lastResults: await opts.lastResults?.(personId, target.name) ?? [],
      };
      out.push(x);
      const client = await target.connect(ctx);
      deps.client = client;
      try {
        const [loaded] = await personStream.loadWave([event], target, ctx, { directory: dir, mv });
        if ('skip' in loaded!) {
          x.result = { ...baseResult(event, personId, target.name, started), outcome: 'SKIPPED', skipReason: loaded.skip };
          continue;
        }
        if ('error' in loaded!) throw loaded.error;
        const subject = loaded!.subject as PersonContext;
        x.entitlement = entitlementDecision(subject.record, ctx.config.entitlement);
        x.mv = plainRedacted(subject.mv ?? null, hidden);
        try {
          const desired = target.desired(subject, ctx);
          x.desired = plainRedacted(desired, hidden);
          const actual = await target.actual(subject, desired, client, ctx);
          x.actual = plainRedacted(actual, hidden);
          const p = await planned(event, personId, subject, desired, actual, deps, started);
          // A log-only event never reaches apply: planned() decides it (PLANNED, UNCHANGED, SKIPPED or FAILED).
          if (p.kind === 'done') x.result = p.result;
        } catch (e) {
          x.result = { ...failedResult(event, personId, target.name, started, e, deps.secrets), entitled: subject.entitled };
        }
      } catch (e) {
        x.result = failedResult(event, personId, target.name, started, e, deps.secrets);
      } finally {
        await target.close?.(client);
      }
    }
    return { personId, username: first(record, A.usernames), record: shown, targets: out };
  } finally {
    await mv.close();
    await dir.close();
  }
}

/** Leaf values of a nested value by dotted path (arrays by index), for a side-by-side table. */
export function flatten(v: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (v === null || v === undefined || typeof v !== 'object') {
    if (prefix) out.set(prefix, v === null || v === undefined ? '∅' : String(v));
    return out;
  }
  const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v as Record<string, unknown>);
  if (!entries.length && prefix) out.set(prefix, Array.isArray(v) ? '[]' : '{}');
  for (const [k, x] of entries) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

/**
 * Desired and actual, field by field: [field, desired, actual, differs] (a desired value the actual lacks or has otherwise). A one-element list is
 * its element (an actual read as the matches found); a field the other side holds under another
 * path with the same last name (user.mail beside account.mail) is paired with it.
 */
export function sideBySide(desired: unknown, actual: unknown): [string, string, string, boolean][] {
  const one = (v: unknown) => (Array.isArray(v) && v.length === 1 ? v[0] : v);
  const d = flatten(one(desired));
  const a = flatten(one(actual));
  const leaf = (path: string) => path.slice(path.lastIndexOf('.') + 1);
  const pairedA = new Set<string>();
  const rows: [string, string, string, boolean][] = [];
  for (const [f, dv] of d) {
    let af = a.has(f) ? f : undefined;
    if (!af) {
      const same = [...a.keys()].filter((k) => !d.has(k) && !pairedA.has(k) && leaf(k) === leaf(f));
      if (same.length === 1) af = same[0];
    }
    if (af) pairedA.add(af);
    const av = af ? a.get(af)! : '';
    rows.push([af && af !== f ? `${f} / ${af}` : f, dv, av, dv !== av]);
  }
  // What only the target holds (its ids, fields tilgang does not map) is shown, not called a difference.
  for (const [f, av] of a) if (!pairedA.has(f)) rows.push([f, '', av, false]);
  return rows;
}

const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function formatExplain(x: Explanation): string {
  if (x.duplicate) {
    const d = x.duplicate;
    return [`${d.people.length} people have ${d.keyField}=${d.keyValue} (duplicate): nothing is planned for an ambiguous identifier`,
      ...d.people.map((p) => `  ${p.id}  ${p.dn}`), `explain one of them with --key-field idautoID --key-value <id>`].join('\n');
  }
  const lines = [`person ${x.personId}${x.username ? ` (${x.username})` : ''}`];
  for (const t of x.targets) {
    const r = t.result;
    const why = r.skipReason ? `: ${r.skipReason}` : r.error ? `: ${r.error.code}: ${r.error.message}` : '';
    lines.push(`  ${t.target}: ${r.outcome === 'PLANNED' ? 'would change' : r.outcome.toLowerCase()}${r.entitled === null ? '' : r.entitled ? ' (entitled)' : ' (not entitled)'}${why}`);
    if (t.entitlement) lines.push(`    entitlement: ${t.entitlement.entitled ? 'entitled' : 'not entitled'}: ${t.entitlement.rule}`);
    for (const op of r.operations ?? []) {
      lines.push(`    ${op.kind}${op.detail ? `  ${op.detail}` : ''}`);
      for (const c of op.changes ?? []) lines.push(`      ${c.attribute}: ${c.from ?? '∅'} → ${c.to ?? '∅'}`);
    }
    if (t.entitlement && t.desired === null && t.actual !== null) {
      // No account is wanted: what the target holds, field by field.
      const rows = [...flatten(Array.isArray(t.actual) && t.actual.length === 1 ? t.actual[0] : t.actual)].filter(([, v]) => v !== '' && v !== '∅');
      if (rows.length) {
        const w = Math.min(32, Math.max(...rows.map(([f]) => f.length), 5));
        lines.push(`    desired: no account; actual:`);
        for (const [f, v] of rows.slice(0, 30)) lines.push(`    ${cut(f, w).padEnd(w)}  ${cut(v, 60)}`);
        if (rows.length > 30) lines.push(`    … ${rows.length - 30} more field(s); see --json`);
      }
    } else if (t.entitlement && (t.desired !== null || t.actual !== null)) {
      const rows = sideBySide(t.desired, t.actual);
      if (rows.length) {
        const w = Math.min(32, Math.max(...rows.map((row) => row[0].length), 5));
        lines.push(`    ${'field'.padEnd(w)}  ${'desired'.padEnd(30)}  actual`);
        for (const [f, d, a, differs] of rows.slice(0, 60)) lines.push(`    ${cut(f, w).padEnd(w)}  ${cut(d, 30).padEnd(30)}  ${cut(a, 30)}${differs ? '  ≠' : ''}`);
        if (rows.length > 60) lines.push(`    … ${rows.length - 60} more field(s); see --json`);
      }
    }
    if (t.lastResults.length) {
      lines.push('    last results:');
      for (const l of t.lastResults.slice(0, 5) as { processedAt?: unknown; outcome?: string; runId?: string | null; error?: { message?: string } | null }[]) {
        const at = l.processedAt ? new Date(l.processedAt as string).toISOString() : '';
        lines.push(`      ${at}  ${l.outcome ?? ''}${l.runId ? `  run ${l.runId}` : ''}${l.error?.message ? `  ${scrubMessage(l.error.message, resolvedSecrets())}` : ''}`);
      }
    }
  }
  return lines.join('\n');
}
