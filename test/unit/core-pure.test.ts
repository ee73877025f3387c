/** Table tests for the runtime's pure functions, which the runtime's end-to-end tests reach only in passing. */
import { describe, expect, it } from 'vitest';
import { isEntitled, isProvisioned, missingEssential } from '../../src/consumers/entitlement.js';
import { addressed, appliedResult, baseResult, errorInfo, failedResult, type Prepared, type ReconcileDeps } from '../../src/consumers/reconcile.js';
import { waves } from '../../src/consumers/coalesce.js';
import { scrubSecrets } from '../../src/lib/log.js';
import { redactChanges, scrubMessage } from '../../src/lib/redact.js';
import type { PersonChanged } from '../../src/schemas/generated.js';
import { TerminalError, TransientError, undeclaredOperation, type EntitlementRules, type Operation, type OperationResult, type PersonContext, type PersonRecord } from '../../src/spi/index.js';

const rec = (attrs: Record<string, string[]>): PersonRecord => ({ dn: 'idautoID=x,ou=Accounts,dc=meta', attrs });
const STUDENTS: EntitlementRules = { affiliations: ['student', 'employee'], roles: ['iam:guest'], request: 'moodle' };

describe('waves: the n-th event of every person, in order', () => {
  it.each([
    [[], []],
    [['a'], [['a']]],
    [['a', 'b', 'c'], [['a', 'b', 'c']]],
    [['a', 'a', 'a'], [['a'], ['a'], ['a']]],
    [['a', 'b', 'a', 'c', 'b', 'a'], [['a', 'b', 'c'], ['a', 'b'], ['a']]],
  ])('%j → %j', (keys, expected) => {
    const items = keys.map((key, i) => ({ key, i }));
    const out = waves(items);
    expect(out.map((w) => w.map((x) => x.key))).toEqual(expected);
    // Within a person the order is kept: wave k holds the person's k-th event.
    for (const key of new Set(keys)) expect(out.flat().filter((x) => x.key === key).map((x) => x.i)).toEqual(items.filter((x) => x.key === key).map((x) => x.i));
  });
});

describe('entitlement: birthright or a granted request', () => {
  it.each<[string, Record<string, string[]>, boolean]>([
    ['primary affiliation', { idautoPersonAffiliation: ['student'] }, true],
    ['one of several affiliations', { idautoPersonAffiliations: ['alum', 'Employee'] }, true],
    ['an affiliation the rules do not name', { idautoPersonAffiliation: ['alum'] }, false],
    ['a business role', { idautoPersonAffiliation: ['alum'], idautoPersonAppRoles: ['IAM:Guest'] }, true],
    ['a granted request', { idautoRequestAssociations: ['moodle'] }, true],
    ['a granted request with a detail', { idautoRequestAssociations: ['Moodle:2026-12-31'] }, true],
    ['a request for another target', { idautoRequestAssociations: ['moodlecourses'] }, false],
    ['nothing at all', {}, false],
    ['disabled: no birthright', { idautoPersonAffiliation: ['student'], idautoDisabled: ['TRUE'] }, false],
    ['disabled, yet a granted request', { idautoPersonAffiliation: ['student'], idautoDisabled: ['true'], idautoRequestAssociations: ['moodle'] }, true],
    ['idautoDisabled FALSE', { idautoPersonAffiliation: ['student'], idautoDisabled: ['FALSE'] }, true],
  ])('%s → %s', (_what, attrs, expected) => {
    expect(isEntitled(rec(attrs), STUDENTS)).toBe(expected);
  });

  it('rules without a request grant nothing by request', () => {
    expect(isEntitled(rec({ idautoRequestAssociations: ['moodle'] }), { affiliations: [], roles: [] })).toBe(false);
  });

  it.each<[string[], string, boolean]>([
    [['moodle'], 'moodle', true],
    [['AD', 'Moodle'], 'moodle', true],
    [['ad'], 'moodle', false],
    [[], 'moodle', false],
  ])('provisioned to %j, asked for %s → %s', (values, target, expected) => {
    expect(isProvisioned(rec({ tilgangProvisionedTo: values }), target)).toBe(expected);
  });
});

describe('essential attributes', () => {
  it.each<[Record<string, string[]>, (string | string[])[], string[]]>([
    [{ givenName: ['Åse'], sn: ['Ødegård'] }, ['givenName', 'sn'], []],
    [{ sn: ['Ødegård'], idautoPersonStuID: ['123'] }, ['sn', ['idautoPersonHRID', 'idautoPersonStuID']], []],
    [{ sn: ['Ødegård'], idautoPersonHRID: [' '] }, ['sn', ['idautoPersonHRID', 'idautoPersonStuID']], ['idautoPersonHRID or idautoPersonStuID']],
    [{ givenName: ['Åse'] }, ['givenName', 'sn'], ['sn']],
    [{ givenName: ['  '], sn: [''] }, ['givenName', 'sn'], ['givenName', 'sn']],
    [{ mail: ['', 'a@b.no'] }, ['mail'], []],
    [{}, [], []],
  ])('%j needing %j lacks %j', (attrs, essential, missing) => {
    expect(missingEssential(rec(attrs), essential)).toEqual(missing);
  });
});

