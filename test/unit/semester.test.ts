import { describe, expect, it } from 'vitest';
import { semesterOf, semestersInScope } from '../../src/lib/semester.js';

const from = { spring: 5, autumn: 11 };
const at = (iso: string) => semestersInScope(new Date(`${iso}T12:00:00Z`), from).map((s) => `${s.year}:${s.term}`);

describe('semesters in scope', () => {
  it.each([
    ['2026-01-15', ['2026:VÅR']],
    ['2026-04-30', ['2026:VÅR']],
    ['2026-05-01', ['2026:VÅR', '2026:HØST']],
    ['2026-06-30', ['2026:VÅR', '2026:HØST']],
    ['2026-07-01', ['2026:HØST']],
    ['2026-10-31', ['2026:HØST']],
    ['2026-11-01', ['2026:HØST', '2027:VÅR']],
    ['2026-12-31', ['2026:HØST', '2027:VÅR']],
  ])('on %s: %j', (day, scope) => {
    expect(at(day)).toEqual(scope);
  });

  it('the switch month is configurable', () => {
    expect(semestersInScope(new Date('2026-03-01T00:00:00Z'), { spring: 3, autumn: 12 }).map((s) => s.term)).toEqual(['VÅR', 'HØST']);
    expect(semestersInScope(new Date('2026-11-30T00:00:00Z'), { spring: 3, autumn: 12 }).map((s) => s.term)).toEqual(['HØST']);
    expect(semesterOf(new Date('2026-06-30T23:59:59Z'))).toEqual({ year: 2026, term: 'VÅR' });
  });
});
