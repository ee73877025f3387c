import { randomUUID } from 'node:crypto';
import { mapLimit } from '../lib/concurrency.js';
import type { OperationResult as OperationResultEvent, ProvisioningResult, ResultError } from '../schemas/generated.js';
import { isTransient, TerminalError, undeclaredOperation } from '../spi/index.js';
import type { GuardSettings, GuardTicket, MassChangeGuard } from './guard.js';
import { redactChanges, scrubMessage } from '../lib/redact.js';
import type { AnyStream, AnyTarget, Loaded, OperationResult, Plan, StreamEvent, StreamSources, SubjectContext, TargetContext } from '../spi/index.js';
import { streamFor } from '../streams/index.js';

export interface ReconcileDeps {
  target: AnyTarget;
  ctx: TargetContext<any>;
  client: unknown;
  /** The stream the target consumes; the one the target names (the person stream) when absent. */
  stream?: AnyStream;
  /** Where the stream loads a wave of subjects from, one round trip each per wave. */
  directory: StreamSources['directory'];
  mv: StreamSources['mv'];
  guard: MassChangeGuard;
  guardSettings: GuardSettings;
  /** Accounts the target holds (for the guard's share); cached by the caller. */
  totalAccounts(): Promise<number>;
  sensitive: readonly string[];
  /** Values never to appear in an error text: every secret the configuration resolved (a live list). */
  secrets: readonly string[];
}

/** Either a result already decided (skip, unchanged, planned, held, failed) or a plan to apply. */
export type Prepared =
  | { kind: 'done'; event: StreamEvent; key: string; result: ProvisioningResult }
  | { kind: 'apply'; event: StreamEvent; key: string; person: SubjectContext; desired: unknown; actual: unknown; plan: Plan; started: number; guardTicket?: GuardTicket };

/** A result for the event about subject `key` (the result's personId), outcome UNCHANGED until told otherwise. */
export function baseResult(event: StreamEvent, key: string, target: string, started: number): ProvisioningResult {
  return {
    eventId: randomUUID(), sourceEventId: event.eventId, personId: key, target,
    runId: event.runId ?? null, mode: event.mode ?? 'LIVE', logOnly: !!event.logOnly, outcome: 'UNCHANGED',
    skipReason: null, entitled: null, accountId: null, operations: [], error: null, counters: {}, writeback: {},
    durationMs: Date.now() - started, processedAt: Date.now(),
  };
}

export function errorInfo(e: unknown, secrets: readonly string[]): ResultError {
  const transient = isTransient(e);
  const err = e as Error & { code?: string; field?: string };
  return {
    kind: transient ? 'TRANSIENT' : 'TERMINAL',
    code: String(err.code ?? (transient ? 'transient' : err.name ?? 'error')),
    message: scrubMessage(err.message ?? String(e), secrets),
    field: err instanceof TerminalError ? err.field ?? null : null,
  };
}

export function failedResult(event: StreamEvent, key: string, target: string, started: number, e: unknown, secrets: readonly string[]): ProvisioningResult {
  return { ...baseResult(event, key, target, started), outcome: 'FAILED', error: errorInfo(e, secrets) };
}

function publishedOps(plan: Plan, outcome: OperationResultEvent['outcome'], sensitive: readonly string[]): OperationResultEvent[] {
  return plan.operations.map((o) => ({ kind: o.kind, changes: redactChanges(o.changes, sensitive), detail: o.detail ?? null, outcome, error: null }));
}

/** Whether this target acts on the event at all (a run may address some targets only). */
export function addressed(event: StreamEvent, target: string): boolean {
  return !event.targets || event.targets.includes(target);
}

/** A subject's way through prepareWave: prepared, or a failure (a transient one is retried by the caller). */
export type WaveOutcome = { p: Prepared } | { err: unknown };

/**
 * Everything before apply for a wave (one event per subject, all different subjects), as the
 * seed's jobs did it per person: the stream loads the wave's subjects at once (for people: one
 * directory search, one MV query; deletes and incomplete records skipped), then each subject's
 * desired account, actual account and plan, and the mass-change guard's word. One outcome per
 * event, in order; a failure to load the wave is every subject's failure.
 */
export async function prepareWave(events: StreamEvent[], d: ReconcileDeps): Promise<WaveOutcome[]> {
  const started = Date.now();
  const name = d.target.name;
  const stream = d.stream ?? streamFor(d.target);
  let loaded: Loaded<SubjectContext>[];
  try {
    loaded = events.length ? await stream.loadWave(events, d.target, d.ctx, { directory: d.directory, mv: d.mv }) : [];
  } catch (err) {
    return events.map(() => ({ err }));
  }
  // A target that bounds its own reads gets the whole wave at once: its lookups meet in few calls.
  const width = d.target.readsWholeWave ? Math.max(1, events.length) : d.ctx.global.runtime.concurrency;
  return mapLimit(events, width, async (event, i): Promise<WaveOutcome> => {
    const key = stream.key(event);
    const l = loaded[i]!;
    if ('skip' in l) return { p: { kind: 'done', event, key, result: { ...baseResult(event, key, name, started), outcome: 'SKIPPED', skipReason: l.skip } } };
    if ('error' in l) return { err: l.error };
    const subject = l.subject;
    try {
      const desired = d.target.desired(subject, d.ctx);
      const actual = await d.target.actual(subject, desired, d.client, d.ctx);
      return { p: await planned(event, key, subject, desired, actual, d, started) };
    } catch (e) {
      if (isTransient(e)) return { err: e };
      return { p: { kind: 'done', event, key, result: { ...failedResult(event, key, name, started, e, d.secrets), entitled: subject.entitled } } };
    }
  });
}

