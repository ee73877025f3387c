import { Attribute, Change, Client, type Entry } from 'ldapts';
import { readSecret, type Config } from '../config.js';
import { and, eq, escapeFilterValue } from '../lib/ldap/filter.js';
import { first, values, type PersonRecord } from '../spi/person.js';
import { A, PERSON_OBJECT_CLASS } from './attributes.js';

// The record's shape and readers are part of the target contract; the directory produces them.
export { first, values, type PersonRecord };

export function toRecord(e: Entry): PersonRecord {
  const attrs: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k === 'dn') continue;
    const arr = Array.isArray(v) ? v : [v];
    attrs[k] = arr.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
  }
  return { dn: e.dn, attrs };
}

/** @deprecated Build filters with src/lib/ldap/filter.ts; kept until its last caller moves. */
export const escapeFilter = escapeFilterValue;

export class DirectoryError extends Error {
  override name = 'DirectoryError';
}

/**
 * The portal directory as tilgang's service account sees it. Reads people; the only writes are
 * the provisioning-status attributes (the writeback), which the directory's ACL enforces too.
 */
export class Directory {
  private constructor(readonly client: Client, readonly peopleDn: string, readonly accesslogDn: string, readonly bindDn: string) {}

  static async connect(cfg: Config, opts: { peopleDn?: string; asAdmin?: boolean } = {}): Promise<Directory> {
    const d = cfg.directory;
    const client = new Client({ url: d.url, timeout: 30_000, connectTimeout: 5_000 });
    const bindDn = opts.asAdmin ? d.adminDn : d.bindDn;
    const secret = opts.asAdmin ? d.adminPassword : d.password;
    if (!bindDn || !secret) throw new DirectoryError('directory.adminDn and directory.adminPassword are needed for this command');
    try {
      await client.bind(bindDn, readSecret(secret, 'directory password'));
    } catch (e) {
      await client.unbind().catch(() => {});
      throw new DirectoryError(`cannot bind to the directory at ${d.url} as ${bindDn}: ${(e as Error).message}`);
    }
    return new Directory(client, opts.peopleDn ?? d.peopleDn, d.accesslogDn, bindDn);
  }

  async close(): Promise<void> {
    await this.client.unbind().catch(() => {});
  }

  /** People matching `attr=value` anywhere under the people base; several matches are the caller's to judge. */
  async findPeople(attr: string, value: string, attributes: string[] = ['*']): Promise<PersonRecord[]> {
    const { searchEntries } = await this.client.search(this.peopleDn, {
      scope: 'sub',
      filter: and(eq('objectClass', PERSON_OBJECT_CLASS), eq(attr, value)),
      attributes,
    });
    return searchEntries.map(toRecord);
  }

  async person(id: string, attributes: string[] = ['*']): Promise<PersonRecord | undefined> {
    const found = await this.findPeople(A.id, id, attributes);
    if (found.length > 1) throw new DirectoryError(`more than one directory entry has ${A.id}=${id}: ${found.map((f) => f.dn).join('; ')}`);
    return found[0];
  }

  /** Every person's id, a page at a time (for snapshots of 100,000 people without holding them all). */
  async *personIds(pageSize = 1000): AsyncGenerator<string[]> {
    for await (const page of this.client.searchPaginated(this.peopleDn, {
      scope: 'sub', filter: eq('objectClass', PERSON_OBJECT_CLASS), attributes: [A.id], paged: { pageSize },
    })) {
      const ids = page.searchEntries.map((e) => String(e[A.id] ?? '')).filter(Boolean);
      if (ids.length) yield ids;
    }
  }

  /** The writeback: replaces the status attributes (adding the auxiliary class first when missing). */
  async writeStatus(dn: string, addObjectClasses: string[], replace: Record<string, string[]>): Promise<void> {
    const changes = [
      ...(addObjectClasses.length ? [new Change({ operation: 'add', modification: new Attribute({ type: 'objectClass', values: addObjectClasses }) })] : []),
      ...Object.entries(replace).map(([type, vals]) => new Change({ operation: 'replace', modification: new Attribute({ type, values: vals }) })),
    ];
    await this.client.modify(dn, changes);
  }
}
