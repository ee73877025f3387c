import { randomUUID } from 'node:crypto';
import type { Directory } from '../directory/client.js';
import type { MvReader } from '../mv/person.js';
import type { OperationResult as OperationResultEvent, PersonChanged, ProvisioningResult, ResultError } from '../schemas/generated.js';
import { isEntitled, isProvisioned, missingEssential } from './entitlement.js';
import { isTransient, TerminalError, TransientError, undeclaredOperation } from '../spi/index.js';
import type { GuardSettings, GuardTicket, MassChangeGuard } from './guard.js';
import { redactChanges, scrubMessage } from '../lib/redact.js';
import type { AnyTarget, OperationResult, PersonContext, Plan, TargetContext } from '../spi/index.js';

export interface ReconcileDeps {
  target: AnyTarget;
  ctx: TargetContext<any>;
  client: unknown;
  directory: Directory;
  mv: MvReader;
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
  | { kind: 'done'; event: PersonChanged; result: ProvisioningResult }
  | { kind: 'apply'; event: PersonChanged; person: PersonContext; desired: unknown; actual: unknown; plan: Plan; started: number; guardTicket?: GuardTicket };

export function baseResult(event: PersonChanged, target: string, started: number): ProvisioningResult {
  return {
    eventId: randomUUID(), sourceEventId: event.eventId, personId: event.personId, target,
    runId: event.runId ?? null, mode: event.mode ?? 'LIVE', logOnly: !!event.logOnly, outcome: 'UNCHANGED',
    skipReason: null, entitled: null, accountId: null, operations: [], error: null, counters: {},
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

export function failedResult(event: PersonChanged, target: string, started: number, e: unknown, secrets: readonly string[]): ProvisioningResult {
  return { ...baseResult(event, target, started), outcome: 'FAILED', error: errorInfo(e, secrets) };
}

function publishedOps(plan: Plan, outcome: OperationResultEvent['outcome'], sensitive: readonly string[]): OperationResultEvent[] {
  return plan.operations.map((o) => ({ kind: o.kind, changes: redactChanges(o.changes, sensitive), detail: o.detail ?? null, outcome, error: null }));
}

/** Whether this target acts on the event at all (a run may address some targets only). */
export function addressed(event: PersonChanged, target: string): boolean {
  return !event.targets || event.targets.includes(target);
}

/**
 * Everything before apply, as the seed's jobs did it: skip directory deletes, read the person's
 * current record and MV data, skip incomplete records, decide entitlement and provisioning,
 * compute the desired account, read the actual one, plan, and ask the mass-change guard.
 * Throws TransientError (or a network error) to be retried; a terminal failure is a result.
 */
export async function prepare(event: PersonChanged, d: ReconcileDeps): Promise<Prepared> {
  const started = Date.now();
  const name = d.target.name;
  const done = (patch: Partial<ProvisioningResult>): Prepared => ({ kind: 'done', event, result: { ...baseResult(event, name, started), ...patch } });

  // Deprovisioning happens by losing entitlement (disable), never by deleting the account.
  if (event.changeType === 'DELETE') return done({ outcome: 'SKIPPED', skipReason: 'directory delete: accounts are disabled through entitlement, never deleted' });
  let record;
  try {
    record = await d.directory.person(event.personId);
  } catch (e) {
    if (isTransient(e) || /connect|socket|timeout/i.test((e as Error).message)) throw new TransientError(`reading person ${event.personId} from the directory: ${(e as Error).message}`, 'directory');
    throw e;
  }
  if (!record) return done({ outcome: 'SKIPPED', skipReason: 'person not in the directory' });
  const missing = missingEssential(record, d.target.essential(d.ctx.config));
  if (missing.length) {
    d.ctx.log.warn({ person: event.personId, target: name, missing }, 'record lacks essential attributes: skipped');
    return done({ outcome: 'SKIPPED', skipReason: `missing essential attribute${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}` });
  }
  const mv = await d.mv.person(event.personId);
  const person: PersonContext = {
    id: event.personId, event, record, mv,
    entitled: isEntitled(record, d.ctx.config.entitlement),
    provisioned: isProvisioned(record, name),
  };
  try {
    const desired = d.target.desired(person, d.ctx);
    const actual = await d.target.actual(person, desired, d.client, d.ctx);
    return planned(event, person, desired, actual, d, started);
  } catch (e) {
    if (isTransient(e)) throw e;
    return { kind: 'done', event, result: { ...failedResult(event, name, started, e, d.secrets), entitled: person.entitled } };
  }
}

/** Plan, then decide: nothing to do, only log, held by the guard, or apply. */
export async function planned(event: PersonChanged, person: PersonContext, desired: unknown, actual: unknown, d: ReconcileDeps, started: number): Promise<Prepared> {
  const name = d.target.name;
  const plan = d.target.plan(desired, actual, person, d.ctx);
  const base = { ...baseResult(event, name, started), entitled: person.entitled, accountId: plan.accountId ?? null };
  const undeclared = plan.operations.map((o) => undeclaredOperation(o, d.target.operations)).find((why) => why !== null);
  if (undeclared) {
    // A target bug, not the person's: nothing of the plan is applied.
    const e = new TerminalError(`target ${name} planned an operation it does not declare for person ${event.personId}: ${undeclared}`, 'undeclared-operation');
    return { kind: 'done', event, result: { ...base, outcome: 'FAILED', error: errorInfo(e, d.secrets) } };
  }
  if (!plan.operations.length) {
    return { kind: 'done', event, result: { ...base, outcome: plan.skipReason ? 'SKIPPED' : 'UNCHANGED', skipReason: plan.skipReason ?? null } };
  }
  if (event.logOnly) {
    return { kind: 'done', event, result: { ...base, outcome: 'PLANNED', operations: publishedOps(plan, 'PLANNED', d.sensitive) } };
  }
  const destructive = plan.operations.filter((o) => o.destructive).length;
  let guardTicket: GuardTicket | undefined;
  if (destructive) {
    const verdict = await d.guard.admit(name, event.personId, event.eventId, destructive, await d.totalAccounts(), d.guardSettings, event.runId);
    if (verdict !== 'held') guardTicket = verdict;
    else {
      const st = await d.guard.state(name);
      d.ctx.log.warn({ target: name, person: event.personId, reason: st.reason }, 'mass-change guard holds destructive operations');
      return {
        kind: 'done', event,
        result: { ...base, outcome: 'HELD', skipReason: `held by the mass-change guard: ${st.reason}; run \`tilgang guard release ${name}\``, operations: publishedOps(plan, 'HELD', d.sensitive) },
      };
    }
  }
  return { kind: 'apply', event, person, desired, actual, plan, started, guardTicket };
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
    if (!o.counter) return;
    const key = ops[i]!.outcome === 'FAILED' ? `${o.counter}Fail` : o.counter;
    counters[key] = (counters[key] ?? 0) + 1;
  });
  const failed = ops.find((o) => o.outcome === 'FAILED');
  const accountId = results.find((r) => r.accountId)?.accountId ?? p.plan.accountId ?? null;
  return {
    ...baseResult(p.event, d.target.name, p.started),
    entitled: p.person.entitled,
    accountId,
    outcome: failed ? 'FAILED' : 'APPLIED',
    operations: ops,
    counters,
    error: failed ? { kind: 'TERMINAL', code: 'operation-failed', message: `${failed.kind} failed: ${failed.error}`, field: null } : null,
  };
}
