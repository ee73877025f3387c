import type { Client, Entry } from 'ldapts';
import { A, STATUS_ATTRIBUTES } from '../directory/attributes.js';
import { InvalidDnError, parseDn } from '../lib/ldap/dn.js';
import { and, eq, ge, type Filter } from '../lib/ldap/filter.js';
import type { ChangeType } from '../schemas/generated.js';

/** One successful write from the directory's change log, as tilgang understands it. */
export interface Change {
  /** The entry's name (reqStart): unique, the event's changelogPosition. */
  position: string;
  /** The entry's entryCSN: the order entries were written in, and the producer's cookie. */
  csn: string | undefined;
  type: Extract<ChangeType, 'ADD' | 'MODIFY' | 'MODRDN' | 'DELETE'>;
  personId: string;
  oldDn: string;
  newDn: string | null;
  changedAttributes: string[];
  time: number;
}

/** An entry the producer passes over, and why (counted and logged with the DN). */
export interface Skip {
  position: string | undefined;
  csn: string | undefined;
  dn: string | undefined;
  reason: 'malformed' | 'not-a-person' | 'no-idautoID' | 'own-write' | 'status-only' | 'unsupported-type';
}

export interface InterpretOptions {
  peopleDn: string;
  /** tilgang's own account: its writes (the writeback) are never republished. */
  ownDn: string;
  sensitive: readonly string[];
}

// Maintained by the server, not by people: a change to only these is no change to the person.
const OPERATIONAL = new Set(['entrycsn', 'modifiersname', 'modifytimestamp', 'createtimestamp', 'creatorsname',
  'entryuuid', 'structuralobjectclass', 'contextcsn', 'hassubordinates', 'subschemasubentry']);

/** DNs compared the way the directory compares them, near enough: case and spaces after commas. */
export function normDn(dn: string): string {
  const d = /^dn:/i.test(dn) ? dn.slice(3) : dn;
  // Most DNs have no spaces around their commas: then lower case is all it takes.
  return (d.includes(' ,') || d.includes(', ') || d !== d.trim() ? d.split(',').map((p) => p.trim()).join(',') : d).toLowerCase();
}

const str = (e: Entry, k: string): string | undefined => {
  const v = e[k];
  const x = Array.isArray(v) ? v[0] : v;
  return x === undefined ? undefined : Buffer.isBuffer(x) ? x.toString('utf8') : String(x);
};
const strs = (e: Entry, k: string): string[] => {
  const v = e[k];
  return (v === undefined ? [] : Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
};

const COOKIE = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\.(\d{6})Z$/;

export function cookieTime(cookie: string): number | undefined {
  const m = COOKIE.exec(cookie);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac] = m;
  return Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!) + Math.floor(+frac! / 1000);
}

/** The attribute names a reqMod list touches (`attr:+ value`, `attr:= value`, `attr:-`...). */
export function modifiedAttributes(reqMod: (string | Buffer)[]): string[] {
  const names = new Set<string>();
  for (const m of reqMod) {
    // Only the name is needed: a large (binary, base64 on the wire) value is not decoded.
    const i = typeof m === 'string' ? m.indexOf(':') : m.indexOf(0x3a);
    if (i > 0) names.add(typeof m === 'string' ? m.slice(0, i) : m.toString('utf8', 0, i));
  }
  return [...names];
}

/** What interpret compares against, normalised once per set of options rather than once per entry. */
interface Prepared { base: string; own: string; status: Set<string>; sensitive: Set<string> }
const prepared = new WeakMap<InterpretOptions, Prepared>();
function prepare(o: InterpretOptions): Prepared {
  let p = prepared.get(o);
  if (!p) {
    p = {
      base: `,${normDn(o.peopleDn)}`,
      own: normDn(o.ownDn),
      status: new Set(STATUS_ATTRIBUTES.map((a) => a.toLowerCase())),
      sensitive: new Set(o.sensitive.map((x) => x.toLowerCase())),
    };
    prepared.set(o, p);
  }
  return p;
}

