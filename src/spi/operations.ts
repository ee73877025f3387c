/**
 * What a plan can do, as a closed set: the core's kinds (each with the seed's run-report counter)
 * and the kinds a target declares itself (with the counters its operations report). The runtime
 * refuses a plan with a kind or counter the target did not declare, so a typo is an error, not a
 * silently missing number in the report.
 */
export const CORE_OPERATION_KINDS = ['create', 'update', 'rename', 'move', 'enable', 'disable'] as const;
export type CoreOperationKind = (typeof CORE_OPERATION_KINDS)[number];

/** The core kinds → the seed's counter names in the run report. */
export const CORE_KIND_COUNTER: Readonly<Record<CoreOperationKind, string>> = {
  create: 'add', update: 'update', rename: 'rename', move: 'move', enable: 'enable', disable: 'disable',
};

/** A target's own kinds (e.g. enrol, unenrol) and counters (e.g. coursesAdded). */
export interface OperationDeclarations<K extends string = string> {
  kinds: readonly K[];
  counters: readonly string[];
}

export type OperationKind<K extends string = never> = CoreOperationKind | K;

/** Pure: why an operation is not one the target declared, or null when it is. */
export function undeclaredOperation(op: { kind: string; counter?: string }, declared: OperationDeclarations | undefined): string | null {
  const kinds: readonly string[] = CORE_OPERATION_KINDS;
  if (!kinds.includes(op.kind) && !(declared?.kinds ?? []).includes(op.kind)) return `operation kind "${op.kind}" is not declared`;
  if (op.counter !== undefined && !(declared?.counters ?? []).includes(op.counter)) return `counter "${op.counter}" is not declared`;
  return null;
}
