/**
 * Loads sample people into the portal directory as its administrator. People are independent
 * entries, so several connections add (and delete) them in parallel; slapd serialises the writes
 * to its database, the parallel connections keep it busy while each waits for its answer.
 */
import { AlreadyExistsError, Client, NoSuchObjectError, NotAllowedOnNonLeafError } from 'ldapts';
import { dnDepth, dnEquals, parseDn, rdnValue } from '../lib/ldap/dn.js';
import type { DirectoryEntry } from './entry.js';

export interface DirectoryTarget {
  url: string;
  bindDn: string;
  password: string;
  /** Where the people live: ou=Accounts,dc=meta, or a test's own ou=test-<random> under ou=Tests beside it. */
  peopleDn: string;
}

export interface DirectoryLoadOptions {
  /** Parallel connections (default 16). */
  connections?: number;
  onEntries?: (n: number) => void;
}

export class DirectoryLoadError extends Error {
  override name = 'DirectoryLoadError';
}

/** Test subtrees: other suites' isolated people, which a seed never touches. */
const isTestSubtree = (dn: string) => /^test-/i.test(rdnValue(dn, 'ou') ?? '');

async function connect(t: DirectoryTarget): Promise<Client> {
  const c = new Client({ url: t.url, timeout: 60_000, connectTimeout: 5_000 });
  await c.bind(t.bindDn, t.password);
  return c;
}

/** Runs `work` over `items` with `n` connections, each taking the next item when it is free. */
async function inParallel<T>(t: DirectoryTarget, items: readonly T[], n: number, work: (c: Client, item: T) => Promise<void>, onDone?: (k: number) => void): Promise<void> {
  let next = 0;
  const failures: string[] = [];
  let failed = 0;
  const worker = async () => {
    const c = await connect(t);
    try {
      while (next < items.length) {
        const item = items[next++]!;
        try {
          await work(c, item);
        } catch (e) {
          failed++;
          if (failures.length < 5) failures.push((e as Error).message);
        }
        onDone?.(1);
      }
    } finally {
      await c.unbind().catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  if (failed) throw new DirectoryLoadError(`${failed} of ${items.length} directory operations failed, e.g.:\n  ${failures.join('\n  ')}`);
}

/** Creates the people container (an organizationalUnit) when it is missing. */
export async function ensurePeopleDn(t: DirectoryTarget): Promise<void> {
  const c = await connect(t);
  try {
    await c.search(t.peopleDn, { scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] });
  } catch (e) {
    if (!(e instanceof NoSuchObjectError)) throw e;
    const [rdn, ...parent] = parseDn(t.peopleDn);
    const ou = rdn?.length === 1 && parent.length ? rdnValue(t.peopleDn, 'ou') : undefined;
    if (ou === undefined) throw new DirectoryLoadError(`${t.peopleDn} does not exist and is not an ou=… entry the seed could create`);
    try {
      await c.add(t.peopleDn, { objectClass: ['top', 'organizationalUnit'], ou });
    } catch (e2) {
      if (!(e2 instanceof AlreadyExistsError)) throw e2;
    }
  } finally {
    await c.unbind().catch(() => undefined);
  }
}

/** DNs below `base` (not `base` itself), deepest first, so each can be deleted in turn. */
async function subtree(c: Client, base: string): Promise<string[]> {
  const { searchEntries } = await c.search(base, { scope: 'sub', filter: '(objectClass=*)', attributes: ['1.1'], paged: { pageSize: 1000 } });
  return searchEntries.map((e) => e.dn).filter((dn) => !dnEquals(dn, base)).sort((a, b) => dnDepth(b) - dnDepth(a));
}

/**
 * Deletes everything below the people container except `ou=test-*` subtrees (other suites' people).
 * Returns how many entries were deleted.
 */
export async function clearPeople(t: DirectoryTarget, opts: DirectoryLoadOptions & { onTotal?: (n: number) => void } = {}): Promise<number> {
  const c = await connect(t);
  let children: string[];
  try {
    const { searchEntries } = await c.search(t.peopleDn, { scope: 'one', filter: '(objectClass=*)', attributes: ['1.1'], paged: { pageSize: 1000 } });
    children = searchEntries.map((e) => e.dn).filter((dn) => !isTestSubtree(dn));
  } catch (e) {
    if (e instanceof NoSuchObjectError) return 0;
    throw e;
  } finally {
    await c.unbind().catch(() => undefined);
  }
  opts.onTotal?.(children.length);
  let deleted = 0;
  await inParallel(t, children, opts.connections ?? 16, async (conn, dn) => {
    try {
      await conn.del(dn);
      deleted++;
    } catch (e) {
      if (e instanceof NoSuchObjectError) return;
      if (!(e instanceof NotAllowedOnNonLeafError)) throw e;
      // Not a person: some other subtree that does not belong here. Leaves first, then itself.
      for (const below of await subtree(conn, dn)) { await conn.del(below); deleted++; }
      await conn.del(dn);
      deleted++;
    }
  }, opts.onEntries);
  return deleted;
}

/** Adds the entries; fails (after trying all) when any could not be added. */
export async function addEntries(t: DirectoryTarget, entries: readonly DirectoryEntry[], opts: DirectoryLoadOptions = {}): Promise<number> {
  await inParallel(t, entries, opts.connections ?? 16, async (c, e) => {
    try {
      await c.add(e.dn, e.attributes);
    } catch (err) {
      // The DN names the person by idautoID only; attribute values (the fnr among them) stay out.
      throw new Error(`${e.dn}: ${(err as Error).message}`);
    }
  }, opts.onEntries);
  return entries.length;
}