/** One event alone (explain): its prepared outcome; throws what prepareWave reports as a failure. */
export async function prepare(event: StreamEvent, d: ReconcileDeps): Promise<Prepared> {
  const [r] = await prepareWave([event], d);
  if ('err' in r!) throw r.err;
  return r!.p;
}

/** Plan, then decide: nothing to do, only log, held by the guard, or apply. */
export async function planned(event: StreamEvent, key: string, person: SubjectContext, desired: unknown, actual: unknown, d: ReconcileDeps, started: number): Promise<Prepared> {
  const name = d.target.name;
  const plan = d.target.plan(desired, actual, person, d.ctx);
  const base = { ...baseResult(event, key, name, started), entitled: person.entitled, accountId: plan.accountId ?? null, writeback: { ...plan.writeback } };
  const undeclared = plan.operations.map((o) => undeclaredOperation(o, d.target.operations)).find((why) => why !== null);
  if (undeclared) {
    // A target bug, not the person's: nothing of the plan is applied.
    const e = new TerminalError(`target ${name} planned an operation it does not declare for ${key}: ${undeclared}`, 'undeclared-operation');
    return { kind: 'done', event, key, result: { ...base, outcome: 'FAILED', error: errorInfo(e, d.secrets) } };
  }
  if (!plan.operations.length) {
    return { kind: 'done', event, key, result: { ...base, outcome: plan.skipReason ? 'SKIPPED' : 'UNCHANGED', skipReason: plan.skipReason ?? null } };
  }
  if (event.logOnly) {
    return { kind: 'done', event, key, result: { ...base, outcome: 'PLANNED', operations: publishedOps(plan, 'PLANNED', d.sensitive) } };
  }
  const destructive = plan.operations.filter((o) => o.destructive).length;
  let guardTicket: GuardTicket | undefined;
  if (destructive) {
    const verdict = await d.guard.admit(name, key, event.eventId, destructive, await d.totalAccounts(), d.guardSettings, event.runId);
    if (verdict !== 'held') guardTicket = verdict;
    else {
      const st = await d.guard.state(name);
      d.ctx.log.warn({ target: name, person: key, reason: st.reason }, 'mass-change guard holds destructive operations');
      return {
        kind: 'done', event, key,
        result: { ...base, outcome: 'HELD', skipReason: `held by the mass-change guard: ${st.reason}; run \`tilgang guard release ${name}\``, operations: publishedOps(plan, 'HELD', d.sensitive) },
      };
    }
  }
  return { kind: 'apply', event, key, person, desired, actual, plan, started, guardTicket };
}

/**
 * Tells the mass-change guard what an apply came to: the destructive operations that took effect
 * count, a failed or retried apply gives its reservation back (a retry is admitted afresh).
 */
export async function settleGuard(items: Extract<Prepared, { kind: 'apply' }>[], applied: ({ ok: OperationResult[] } | { err: unknown })[], d: ReconcileDeps): Promise<void> {
  await Promise.all(items.map(async (p, k) => {
    if (!p.guardTicket) return;
    const a = applied[k];
    const n = a && 'ok' in a ? p.plan.operations.filter((o, i) => o.destructive && a.ok[i]?.outcome === 'APPLIED').length : 0;
    await d.guard.settle(p.guardTicket, n);
  }));
}

/** The result of an applied plan: each operation's outcome, the seed's counters, the overall outcome. */
export function appliedResult(p: Extract<Prepared, { kind: 'apply' }>, results: OperationResult[], d: ReconcileDeps): ProvisioningResult {
  const ops: OperationResultEvent[] = p.plan.operations.map((o, i) => {
    const r = results[i] ?? { outcome: 'FAILED' as const, error: 'no result from the target' };
    return { kind: o.kind, changes: redactChanges(o.changes, d.sensitive), detail: o.detail ?? null, outcome: r.outcome, error: r.error ? scrubMessage(r.error, d.secrets) : null };
  });
  const counters: Record<string, number> = {};
  p.plan.operations.forEach((o, i) => {
    // A skipped operation did nothing (another subject's apply made the category meanwhile): it counts nothing.
    if (!o.counter || ops[i]!.outcome === 'SKIPPED') return;
    const key = ops[i]!.outcome === 'FAILED' ? `${o.counter}Fail` : o.counter;
    counters[key] = (counters[key] ?? 0) + 1;
  });
  const failed = ops.find((o) => o.outcome === 'FAILED');
  const accountId = results.find((r) => r.accountId)?.accountId ?? p.plan.accountId ?? null;
  // What the plan knew, then what the operations that took effect learned (a create's new id).
  const writeback = Object.assign({}, p.plan.writeback, ...results.filter((r) => r.outcome === 'APPLIED').map((r) => r.writeback ?? {})) as Record<string, string>;
  return {
    ...baseResult(p.event, p.key, d.target.name, p.started),
    entitled: p.person.entitled,
    accountId,
    writeback,
    outcome: failed ? 'FAILED' : 'APPLIED',
    operations: ops,
    counters,
    error: failed ? { kind: 'TERMINAL', code: 'operation-failed', message: `${failed.kind} failed: ${failed.error}`, field: null } : null,
  };
}
