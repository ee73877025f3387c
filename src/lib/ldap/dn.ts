/**
 * Distinguished names as RFC 4514 writes them: `CN=Doe\, John+employeeNumber=7,OU=Staff,DC=example`.
 * A DN is a list of RDNs, most specific first; an RDN is one or more attribute=value pairs joined
 * by `+`. Values may carry `\,`-style escapes, hex escapes of UTF-8 bytes (`\2C`, `\C3\A5`), or be
 * a `#`-prefixed BER hex string. Older writers' forms (RFC 2253/1779) are read too: quoted values
 * (`CN="Doe, John"`), `;` between RDNs and spaces around separators.
 *
 * Splitting on `,` and `=` breaks on all of these; Active Directory writes `CN=Doe\, John`.
 * ldapts can format a DN but not parse one, and ldapjs's parser left with ldapjs, which is no
 * longer maintained: this is the one parser the project's LDAP code uses.
 */

/** One attribute=value pair of an RDN. `value` is decoded (escapes resolved); a `#hex` value stays as written, lower-cased. */
export interface Ava {
  type: string;
  value: string;
  /** The value was a `#`-prefixed BER hex string (RFC 4514 2.4); `value` holds it with its `#`. */
  hex?: true;
}

/** An RDN: usually one pair, several when multi-valued (`cn=A+uid=b`). */
export type Rdn = readonly Ava[];

export class InvalidDnError extends Error {
  override name = 'InvalidDnError';
  constructor(readonly dn: string, reason: string, at: number) {
    super(`invalid DN ${JSON.stringify(dn)}: ${reason} at position ${at}`);
  }
}

const HEX = /^[0-9a-fA-F]{2}$/;
/** Characters RFC 4514 lets a backslash escape as themselves. */
const ESCAPABLE = new Set(['"', '+', ',', ';', '<', '>', '\\', ' ', '#', '=']);
const TYPE = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)*)$/;

/** Parses an RFC 4514 (or RFC 2253/1779) DN string. The empty string is the root DN: no RDNs. */
export function parseDn(input: string): Rdn[] {
  const s = input;
  let i = 0;
  const fail = (reason: string): never => { throw new InvalidDnError(input, reason, i); };
  const skipSpaces = () => { while (s[i] === ' ') i++; };
  const rdns: Rdn[] = [];
  skipSpaces();
  if (i === s.length) return rdns;
  for (;;) {
    const rdn: Ava[] = [];
    for (;;) {
      skipSpaces();
      const t0 = i;
      while (i < s.length && /[A-Za-z0-9.-]/.test(s[i]!)) i++;
      let type = s.slice(t0, i);
      if (/^oid\./i.test(type)) type = type.slice(4); // RFC 1779's OID.2.5.4.3
      if (!TYPE.test(type)) fail(type ? `bad attribute type ${JSON.stringify(type)}` : 'attribute type expected');
      skipSpaces();
      if (s[i] !== '=') fail(`"=" expected after ${type}`);
      i++;
      skipSpaces();
      rdn.push({ type, ...readValue() });
      skipSpaces();
      if (s[i] === '+') { i++; continue; }
      break;
    }
    rdns.push(rdn);
    if (i === s.length) return rdns;
    if (s[i] !== ',' && s[i] !== ';') fail(`unexpected ${JSON.stringify(s[i])}`);
    i++;
  }

  function readValue(): { value: string; hex?: true } {
    if (s[i] === '#') {
      const v0 = i++;
      while (i < s.length && /[0-9a-fA-F]/.test(s[i]!)) i++;
      const hex = s.slice(v0 + 1, i);
      if (!hex.length || hex.length % 2) fail('a #hex value needs whole bytes');
      return { value: `#${hex.toLowerCase()}`, hex: true };
    }
    if (s[i] === '"') {
      i++;
      const bytes: number[] = [];
      for (;;) {
        if (i >= s.length) fail('unterminated quoted value');
        const c = s[i]!;
        if (c === '"') { i++; break; }
        if (c === '\\') { escapeInto(bytes); continue; }
        pushChar(bytes, c);
        i++;
      }
      return { value: utf8(bytes) };
    }
    const bytes: number[] = [];
    // Unescaped trailing spaces are padding around a separator; escaped ones are the value's.
    let keep = 0;
    while (i < s.length && !',;+'.includes(s[i]!)) {
      const c = s[i]!;
      if (c === '\\') { escapeInto(bytes); keep = bytes.length; continue; }
      if (c === '"') fail('unescaped " inside a value');
      pushChar(bytes, c);
      if (c !== ' ') keep = bytes.length;
      i++;
    }
    return { value: utf8(bytes.slice(0, keep)) };
  }

  function utf8(bytes: number[]): string {
    const b = Buffer.from(bytes);
    const text = b.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(b)) fail('hex escapes that are not UTF-8');
    return text;
  }

  /** At a backslash: a hex pair is one byte of UTF-8; otherwise an escapable character stands for itself. */
  function escapeInto(bytes: number[]): void {
    const pair = s.slice(i + 1, i + 3);
    if (HEX.test(pair)) { bytes.push(parseInt(pair, 16)); i += 3; return; }
    const c = s[i + 1];
    if (c === undefined) fail('"\\" at the end');
    if (!ESCAPABLE.has(c!)) fail(`"\\${c}" is not an escape`);
    pushChar(bytes, c!);
    i += 2;
  }
}