/**
 * The pairs of a DN's first RDN. The directory writes reqDN with its specials hex-escaped
 * (`idautoID=a\3D\2A` for `a=*`, `\00` for NUL): such a DN is read with the RFC 4514 parser, so
 * the event names the person by the idautoID they have, not by its escaped spelling. Most DNs have
 * no escape and take the quick way. Throws InvalidDnError.
 */
const firstRdn = (x: string): { attr: string; value: string }[] => {
  if (x.includes('\\') || x.includes('+') || x.includes('"')) {
    return (parseDn(x)[0] ?? []).filter((a) => !a.hex).map((a) => ({ attr: a.type.toLowerCase(), value: a.value }));
  }
  const comma = x.indexOf(',');
  const rdn = comma < 0 ? x : x.slice(0, comma);
  const eq = rdn.indexOf('=');
  return [{ attr: rdn.slice(0, eq).trim().toLowerCase(), value: rdn.slice(eq + 1).trim() }];
};

const KINDS = { add: 'ADD', modify: 'MODIFY', modrdn: 'MODRDN', delete: 'DELETE' } as const;

/** Pure: turns one `auditWriteObject` entry into a Change, or says why it is passed over. */
export function interpret(e: Entry, o: InterpretOptions): Change | Skip {
  const p = prepare(o);
  const position = str(e, 'reqStart');
  const csn = str(e, 'entryCSN');
  const dn = str(e, 'reqDN');
  const type = str(e, 'reqType')?.toLowerCase();
  const time = position ? cookieTime(position) : undefined;
  const skip = (reason: Skip['reason']): Skip => ({ position, csn, dn, reason });
  if (!position || !dn || !type || time === undefined) return skip('malformed');
  if (!(type in KINDS)) return skip('unsupported-type');

  // A rename or move is judged by where the entry ends up as well as where it was: moved into the
  // people tree it is a new person to the targets (ADD), moved out of it one that left (DELETE).
  let newDn: string | null = type === 'delete' ? null : dn;
  if (type === 'modrdn') {
    const newRdn = str(e, 'reqNewRDN');
    if (!newRdn) return skip('malformed');
    newDn = `${newRdn},${str(e, 'reqNewSuperior') ?? dn.slice(dn.indexOf(',') + 1)}`;
  }
  const under = (x: string | null) => x !== null && normDn(x).endsWith(p.base);
  const wasIn = under(dn);
  const isIn = newDn === dn ? wasIn : under(newDn);
  if (!wasIn && !isIn) return skip('not-a-person');
  const authz = str(e, 'reqAuthzID');
  if (authz && normDn(authz) === p.own) return skip('own-write');

  const raw = e.reqMod;
  const mods = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const touched = modifiedAttributes(mods as (string | Buffer)[]).filter((a) => !OPERATIONAL.has(a.toLowerCase()));
  if (type === 'modify' && touched.length > 0 && touched.every((a) => p.status.has(a.toLowerCase()))) {
    return skip('status-only');
  }
  if (type === 'modify' && touched.length === 0) return skip('malformed');

  const idAttr = A.id.toLowerCase();
  let rdns: { attr: string; value: string }[];
  try {
    rdns = [...firstRdn(dn), ...(newDn && newDn !== dn ? firstRdn(newDn) : [])];
  } catch (err) {
    if (err instanceof InvalidDnError) return skip('malformed');
    throw err;
  }
  let personId = rdns.find((r) => r.attr === idAttr)?.value || undefined;
  if (!personId && type === 'add') {
    const v = strs(e, 'reqMod').find((m) => m.toLowerCase().startsWith(`${idAttr}:+ `));
    personId = v?.slice(A.id.length + 3).trim();
  }
  if (!personId) {
    // Organisational entries under the people base (ou=...) are not persons; a person without idautoID is a bad record.
    return skip(rdns.every((r) => r.attr === 'ou') ? 'not-a-person' : 'no-idautoID');
  }

  const kind = type === 'modrdn' && !wasIn ? 'ADD' : type === 'modrdn' && !isIn ? 'DELETE' : KINDS[type as keyof typeof KINDS];
  return {
    position,
    csn,
    type: kind,
    personId,
    oldDn: dn,
    newDn,
    changedAttributes: touched.filter((a) => !p.sensitive.has(a.toLowerCase())),
    time,
  };
}

