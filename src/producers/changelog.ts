import type { Client, Entry } from 'ldapts';
import { A, STATUS_ATTRIBUTES } from '../directory/attributes.js';
import type { ChangeType } from '../schemas/generated.js';

/** One successful write from the directory's change log, as tilgang understands it. */
export interface Change {
  cookie: string;
  type: Extract<ChangeType, 'ADD' | 'MODIFY' | 'MODRDN' | 'DELETE'>;
  personId: string;
  oldDn: string;
  newDn: string | null;
  changedAttributes: string[];
  time: number;
}

/** An entry the producer passes over, and why (counted and logged with the DN). */
export interface Skip {
  cookie: string | undefined;
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
  return dn.replace(/^dn:/i, '').split(',').map((p) => p.trim()).join(',').toLowerCase();
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
export function modifiedAttributes(reqMod: string[]): string[] {
  const names = new Set<string>();
  for (const m of reqMod) {
    const i = m.indexOf(':');
    if (i > 0) names.add(m.slice(0, i));
  }
  return [...names];
}

/** Pure: turns one `auditWriteObject` entry into a Change, or says why it is passed over. */
export function interpret(e: Entry, o: InterpretOptions): Change | Skip {
  const cookie = str(e, 'reqStart');
  const dn = str(e, 'reqDN');
  const type = str(e, 'reqType')?.toLowerCase();
  const time = cookie ? cookieTime(cookie) : undefined;
  if (!cookie || !dn || !type || time === undefined) return { cookie, dn, reason: 'malformed' };
  const kinds = { add: 'ADD', modify: 'MODIFY', modrdn: 'MODRDN', delete: 'DELETE' } as const;
  if (!(type in kinds)) return { cookie, dn, reason: 'unsupported-type' };
  const n = normDn(dn);
  if (!n.endsWith(`,${normDn(o.peopleDn)}`)) return { cookie, dn, reason: 'not-a-person' };
  const authz = str(e, 'reqAuthzID');
  if (authz && normDn(authz) === normDn(o.ownDn)) return { cookie, dn, reason: 'own-write' };

  const mods = strs(e, 'reqMod');
  const lowerStatus = new Set(STATUS_ATTRIBUTES.map((a) => a.toLowerCase()));
  const touched = modifiedAttributes(mods).filter((a) => !OPERATIONAL.has(a.toLowerCase()));
  if (type === 'modify' && touched.length > 0 && touched.every((a) => lowerStatus.has(a.toLowerCase()))) {
    return { cookie, dn, reason: 'status-only' };
  }
  if (type === 'modify' && touched.length === 0) return { cookie, dn, reason: 'malformed' };

  const rdn = dn.split(',')[0] ?? '';
  const [rdnAttr, ...rest] = rdn.split('=');
  let personId = rdnAttr?.trim().toLowerCase() === A.id.toLowerCase() ? rest.join('=').trim() : undefined;
  if (!personId && type === 'add') {
    const v = mods.find((m) => m.toLowerCase().startsWith(`${A.id.toLowerCase()}:+ `));
    personId = v?.slice(A.id.length + 3).trim();
  }
  if (!personId) {
    // Organisational entries under the people base (ou=...) are not persons; a person without idautoID is a bad record.
    return { cookie, dn, reason: rdnAttr?.trim().toLowerCase() === 'ou' ? 'not-a-person' : 'no-idautoID' };
  }

  let newDn: string | null = null;
  if (type === 'modrdn') {
    const newRdn = str(e, 'reqNewRDN');
    if (!newRdn) return { cookie, dn, reason: 'malformed' };
    newDn = `${newRdn},${str(e, 'reqNewSuperior') ?? dn.split(',').slice(1).join(',')}`;
  } else if (type !== 'delete') {
    newDn = dn;
  }
  const sensitive = new Set(o.sensitive.map((s) => s.toLowerCase()));
  return {
    cookie,
    type: kinds[type as keyof typeof kinds],
    personId,
    oldDn: dn,
    newDn,
    changedAttributes: touched.filter((a) => !sensitive.has(a.toLowerCase())),
    time,
  };
}

export const isSkip = (c: Change | Skip): c is Skip => 'reason' in c;

const ATTRS = ['reqStart', 'reqType', 'reqDN', 'reqMod', 'reqNewRDN', 'reqNewSuperior', 'reqAuthzID'];

/**
 * The portal directory's change log (OpenLDAP `cn=accesslog`): the producer's SyncOp. Entries
 * are named by `reqStart`, unique and increasing within one server, which serves as the cookie.
 */
export class AccesslogReader {
  constructor(private readonly client: Client, private readonly base: string) {}

  private filter(after?: string) {
    return `(&(objectClass=auditWriteObject)(reqResult=0)${after ? `(reqStart>=${after})` : ''})`;
  }

  /** Pages of entries strictly after the cookie, oldest first; one search streams through them all. */
  async *pages(after: string | undefined, pageSize: number): AsyncGenerator<Entry[]> {
    for await (const page of this.client.searchPaginated(this.base, {
      scope: 'one', filter: this.filter(after), attributes: ATTRS, paged: { pageSize },
    })) {
      const entries = page.searchEntries
        .filter((e) => str(e, 'reqStart') !== after)
        .sort((a, b) => (str(a, 'reqStart')! < str(b, 'reqStart')! ? -1 : 1));
      yield entries;
    }
  }

  /** The oldest cookie still in the log (the log is purged by age), or undefined when it is empty. */
  async oldest(): Promise<string | undefined> {
    for await (const page of this.client.searchPaginated(this.base, {
      scope: 'one', filter: '(objectClass=auditWriteObject)', attributes: ['reqStart'], paged: { pageSize: 1 },
    })) {
      return page.searchEntries[0] ? str(page.searchEntries[0], 'reqStart') : undefined;
    }
    return undefined;
  }

  async exists(cookie: string): Promise<boolean> {
    const { searchEntries } = await this.client.search(this.base, { scope: 'one', filter: `(reqStart=${cookie})`, attributes: ['reqStart'] });
    return searchEntries.length > 0;
  }

  /**
   * The newest cookie: the log's contextCSN (kept by syncprov) says when the last write was; the
   * entries from that second on are few, and the greatest of them is the newest.
   */
  async latest(): Promise<string | undefined> {
    const { searchEntries } = await this.client.search(this.base, { scope: 'base', filter: '(objectClass=*)', attributes: ['contextCSN'] });
    const csns = searchEntries[0] ? strs(searchEntries[0], 'contextCSN') : [];
    const newest = csns.sort().pop();
    if (!newest) return undefined;
    const from = `${newest.slice(0, 14)}.000000Z`;
    let max: string | undefined;
    for await (const page of this.pages(from, 500)) {
      for (const e of page) {
        const c = str(e, 'reqStart')!;
        if (!max || c > max) max = c;
      }
    }
    return max ?? from;
  }
}