function pushChar(bytes: number[], c: string): void {
  for (const b of Buffer.from(c, 'utf8')) bytes.push(b);
}


/** Escapes a value for a DN string (RFC 4514 2.4): the specials anywhere, `#` and space at the start, space at the end, NUL. */
export function escapeDnValue(v: string): string {
  let out = '';
  for (let k = 0; k < v.length; k++) {
    const c = v[k]!;
    if ('"+,;<>\\'.includes(c) || (k === 0 && (c === '#' || c === ' ')) || (k === v.length - 1 && c === ' ')) out += `\\${c}`;
    else if (c === '\0') out += '\\00';
    else out += c;
  }
  return out;
}

function formatAva(a: Ava): string {
  return `${a.type}=${a.hex ? a.value : escapeDnValue(a.value)}`;
}

/** The RDNs as an RFC 4514 string, types and values as they were. */
export function formatDn(rdns: readonly Rdn[]): string {
  return rdns.map((r) => r.map(formatAva).join('+')).join(',');
}

/** The short names RFC 4514 (3) lists, by OID: `2.5.4.3=x` and `cn=x` are one DN. */
const NAMES: Record<string, string> = {
  '2.5.4.3': 'cn', '2.5.4.7': 'l', '2.5.4.8': 'st', '2.5.4.10': 'o', '2.5.4.11': 'ou', '2.5.4.6': 'c',
  '2.5.4.9': 'street', '0.9.2342.19200300.100.1.25': 'dc', '0.9.2342.19200300.100.1.1': 'uid',
};

/**
 * One spelling per DN, for comparing and as a map key: types lower-cased (known OIDs named),
 * values compared as the directory's case-ignoring string rules do (case folded, NFC, runs of
 * spaces as one, none at the ends), the pairs of a multi-valued RDN sorted.
 */
export function normalizeRdns(rdns: readonly Rdn[]): Rdn[] {
  return rdns.map((r) => r
    .map((a): Ava => {
      const type = NAMES[a.type] ?? a.type.toLowerCase();
      if (a.hex) return { type, value: a.value.toLowerCase(), hex: true };
      return { type, value: a.value.normalize('NFC').toLowerCase().replace(/\s+/g, ' ').trim() };
    })
    .sort((x, y) => (x.type === y.type ? (x.value < y.value ? -1 : x.value > y.value ? 1 : 0) : x.type < y.type ? -1 : 1)));
}

/** The normalised string of a DN (see normalizeRdns). Throws InvalidDnError. */
export function normalizeDn(dn: string): string {
  return formatDn(normalizeRdns(parseDn(dn)));
}

/** Whether two DN strings name one entry. */
export function dnEquals(a: string, b: string): boolean {
  return normalizeDn(a) === normalizeDn(b);
}

/** Whether `dn` lies below `base` (`orSelf`: or is it). */
export function isUnder(dn: string, base: string, orSelf = false): boolean {
  const d = normalizeRdns(parseDn(dn));
  const b = normalizeRdns(parseDn(base));
  if (d.length < b.length || (!orSelf && d.length === b.length)) return false;
  return formatDn(d.slice(d.length - b.length)) === formatDn(b);
}

/** The DN's parent (its RDNs after the first); the root has none. */
export function parentDn(dn: string): string | undefined {
  const rdns = parseDn(dn);
  return rdns.length ? formatDn(rdns.slice(1)) : undefined;
}

/** The value of `type` in the DN's first RDN (case-insensitive type), e.g. the idautoID of a person's DN. */
export function rdnValue(dn: string, type: string): string | undefined {
  const want = NAMES[type] ?? type.toLowerCase();
  return parseDn(dn)[0]?.find((a) => !a.hex && (NAMES[a.type] ?? a.type.toLowerCase()) === want)?.value;
}

/** Builds a DN from an RDN of one pair below a parent DN, escaping the value. */
export function childDn(type: string, value: string, parent: string): string {
  const p = formatDn(parseDn(parent));
  return p ? `${type}=${escapeDnValue(value)},${p}` : `${type}=${escapeDnValue(value)}`;
}

/** How many RDNs deep the DN is. */
export function dnDepth(dn: string): number {
  return parseDn(dn).length;
}
