/**
 * The small pieces of PHP behaviour the Moodle web-service layer leaks onto the wire:
 * `$_GET`/`$_POST` decoding of bracketed names, `json_encode`, `htmlspecialchars`, `var_export`,
 * `(int)` casts and `strip_tags`. Each follows PHP 8.2 closely enough that responses match
 * byte for byte what a real Moodle sends.
 */

/** A decoded request variable: a string, or a PHP array (ordered, string keys). */
export type PhpValue = string | PhpArray;
export type PhpArray = Map<string, PhpValue>;

export function isPhpArray(v: unknown): v is PhpArray {
  return v instanceof Map;
}

/** PHP's `max_input_nesting_level` default. */
const MAX_NESTING = 64;

/** `urldecode()`: `+` is a space, `%XX` a byte, malformed escapes stay as they are. */
export function urlDecode(s: string): string {
  if (!/[+%]/.test(s)) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) {
      bytes.push(0x20);
    } else if (c === 0x25 && i + 2 < s.length && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      for (const b of Buffer.from(s[i]!, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function isIntKey(k: string): boolean {
  return /^(0|-?[1-9][0-9]*)$/.test(k) && Number.isSafeInteger(Number(k));
}

function nextIndex(arr: PhpArray): string {
  let max = -1;
  for (const k of arr.keys()) if (isIntKey(k)) max = Math.max(max, Number(k));
  return String(max + 1);
}

/**
 * Registers one `name=value` pair the way `php_register_variable_ex` does: the base name has
 * spaces and dots turned into underscores, `[x]` segments nest, `[]` appends, a later scalar
 * overwrites an earlier array (and the reverse), a malformed segment ends the name.
 */
export function registerVariable(target: PhpArray, rawName: string, value: string): void {
  let name = rawName.replace(/^ +/, '');
  if (name === '') return;
  const open = name.indexOf('[');
  let base = open === -1 ? name : name.slice(0, open);
  const segments: string[] = [];
  if (open !== -1) {
    let rest = name.slice(open);
    while (rest.startsWith('[')) {
      const close = rest.indexOf(']');
      if (close === -1) {
        // PHP: an unterminated bracket in the first position becomes part of the base name.
        if (segments.length === 0) {
          base = base + '_' + rest.slice(1);
        }
        break;
      }
      segments.push(rest.slice(1, close));
      rest = rest.slice(close + 1);
    }
    name = base;
  }
  base = base.replace(/[ .]/g, '_');
  if (base === '') return;
  if (segments.length > MAX_NESTING) return;
  const path = [base, ...segments];
  let cur = target;
  for (let i = 0; i < path.length; i++) {
    let key = path[i]!;
    const last = i === path.length - 1;
    if (key === '' && i > 0) key = nextIndex(cur);
    if (last) {
      cur.set(key, value);
    } else {
      const existing = cur.get(key);
      if (isPhpArray(existing)) {
        cur = existing;
      } else {
        const fresh: PhpArray = new Map();
        cur.set(key, fresh);
        cur = fresh;
      }
    }
  }
}

/**
 * `parse_str()` of a query string or an `application/x-www-form-urlencoded` body.
 * `maxVars` mirrors `max_input_vars`: pairs beyond it are silently dropped.
 */
export function parseQuery(query: string, maxVars = 5000): PhpArray {
  const out: PhpArray = new Map();
  if (!query) return out;
  let count = 0;
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    if (++count > maxVars) break;
    const eq = pair.indexOf('=');
    const name = urlDecode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : urlDecode(pair.slice(eq + 1));
    registerVariable(out, name, value);
  }
  return out;
}

/** `array_merge($a, $b)` for top-level string keys: later values win, first position stays. */
export function arrayMerge(a: PhpArray, b: PhpArray): PhpArray {
  const out: PhpArray = new Map(a);
  for (const [k, v] of b) out.set(k, v);
  return out;
}

/** JSON value as produced by our functions: what PHP's json_encode would see. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function encodeString(s: string): string {
  // JSON.stringify handles quotes, backslashes and control characters like PHP does
  // (lowercase \u00xx); PHP additionally escapes "/" and every non-ASCII UTF-16 unit.
  return JSON.stringify(s)
    .replace(/\//g, '\\/')
    .replace(/[\u0080-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** `json_encode($value)` with PHP's default flags. An empty associative array is `[]` in PHP. */
export function phpJsonEncode(v: Json | undefined): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return '0';
    return Number.isInteger(v) ? String(v) : String(v);
  }
  if (typeof v === 'string') return encodeString(v);
  if (Array.isArray(v)) return '[' + v.map((x) => phpJsonEncode(x)).join(',') + ']';
  const keys = Object.keys(v);
  if (keys.length === 0) return '[]';
  return '{' + keys.map((k) => encodeString(k) + ':' + phpJsonEncode(v[k])).join(',') + '}';
}

