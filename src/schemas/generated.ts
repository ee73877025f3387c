// Generated from avro/*.avsc by src/schemas/codegen.ts (npm run avro:types). Do not edit.

export type CourseChangeType = 'ADDED' | 'CHANGED' | 'REPROCESS' | 'SNAPSHOT';

export type RunMode = 'LIVE' | 'REPROCESS' | 'SNAPSHOT';

/** A course of MV's catalogue (master_topics) to look at again. Level-triggered: consumers read the topic's current row; the event says which topic and why, never the values. */
export interface CourseChanged {
  /** Unique per event. */
  eventId: string;
  /** The topic's source id, institution:code:version; also the Kafka key. */
  sourceId: string;
  /** ADDED and CHANGED come from the courses producer following the catalogue; REPROCESS from `courses sync --source-id`; SNAPSHOT from `courses sync --all`. */
  changeType: CourseChangeType;
  changeTime: number;
  /** Set on events published by a command run (courses sync). */
  runId?: null | string;
  mode?: RunMode;
  /** Consumers plan and publish the plan but change nothing. */
  logOnly?: boolean;
  /** A course made now does not reprocess its people. */
  skipUsers?: boolean;
  /** Only these targets act on the event; null means all. */
  targets?: null | Array<string>;
  /** catalogue, cli. */
  source?: string;
}

export type ChangeType = 'ADD' | 'MODIFY' | 'MODRDN' | 'DELETE' | 'REPROCESS' | 'SNAPSHOT';

/** A person to look at again. Level-triggered: consumers read the person's current record; the event says which person and why, never the values. */
export interface PersonChanged {
  /** Unique per event (UUID). */
  eventId: string;
  /** The person's immutable idautoID; also the Kafka key. */
  personId: string;
  /** ADD..DELETE come from the change log; REPROCESS from `sync --key-value`/a persons file/a course; SNAPSHOT from a full reconciliation. */
  changeType: ChangeType;
  /** Names only; sensitive attributes are left out. */
  changedAttributes?: Array<string>;
  oldDn?: null | string;
  newDn?: null | string;
  changeTime: number;
  /** The change log cookie of this change (accesslog reqStart). */
  changelogPosition?: null | string;
  /** Set on events published by a command run (sync). */
  runId?: null | string;
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
  attribute: string;
  from?: null | string;
  to?: null | string;
}

export type OperationOutcome = 'APPLIED' | 'FAILED' | 'SKIPPED' | 'PLANNED' | 'HELD';

export interface OperationResult {
  /** create, update, enable, disable, rename, move, enrol, unenrol, ... */
  kind: string;
  changes?: Array<AttributeChange>;
  detail?: null | string;
  outcome: OperationOutcome;
  error?: null | string;
}

export type ErrorKind = 'TRANSIENT' | 'TERMINAL';

export interface ResultError {
  kind: ErrorKind;
  code: string;
  message: string;
  field?: null | string;
}

/** What one target planned and did for one person event. Sensitive values are redacted. */
export interface ProvisioningResult {
  eventId: string;
  /** eventId of the PersonChanged that caused it. */
  sourceEventId: string;
  personId: string;
  target: string;
  runId?: null | string;
  mode?: ResultMode;
  logOnly?: boolean;
  /** Overall: APPLIED when every operation was applied; FAILED when one failed; PLANNED in log-only runs; HELD by the mass-change guard. */
  outcome: Outcome;
  skipReason?: null | string;
  entitled?: null | boolean;
  /** The account's id in the target, when known. */
  accountId?: null | string;
  operations?: Array<OperationResult>;
  error?: null | ResultError;
  /** Target-specific counts for the run report (coursesAdded, coursesRemoved, ...). */
  counters?: Record<string, number>;
  /** Values the target asks to have recorded with its status in the person's directory entry (e.g. its user id for the person), name to value; never sensitive. */
  writeback?: Record<string, string>;
  durationMs?: number;
  /** Set when this event's work was done by a later event of the same person in the same batch (the last decides): that event's eventId. Its result carries the operations. */
  coalescedInto?: null | string;
  processedAt: number;
}
