import type { Logger } from 'pino';
import type { FaultInjector, FaultSettingsInput } from '../lib/faults.js';
import type { ZodType } from 'zod';
import type { Config } from '../config.js';
import type { EntitlementRules } from './config.js';
import type { MvFacet } from '../mv/facets.js';
import type { OperationDeclarations, OperationKind } from './operations.js';
import type { AttributeChange, MvPerson, OperationOutcome, PersonChanged, PersonRecord } from './person.js';

/** tilgang's whole configuration, as a target sees it (e.g. the directory's sensitive attributes). */
export type GlobalConfig = Config;

/** One step of a plan. Data only: printed by `explain`, published in the result, handed to apply. */
export interface Operation<P = unknown, K extends string = string> {
  /** A core kind (create, update, rename, move, enable, disable) or one the target declares (enrol, unenrol). */
  kind: OperationKind<K>;
  /** Attribute diff (sensitive values are redacted before the plan leaves the target). */
  changes?: AttributeChange[];
  /** A short human line: "enrol in INF100-2026-HØST as student". */
  detail?: string;
  /** What apply needs that the diff does not say (ids, payloads). Not published. */
  payload?: P;
  /** Disables and removals: counted by the mass-change guard. */
  destructive?: boolean;
  /** Target-specific counter for the run report, e.g. coursesAdded; declared in `Target.operations`. */
  counter?: string;
}

export interface OperationResult {
  outcome: Extract<OperationOutcome, 'APPLIED' | 'FAILED' | 'SKIPPED'>;
  error?: string;
  /** The account id in the target, when the operation learned it (a create). */
  accountId?: string;
  /**
   * People (idautoIDs) the runtime reprocesses because of this operation: REPROCESS events on
   * person.changed, in the transaction that commits the result (so exactly once with it), under
   * the event's run id, addressed to `targets` (null: every target).
   */
  reprocess?: { people: string[]; targets: string[] | null };
  /** Values to record in the person's directory entry (see Plan.writeback), when the operation learned them (a create). */
  writeback?: Record<string, string>;
}

/** What the runtime knows about a person when it asks the target for the desired account. */
export interface PersonContext {
  id: string;
  /** The event that brought the person here (run id, mode); targets act on the current record, not on it. */
  event: PersonChanged;
  record: PersonRecord;
  mv: MvPerson | undefined;
  /** Birthright or a granted request (the runtime decides it from the target's entitlement rules). */
  entitled: boolean;
  /** The directory already records this target in the person's status attributes. */
  provisioned: boolean;
}

/**
 * An account in the target that carries tilgang's anchor (Moodle's idnumber, AD's anchor
 * attribute, ...): what the orphan check compares with the directory.
 */
export interface ManagedAccount {
  /** The person's key the anchor holds (idautoID). */
  key: string;
  /** The account's id in the target (a Moodle user id, an AD DN, a cardholder id). */
  accountId: string;
  /** A name for people to read (the username). */
  name?: string;
  enabled: boolean;
  /**
   * The account as directory attributes (attribute → values) by which the target's `actual` finds
   * it again, for a person who is gone from the directory: the orphan check plans their disable
   * from these. The anchor's attribute at least.
   */
  match: Record<string, string[]>;
}

/** What a target's start check found. Never a secret. */
export interface CheckReport {
  /** Worth one log line: the site, its release, the account tilgang acts as. */
  facts?: Record<string, string | number | boolean | undefined>;
  /** Problems that do not stop the target (a function only some operations need is not allowed). */
  warnings?: string[];
}

export interface TargetContext<C> {
  config: C;
  global: Config;
  log: Logger;
}

export interface Plan<P = unknown, K extends string = string> {
  operations: Operation<P, K>[];
  /** Set when there is nothing to do and why (e.g. "not entitled and no account"). */
  skipReason?: string;
  accountId?: string;
  /**
   * Values the target wants recorded with its status in the person's directory entry, name →
   * value (e.g. `userId`: the person's id in the target, which others look the person up by).
   * Published in the result and written by the writeback; never a sensitive value. An operation's
   * result may add to them (the id a create returned).
   */
  writeback?: Record<string, string>;
}

export interface BatchItem<D, A, P, K extends string = string, S = PersonContext> {
  person: S;
  desired: D | null;
  actual: A;
  plan: Plan<P, K>;
}