/** `htmlspecialchars($s, ENT_COMPAT, 'UTF-8')`. */
export function htmlspecialchars(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `var_export()` of a flat list of scalars, as the DML layer prints query parameters. */
export function varExportList(values: (string | number)[]): string {
  return varExportArray(values.map((v, i) => [i, v]));
}

/** `var_export()` of an array given as key/value pairs (keys in order). */
export function varExportArray(entries: [string | number, string | number][]): string {
  const quote = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const lines = entries.map(([k, v]) => `  ${typeof k === 'number' ? k : quote(k)} => ${typeof v === 'number' ? String(v) : quote(v)},`);
  return `array (\n${lines.join('\n')}\n)`;
}

/** PHP's `trim()` default character set. */
export function phpTrim(s: string): string {
  return s.replace(/^[ \t\n\r\0\x0B]+|[ \t\n\r\0\x0B]+$/g, '');
}

/** `is_numeric()` for strings (PHP 8: leading and trailing whitespace allowed). */
export function isNumericString(s: string): boolean {
  return /^[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ \t\n\r\v\f]*$/.test(s);
}

const INT_MAX = 9223372036854775807n;
const INT_MIN = -9223372036854775808n;

/** `(int)$string`: numeric prefix, saturating at the 64-bit limits. Returned as a JS number. */
export function phpIntval(s: string): number {
  const t = s.replace(/^[ \t\n\r\v\f]+/, '');
  const m = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(t);
  if (!m) return 0;
  const text = m[0];
  if (/^[+-]?\d+$/.test(text)) {
    let b = BigInt(text);
    if (b > INT_MAX) b = INT_MAX;
    if (b < INT_MIN) b = INT_MIN;
    return Number(b);
  }
  const f = Number(text);
  if (!Number.isFinite(f)) return 0;
  return Math.trunc(f);
}

/** `(string)(int)$s === $s`, exactly, with 64-bit bounds: what PARAM_INT validation accepts. */
export function isCanonicalInt(s: string): boolean {
  if (!/^(0|-?[1-9]\d*)$/.test(s)) return false;
  const b = BigInt(s);
  return b <= INT_MAX && b >= INT_MIN;
}

/**
 * `strip_tags()` approximation: a `<` followed by a letter, `/`, `!` or `?` opens a tag that
 * runs to the next `>` (or the end of the string); other `<` characters are kept.
 */
export function stripTags(s: string): string {
  return s.replace(/\0/g, '').replace(/<!--[\s\S]*?(-->|$)/g, '').replace(/<[a-zA-Z/!?][^>]*(>|$)/g, '');
}

/** PHP's `empty()` for the scalar values request parameters can hold. */
export function phpEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || v === '0' || v === 0 || v === false
    || (Array.isArray(v) && v.length === 0);
}

/** PHP string `print_r` of a request value, for "The bad value is: '...'" messages. */
export function printR(v: PhpValue | unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? '1' : '';
  if (v === null || v === undefined) return '';
  return 'Array';
}