describe('redaction and scrubbing', () => {
  it.each([
    ['a configured sensitive attribute', { attribute: 'idautoPersonNationalID', from: '01810012345', to: '01810054321' }, { attribute: 'idautoPersonNationalID', from: '[redacted]', to: '[redacted]' }],
    ['case does not matter', { attribute: 'IDAUTOPERSONNATIONALID', from: null, to: '01810012345' }, { attribute: 'IDAUTOPERSONNATIONALID', from: null, to: '[redacted]' }],
    ['a password by its name', { attribute: 'unicodePwd', from: null, to: 'hunter22' }, { attribute: 'unicodePwd', from: null, to: '[redacted]' }],
    ['a token by its name', { attribute: 'apiToken', from: 'a', to: null }, { attribute: 'apiToken', from: '[redacted]', to: null }],
    ['an ordinary attribute', { attribute: 'sn', from: 'Ås', to: 'Øy' }, { attribute: 'sn', from: 'Ås', to: 'Øy' }],
    ['undefined values become null', { attribute: 'sn', to: 'Øy' }, { attribute: 'sn', from: null, to: 'Øy' }],
  ])('%s', (_what, change, expected) => {
    expect(redactChanges([change as never], ['idautoPersonNationalID'])).toEqual([expected]);
  });

  it('no changes is an empty list', () => {
    expect(redactChanges(undefined, [])).toEqual([]);
  });

  it.each([
    ['an 11-digit number', 'person 01810012345 refused', [], 'person [redacted-11-digits] refused'],
    ['a token in a query', 'GET /x?wstoken=abc123&x=1 failed', [], 'GET /x?wstoken=[redacted]&x=1 failed'],
    ['a password in a form', 'body password=hunter22 rejected', [], 'body password=[redacted] rejected'],
    ['a resolved secret anywhere', 'echo: s3cr3t-value!', ['s3cr3t-value'], 'echo: [redacted]!'],
    ['a secret shorter than 4 is left (it would blank out words)', 'abc abc', ['abc'], 'abc abc'],
    ['12 digits are not a national id', 'id 123456789012', [], 'id 123456789012'],
  ])('scrubMessage: %s', (_what, msg, secrets, expected) => {
    expect(scrubMessage(msg, secrets)).toBe(expected);
  });

  it('scrubMessage cuts very long texts', () => {
    const out = scrubMessage('x'.repeat(5000));
    expect(out).toHaveLength(2001);
    expect(out.endsWith('…')).toBe(true);
  });

  it.each([
    ['a string', 'token tok-123456 here', 'token [redacted] here'],
    ['nested objects and arrays', { a: [{ b: 'x tok-123456' }], n: 1 }, { a: [{ b: 'x [redacted]' }], n: 1 }],
    ['an error', Object.assign(new Error('refused tok-123456'), { code: 'E1' }), { type: 'Error', message: 'refused [redacted]', code: 'E1' }],
    ['what has no secret', { a: 'fine', b: null }, { a: 'fine', b: null }],
  ])('scrubSecrets: %s', (_what, value, expected) => {
    const out = scrubSecrets(value, ['tok-123456']);
    expect(out).toMatchObject(expected as object);
    expect(JSON.stringify(out)).not.toContain('tok-123456');
  });
});

describe('operation kinds a target declares', () => {
  const declared = { kinds: ['enrol', 'unenrol'], counters: ['coursesAdded'] };
  it.each<[{ kind: string; counter?: string }, typeof declared | undefined, string | null]>([
    [{ kind: 'create' }, undefined, null],
    [{ kind: 'disable' }, declared, null],
    [{ kind: 'enrol', counter: 'coursesAdded' }, declared, null],
    [{ kind: 'enrol' }, undefined, 'operation kind "enrol" is not declared'],
    [{ kind: 'delete' }, declared, 'operation kind "delete" is not declared'],
    [{ kind: 'enrol', counter: 'coursesRemoved' }, declared, 'counter "coursesRemoved" is not declared'],
    [{ kind: 'create', counter: 'x' }, undefined, 'counter "x" is not declared'],
  ])('%j with %j → %j', (op, decl, expected) => {
    expect(undeclaredOperation(op, decl)).toBe(expected);
  });
});

