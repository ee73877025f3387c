/**
 * OpenAccess's `filter` parameter: "a subset of SQL" over a type's properties, as clients use it:
 * `SSNO = "123"`, `LastName != "Lake"`, `LastName like "La%"`, `panelid = 5`,
 * `A = 1 and (B = "x" or C like "y%")`. Keywords and property names are case-insensitive; string
 * comparison is case-insensitive too, as the SQL Server collation behind OnGuard is (a choice: the
 * reference marks it unknown).
 */

export type Value = string | number | boolean | null;
export type Row = Record<string, Value>;

type Cmp = { op: '=' | '!=' | '<' | '>' | '<=' | '>=' | 'like'; prop: string; value: string | number };
export type Filter = { and: Filter[] } | { or: Filter[] } | { not: Filter } | Cmp;

export class FilterError extends Error {}

type Tok = { t: 'id' | 'str' | 'num' | 'op' | '(' | ')'; v: string };

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '(' || c === ')') { out.push({ t: c, v: c }); i++; continue; }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let v = '';
      while (j < s.length && s[j] !== c) v += s[j++];
      if (j >= s.length) throw new FilterError('unterminated string');
      out.push({ t: 'str', v });
      i = j + 1;
      continue;
    }
    const op = /^(!=|<>|<=|>=|=|<|>)/.exec(s.slice(i));
    if (op) { out.push({ t: 'op', v: op[1] === '<>' ? '!=' : op[1]! }); i += op[1]!.length; continue; }
    const num = /^-?\d+(\.\d+)?/.exec(s.slice(i));
    if (num) { out.push({ t: 'num', v: num[0] }); i += num[0].length; continue; }
    const id = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(s.slice(i));
    if (id) { out.push({ t: 'id', v: id[0] }); i += id[0].length; continue; }
    throw new FilterError(`unexpected character ${JSON.stringify(c)}`);
  }
  return out;
}

export function parseFilter(text: string): Filter {
  const toks = tokenize(text);
  let p = 0;
  const peekKw = (kw: string) => toks[p]?.t === 'id' && toks[p]!.v.toLowerCase() === kw;
  const orExpr = (): Filter => {
    const parts = [andExpr()];
    while (peekKw('or')) { p++; parts.push(andExpr()); }
    return parts.length === 1 ? parts[0]! : { or: parts };
  };
  const andExpr = (): Filter => {
    const parts = [unary()];
    while (peekKw('and')) { p++; parts.push(unary()); }
    return parts.length === 1 ? parts[0]! : { and: parts };
  };
  const unary = (): Filter => {
    if (peekKw('not')) { p++; return { not: unary() }; }
    if (toks[p]?.t === '(') {
      p++;
      const f = orExpr();
      if (toks[p]?.t !== ')') throw new FilterError('missing )');
      p++;
      return f;
    }
    const prop = toks[p++];
    if (prop?.t !== 'id') throw new FilterError('expected a property name');
    let op: Cmp['op'];
    if (toks[p]?.t === 'op') op = toks[p++]!.v as Cmp['op'];
    else if (peekKw('like')) { p++; op = 'like'; } else throw new FilterError(`expected an operator after ${prop.v}`);
    const v = toks[p++];
    if (!v || (v.t !== 'str' && v.t !== 'num')) throw new FilterError(`expected a value after ${prop.v} ${op}`);
    return { op, prop: prop.v, value: v.t === 'num' ? Number(v.v) : v.v };
  };
  if (!toks.length) throw new FilterError('empty filter');
  const f = orExpr();
  if (p !== toks.length) throw new FilterError(`unexpected ${toks[p]!.v}`);
  return f;
}

/** Every property name the filter mentions (to refuse unknown ones as OpenAccess does). */
export function filterProps(f: Filter): string[] {
  if ('and' in f) return f.and.flatMap(filterProps);
  if ('or' in f) return f.or.flatMap(filterProps);
  if ('not' in f) return filterProps(f.not);
  return [f.prop];
}

const likeRe = (pattern: string) =>
  new RegExp(`^${pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.')}$`, 'is');

function compare(a: Value, b: string | number): number | null {
  if (a === null || a === undefined) return null;
  if (typeof b === 'number') {
    const n = typeof a === 'number' ? a : Number(a);
    return Number.isNaN(n) ? null : n - b;
  }
  const x = String(a).toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

/** `get(row, prop)` resolves a property name case-insensitively to its value. */
export function matches(f: Filter, get: (prop: string) => Value): boolean {
  if ('and' in f) return f.and.every((x) => matches(x, get));
  if ('or' in f) return f.or.some((x) => matches(x, get));
  if ('not' in f) return !matches(f.not, get);
  const v = get(f.prop);
  if (f.op === 'like') return v !== null && likeRe(String(f.value)).test(String(v));
  const c = compare(v, f.value);
  if (c === null) return f.op === '!=';
  switch (f.op) {
    case '=': return c === 0;
    case '!=': return c !== 0;
    case '<': return c < 0;
    case '>': return c > 0;
    case '<=': return c <= 0;
    case '>=': return c >= 0;
  }
}
