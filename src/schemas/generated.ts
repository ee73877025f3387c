// Generated from avro/*.avsc by src/schemas/codegen.ts (npm run avro:types). Do not edit.

export type CourseChangeType = 'ADDED' | 'CHANGED' | 'REPROCESS' | 'SNAPSHOT';

export type RunMode = 'LIVE' | 'REPROCESS' | 'SNAPSHOT';

/** A course of MV's catalogue (master_topics) to look at again. Level-triggered: consumers read the topic's current row; the event says which topic and why, never the values. */
export interface CourseChanged {
  /** Unique per event. */
  eventId: string;
  /** The topic's source id, institution:code:version; also the Kafka key. */
  sourceId: string;
  /** ADDED and CHANGED come from the courses producer following the catalogue; REPROCESS from `courses sync --source-id`; SNAPSHOT from `courses sync --all`. A reader that does not know a newer symbol reads REPROCESS. */
  changeType: CourseChangeType;
  /** When the producer saw the change, or when a command asked for the event. */
  changeTime: number;
  /** Set on events published by a command run (courses sync). */
  runId?: null | string;
  /** LIVE: followed from the catalogue; REPROCESS: a command asked for these courses; SNAPSHOT: all of them. An unknown newer symbol reads as REPROCESS. */
  mode?: RunMode;
  /** Consumers plan and publish the plan but change nothing. */
  logOnly?: boolean;
  /** A course made now does not reprocess its people. */
  skipUsers?: boolean;
  /** Only these targets act on the event; null means all. */
  targets?: null | Array<string>;
  /** catalogue, cli, schedule. */
  source?: string;
}

export type ChangeType = 'ADD' | 'MODIFY' | 'MODRDN' | 'DELETE' | 'REPROCESS' | 'SNAPSHOT';

/** A person to look at again. Level-triggered: consumers read the person's current record; the event says which person and why, never the values. */
export interface PersonChanged {
  /** Unique per event (UUID). */
  eventId: string;
  /** The person's immutable idautoID; also the Kafka key. */
  personId: string;
  /** ADD..DELETE come from the change log; REPROCESS from `sync --key-value`/a persons file/a course; SNAPSHOT from a full reconciliation. A reader that does not know a newer symbol reads REPROCESS: look at the person again. */
  changeType: ChangeType;
  /** Names only; sensitive attributes are left out. */
  changedAttributes?: Array<string>;
  /** The entry's DN before a MODRDN (or the DN of a deleted entry); null otherwise. */
  oldDn?: null | string;
  /** The entry's DN after a MODRDN; null otherwise. */
  newDn?: null | string;
  /** When the directory logged the change (reqStart), or when a command asked for the event. */
  changeTime: number;
  /** The change log cookie of this change (accesslog reqStart). */
  changelogPosition?: null | string;
  /** Set on events published by a command run (sync). */
  runId?: null | string;
  /** LIVE: a change followed from the change log; REPROCESS: a command asked for these people; SNAPSHOT: a full reconciliation. An unknown newer symbol reads as REPROCESS. */
  mode?: RunMode;
  /** Consumers plan and publish the plan but change nothing. */
  logOnly?: boolean;
  /** Only these targets act on the event; null means all. */
  targets?: null | Array<string>;
  /** accesslog, changelog, cli, courses. */
  source?: string;
}

export type ResultMode = 'LIVE' | 'REPROCESS' | 'SNAPSHOT';

export type Outcome = 'APPLIED' | 'UNCHANGED' | 'SKIPPED' | 'FAILED' | 'PLANNED' | 'HELD';

export interface AttributeChange {
  /** The target's name of the attribute. */
  attribute: string;
  /** The value before; null when there was none. */
  from?: null | string;
  /** The value after; null when removed. */
  to?: null | string;
}

export type OperationOutcome = 'APPLIED' | 'FAILED' | 'SKIPPED' | 'PLANNED' | 'HELD';

export interface OperationResult {
  /** create, update, enable, disable, rename, move, enrol, unenrol, ... */
  kind: string;
  /** The attributes the operation sets, old and new values (sensitive ones redacted). */
  changes?: Array<AttributeChange>;
  /** What the operation concerns beyond its kind (a course, an OU, an access level). */
  detail?: null | string;
  /** What became of this operation. An unknown newer symbol reads as FAILED. */
  outcome: OperationOutcome;
  /** Why the operation failed, naming the field where the target said. */
  error?: null | string;
}

export type ErrorKind = 'TRANSIENT' | 'TERMINAL';

export interface ResultError {
  /** TRANSIENT: retried, dead-lettered after the retries; TERMINAL: dead-lettered at once. An unknown newer symbol reads as TERMINAL. */
  kind: ErrorKind;
  /** A short code: the target's error code, or tilgang's (invalid-input, duplicate-account, ...). */
  code: string;
  /** The error, naming the person and the field; never a password, token or national id. */
  message: string;
  /** The field the error is about, when known. */
  field?: null | string;
}

/** What one target planned and did for one person event. Sensitive values are redacted. A public event other systems subscribe to: its registry subject is FULL compatible (each new version readable by consumers on the previous one, and each previous version by consumers on the new one), so neither tilgang nor a subscriber has to upgrade first. Fields are only added with defaults; enums carry a default symbol for symbols added later. */
export interface ProvisioningResult {
  /** Unique per result (UUID); the results store keeps one row per eventId. */
  eventId: string;
  /** eventId of the PersonChanged that caused it. */
  sourceEventId: string;
  /** The person's immutable idautoID; also the Kafka key. */
  personId: string;
  /** The target that produced the result (moodle, ad, lenel, wiseflow, ...). */
  target: string;
  /** The command run the event belonged to (see `tilgang report`); null for live changes. */
  runId?: null | string;
  /** The mode of the event this result answers. An unknown newer symbol reads as REPROCESS. */
  mode?: ResultMode;
  /** The run changed nothing: operations are PLANNED. */
  logOnly?: boolean;
  /** Overall: APPLIED when every operation was applied; FAILED when one failed; PLANNED in log-only runs; HELD by the mass-change guard. An unknown newer symbol reads as FAILED: something to look at, never taken for success. */
  outcome: Outcome;
  /** Why a SKIPPED result did nothing (not entitled and no account, a duplicate event, ...). */
  skipReason?: null | string;
  /** Whether the person is entitled to an account in the target; null when it could not be decided. */
  entitled?: null | boolean;
  /** The account's id in the target, when known. */
  accountId?: null | string;
  /** What was planned or applied, one entry per operation, in order. */
  operations?: Array<OperationResult>;
  /** Why the result FAILED: its kind, a code, a message naming the person and the field; null otherwise. */
  error?: null | ResultError;
  /** Target-specific counts for the run report (coursesAdded, coursesRemoved, ...). */
  counters?: Record<string, number>;
  /** Values the target asks to have recorded with its status in the person's directory entry (e.g. its user id for the person), name to value; never sensitive. */
  writeback?: Record<string, string>;
  /** How long the target took for this person (read, plan, apply), in milliseconds. */
  durationMs?: number;
  /** Set when this event's work was done by a later event of the same person in the same batch (the last decides): that event's eventId. Its result carries the operations. */
  coalescedInto?: null | string;
  /** When the result was made. */
  processedAt: number;
}