describe('result building', () => {
  const event: PersonChanged = { eventId: 'ev-1', personId: 'p-1', changeType: 'MODIFY', changeTime: 0, runId: 'run-1', mode: 'REPROCESS', logOnly: false };

  it('a base result carries the event, the target and the run; a fresh id of its own', () => {
    const a = baseResult(event, 'p-1', 'pgtest', Date.now());
    const b = baseResult(event, 'p-1', 'pgtest', Date.now());
    expect(a).toMatchObject({ sourceEventId: 'ev-1', personId: 'p-1', target: 'pgtest', runId: 'run-1', mode: 'REPROCESS', logOnly: false, outcome: 'UNCHANGED', operations: [], error: null, counters: {} });
    expect(a.eventId).not.toBe(b.eventId);
    expect(baseResult({ ...event, runId: undefined, mode: undefined, logOnly: undefined } as never, 'p-1', 't', 0)).toMatchObject({ runId: null, mode: 'LIVE', logOnly: false });
  });

  it.each([
    ['a TransientError', new TransientError('connection reset', 'ECONNRESET'), { kind: 'TRANSIENT', code: 'ECONNRESET', message: 'connection reset', field: null }],
    ['a TerminalError names its field', new TerminalError('duplicate accounts: a, b', 'duplicate', 'username'), { kind: 'TERMINAL', code: 'duplicate', message: 'duplicate accounts: a, b', field: 'username' }],
    ['a network error is transient', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), { kind: 'TRANSIENT', code: 'ECONNRESET', message: 'read ECONNRESET', field: null }],
    ['a bug is terminal, coded by its name', new TypeError('x is undefined'), { kind: 'TERMINAL', code: 'TypeError', message: 'x is undefined', field: null }],
    ['a secret in the text is scrubbed', new TerminalError('refused token tok-123456 for 01810012345'), { kind: 'TERMINAL', code: 'terminal', message: 'refused token [redacted] for [redacted-11-digits]', field: null }],
  ])('errorInfo: %s', (_what, e, expected) => {
    expect(errorInfo(e, ['tok-123456'])).toEqual(expected);
  });

  it('a failed result is FAILED with the error', () => {
    expect(failedResult(event, 'p-1', 'pgtest', 0, new TerminalError('no', 'refused', 'mail'), [])).toMatchObject({ outcome: 'FAILED', error: { kind: 'TERMINAL', code: 'refused', field: 'mail' } });
  });

  it.each([
    [{ targets: null }, 'moodle', true],
    [{ targets: undefined }, 'moodle', true],
    [{ targets: ['moodle'] }, 'moodle', true],
    [{ targets: ['ad'] }, 'moodle', false],
    [{ targets: [] }, 'moodle', false],
  ])('addressed %j to %s → %s', (over, target, expected) => {
    expect(addressed({ ...event, ...over } as PersonChanged, target)).toBe(expected);
  });

  const person: PersonContext = { id: 'p-1', event, record: rec({}), mv: undefined, entitled: true, provisioned: false };
  const deps = { target: { name: 'pgtest' }, sensitive: ['idautoPersonNationalID'], secrets: ['tok-123456'] } as unknown as ReconcileDeps;
  const prepared = (operations: Operation[], accountId?: string): Extract<Prepared, { kind: 'apply' }> => ({
    kind: 'apply', event, key: 'p-1', desired: null, actual: null, started: Date.now(), plan: { operations, ...(accountId ? { accountId } : {}) },
    person,
  });
  const ops: Operation[] = [
    { kind: 'update', changes: [{ attribute: 'idautoPersonNationalID', from: '01810012345', to: '01810054321' }, { attribute: 'sn', from: 'A', to: 'B' }] },
    { kind: 'enrol', counter: 'coursesAdded', detail: 'enrol in INF100' },
    { kind: 'enrol', counter: 'coursesAdded', detail: 'enrol in INF200' },
  ];

  it.each<[string, OperationResult[], { outcome: string; counters: Record<string, number>; accountId: string | null; error: string | null }]>([
    ['every operation applied', [{ outcome: 'APPLIED', accountId: '42' }, { outcome: 'APPLIED' }, { outcome: 'APPLIED' }],
      { outcome: 'APPLIED', counters: { coursesAdded: 2 }, accountId: '42', error: null }],
    ['one failed: the result fails, its counter says Fail', [{ outcome: 'APPLIED' }, { outcome: 'FAILED', error: 'refused with tok-123456' }, { outcome: 'APPLIED' }],
      { outcome: 'FAILED', counters: { coursesAdded: 1, coursesAddedFail: 1 }, accountId: 'acc-from-plan', error: 'enrol failed: refused with [redacted]' }],
    ['a result missing from the target counts as failed; a skipped operation counts nothing', [{ outcome: 'APPLIED' }, { outcome: 'SKIPPED' }],
      { outcome: 'FAILED', counters: { coursesAddedFail: 1 }, accountId: 'acc-from-plan', error: 'enrol failed: no result from the target' }],
  ])('appliedResult: %s', (_what, results, expected) => {
    const r = appliedResult(prepared(ops, 'acc-from-plan'), results, deps);
    expect({ outcome: r.outcome, counters: r.counters, accountId: r.accountId, error: r.error?.message ?? null }).toEqual(expected);
    expect(r.operations![0]!.changes).toEqual([{ attribute: 'idautoPersonNationalID', from: '[redacted]', to: '[redacted]' }, { attribute: 'sn', from: 'A', to: 'B' }]);
    expect(r.operations!.map((o) => o.kind)).toEqual(['update', 'enrol', 'enrol']);
    expect(JSON.stringify(r)).not.toMatch(/01810012345|tok-123456/);
  });
});