export const isSkip = (c: Change | Skip): c is Skip => 'reason' in c;

const ATTRS = ['reqStart', 'reqType', 'reqDN', 'reqMod', 'reqNewRDN', 'reqNewSuperior', 'reqAuthzID', 'entryCSN'];

export const entryCsn = (e: Entry): string | undefined => str(e, 'entryCSN');

/** The cookie once these entries are published (or passed over): the greatest CSN among them and the old cookie. */
export function cookieAfter(cookie: string | undefined, entries: Entry[]): string | undefined {
  for (const e of entries) {
    const c = entryCsn(e);
    if (c && (!cookie || c > cookie)) cookie = c;
  }
  return cookie;
}

/**
 * The portal directory's change log (OpenLDAP `cn=accesslog`): the producer's SyncOp.
 *
 * Why the cookie is the log entry's entryCSN and not its name (reqStart): slapd names an entry by
 * the moment its operation *arrived* (reqStart) but writes it when the operation *ends*. Writes to
 * the logged database wait for one another (the accesslog overlay holds one lock from the start of
 * a write until its log entry is added), so with several writers an operation that arrived first
 * is often logged after one that arrived later: reading `reqStart >= cookie` then passes over an
 * entry that is still to come, and that change is lost. The entry's CSN, by contrast, is taken
 * while the write holds that lock, and the log entries are added, one at a time, in CSN order (as
 * is their reqEnd): every entry with a smaller CSN than one already seen is already in the log.
 * `entryCSN` is indexed on the log database (syncprov needs it), so `entryCSN >= cookie` is as
 * cheap as the reqStart range was. This holds for the log of one server, as reqStart did.
 */
export class AccesslogReader {
  constructor(readonly client: Client, readonly base: string) {}

  private filter(after?: string): Filter {
    return and(eq('objectClass', 'auditWriteObject'), eq('reqResult', '0'), ...(after ? [ge('entryCSN', after)] : []));
  }

  /** Pages of entries written strictly after the cookie (a CSN), in the order they were written; one search streams through them all. */
  async *pages(after: string | undefined, pageSize: number): AsyncGenerator<Entry[]> {
    for await (const page of this.client.searchPaginated(this.base, {
      scope: 'one', filter: this.filter(after), attributes: ATTRS, paged: { pageSize },
    })) {
      // The server returns them in the order they were written; sorting by CSN makes sure of it.
      const keyed = page.searchEntries.map((e) => ({ e, csn: entryCsn(e) ?? '' })).filter((x) => x.csn !== after);
      yield keyed.sort((a, b) => (a.csn < b.csn ? -1 : a.csn > b.csn ? 1 : 0)).map((x) => x.e);
    }
  }

  /** The CSN of the oldest entry still in the log (the log is purged by age), or undefined when it is empty. */
  async oldest(): Promise<string | undefined> {
    for await (const page of this.client.searchPaginated(this.base, {
      scope: 'one', filter: eq('objectClass', 'auditWriteObject'), attributes: ['entryCSN'], paged: { pageSize: 1 },
    })) {
      return page.searchEntries[0] ? entryCsn(page.searchEntries[0]) : undefined;
    }
    return undefined;
  }

  async exists(csn: string): Promise<boolean> {
    const { searchEntries } = await this.client.search(this.base, { scope: 'one', filter: eq('entryCSN', csn), attributes: ['entryCSN'] });
    return searchEntries.length > 0;
  }

  /** The log's contextCSN (kept by syncprov): the CSN of the last write it logged, kept when the log is purged. */
  async contextCsn(): Promise<string | undefined> {
    const { searchEntries } = await this.client.search(this.base, { scope: 'base', filter: '(objectClass=*)', attributes: ['contextCSN'] });
    return (searchEntries[0] ? strs(searchEntries[0], 'contextCSN') : []).sort().pop();
  }

  /** The newest cookie: the contextCSN, or a newer entry's CSN should syncprov's value lag behind the log. */
  async latest(): Promise<string | undefined> {
    let max = await this.contextCsn();
    for await (const page of this.pages(max, 500)) {
      for (const e of page) {
        const c = entryCsn(e);
        if (c && (!max || c > max)) max = c;
      }
    }
    return max;
  }
}