/**
 * A target plug-in: small documented capabilities the generic runtime calls in a fixed order
 * (event → read → plan → apply → result). Nothing outside `src/targets/<name>/` names a target.
 */
/** S is what the target's stream tells it about a subject: a PersonContext for the person stream. */
export interface Target<C = unknown, D = unknown, A = unknown, P = unknown, Client = unknown, K extends string = string, S = PersonContext> {
  name: string;
  /** The operation kinds beyond the core's this target plans, and the counters they report. */
  operations?: OperationDeclarations<K>;
  /** The stream this target consumes (see stream.ts); the person stream when absent. */
  stream?: string;
  /**
   * What this target reads from MV beyond the core person (e.g. org placement, enrolments): the
   * runtime loads these facets with the wave's one MV query, and only these.
   */
  mv?(config: C): readonly MvFacet[];
  /** Validated at start; errors name the field. Must include `entitlement`. */
  config: ZodType<C & { entitlement: EntitlementRules }>;
  /**
   * Directory attributes without which a person is skipped and counted, not failed (the seed's
   * "essential attributes"). A list among them is satisfied by any one of its attributes.
   */
  essential(config: C): (string | readonly string[])[];
  /** Opens the connection to the system (HTTP agent, LDAP bind, session token...); checks nothing. */
  connect(ctx: TargetContext<C>): Promise<Client>;
  /**
   * Optional, run once at start after connect: what the configuration promises and connect cannot
   * see (credentials valid, functions allowed, a template course present). Throw TerminalError when
   * the target cannot work so (a refused credential): the worker does not start. Any other failure
   * (the system is down now) is logged and the worker starts; its events are retried.
   */
  check?(client: Client, ctx: TargetContext<C>): Promise<CheckReport>;
  close?(client: Client): Promise<void>;
  /** Pure: what the account should be; null when the person is not entitled. */
  desired(person: S, ctx: TargetContext<C>): D | null;
  /**
   * Read: what the account is. More than one match is a TerminalError naming the accounts. The
   * runtime reads a wave of people at once; a target whose system answers many keys per call
   * coalesces these reads itself (Batcher in src/lib/batching.ts).
   */
  actual(person: S, desired: D | null, client: Client, ctx: TargetContext<C>): Promise<A>;
  /**
   * True when the target coalesces and bounds its own reads (a Batcher, a connection limit): the
   * runtime then reads every subject of a wave at once rather than `runtime.concurrency` at a time,
   * so a wave's lookups leave together in as few calls as the system allows.
   */
  readsWholeWave?: boolean;
  /** Pure: operations as data. */
  plan(desired: D | null, actual: A, person: S, ctx: TargetContext<C>): Plan<P, K>;
  /** Talks to the system; one result per operation, in order. Throws TransientError to be retried. */
  apply(plan: Plan<P, K>, client: Client, ctx: TargetContext<C>, person: S): Promise<OperationResult[]>;
  /**
   * Optional capability: the accounts in the target that carry tilgang's anchor, page by page
   * (`tilgang orphans`, the scheduled reconciliation). A target that cannot tell its own accounts
   * apart leaves it out; it is never asked then.
   */
  listManaged?(client: Client, ctx: TargetContext<C>): AsyncIterable<ManagedAccount[]>;
  /** Optional: many people's plans in few calls. Results per item, per operation. */
  applyBatch?(items: BatchItem<D, A, P, K, S>[], client: Client, ctx: TargetContext<C>): Promise<OperationResult[][]>;
}

/**
 * An HTTP simulator of a target's system, for `tilgang sim <name>`, `npm start` and the tests.
 * Never part of the Target: it lives in `src/targets/<name>/simulator.ts` (exporting `simulator`)
 * and is imported only when asked for, so production never loads it.
 */
export interface TargetSimulator {
  start(args: { port: number; stateFile?: string; latency: boolean; token?: string; global?: GlobalConfig; faults?: FaultSettingsInput }): Promise<RunningSimulator>;
}

export interface RunningSimulator {
  url: string;
  close(): Promise<void>;
  /** Accounts created per person key since start: more than one is a person made twice. */
  creates?(): ReadonlyMap<string, number>;
  /** The injected faults: counts by kind, and settings to change while it runs. */
  faults?: FaultInjector;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTarget = Target<any, any, any, any, any, any, any>;
