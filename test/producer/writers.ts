import { randomUUID } from 'node:crypto';
import { Attribute, Change, Client, type Entry } from 'ldapts';
import { readSecret, type Config } from '../../src/config.js';
import { and, eq, ge } from '../../src/lib/ldap/filter.js';
import { AccesslogReader, normDn } from '../../src/producers/changelog.js';

/**
 * Several LDAP clients writing at once, as the portal's own writers do: adds, modifies (some with
 * large values, so their writes last longer and others queue behind them), moves within, into and
 * out of the people tree, and deletes. Many writers at once are what make slapd log operations in
 * another order than they arrived in.
 */
export interface WritersOptions {
  /** The watched people base; `outside` is a branch beside it that people move in from and out to. */
  base: string;
  outside: string;
  clients: number;
  changes: number;
  /** Share of modifies that write a large value. */
  bigShare?: number;
  bigBytes?: number;
  /** Called now and then with the number of changes made so far. */
  progress?: (done: number) => void;
}

export type Kind = 'add' | 'modify' | 'modify-big' | 'move-within' | 'move-in' | 'move-out' | 'delete';

export async function adminClient(cfg: Config): Promise<Client> {
  const c = new Client({ url: cfg.directory.url, timeout: 120_000 });
  await c.bind(cfg.directory.adminDn!, readSecret(cfg.directory.adminPassword!, 'directory admin'));
  return c;
}

/** Makes `changes` changes over `clients` connections; returns how many of each kind. */
export async function concurrentWriters(cfg: Config, o: WritersOptions): Promise<Record<Kind, number>> {
  const counts: Record<Kind, number> = { add: 0, modify: 0, 'modify-big': 0, 'move-within': 0, 'move-in': 0, 'move-out': 0, delete: 0 };
  const big = 'x'.repeat(o.bigBytes ?? 300_000);
  const setup = await adminClient(cfg);
  const branches = [o.base, `ou=a,${o.base}`, `ou=b,${o.base}`];
  for (const ou of [`ou=a,${o.base}`, `ou=b,${o.base}`, o.outside]) {
    await setup.add(ou, { objectClass: 'organizationalUnit', ou: ou.split(',')[0]!.slice(3) }).catch((e: Error) => {
      if (!/already exists/i.test(e.message)) throw e;
    });
  }
  await setup.unbind();
  let done = 0;
  const client = async (k: number) => {
    const c = await adminClient(cfg);
    // Where each of this client's people is now: a branch of the tree, or outside it.
    const people = new Map<string, string>();
    const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]!;
    const dn = (id: string) => `idautoID=${id},${people.get(id)}`;
    try {
      while (done < o.changes) {
        done++;
        if (done % 1000 === 0) o.progress?.(done);
        const r = Math.random();
        const ids = [...people.keys()];
        if (ids.length < 4 || r < 0.2) {
          const id = randomUUID();
          const at = Math.random() < 0.1 ? o.outside : pick(branches);
          await c.add(`idautoID=${id},${at}`, {
            objectClass: ['idautoPerson', 'tilgangStatusHolder'], idautoID: id, cn: `Writer ${k}`, sn: `Person-${done}`, givenName: 'Writer',
            idautoPersonUserNameMV: `w${id.slice(0, 8)}`, mail: `w${id.slice(0, 8)}@uni.example.no`, idautoPersonAffiliation: 'student',
          });
          people.set(id, at);
          counts.add++;
        } else if (r < 0.6) {
          const large = Math.random() < (o.bigShare ?? 0.05);
          const id = pick(ids);
          await c.modify(dn(id), new Change({ operation: 'replace', modification: new Attribute({ type: 'description', values: [large ? big : `change ${done}`] }) }));
          counts[large ? 'modify-big' : 'modify']++;
        } else if (r < 0.8) {
          const id = pick(ids);
          const from = people.get(id)!;
          const to = from === o.outside ? pick(branches) : Math.random() < 0.2 ? o.outside : pick(branches.filter((b) => b !== from));
          await c.modifyDN(dn(id), `idautoID=${id},${to}`);
          people.set(id, to);
          counts[from === o.outside ? 'move-in' : to === o.outside ? 'move-out' : 'move-within']++;
        } else {
          const id = pick(ids);
          await c.del(dn(id));
          people.delete(id);
          counts.delete++;
        }
      }
    } finally {
      await c.unbind().catch(() => {});
    }
  };
  await Promise.all(Array.from({ length: o.clients }, (_, k) => client(k)));
  return counts;
}

export interface LoggedChange { position: string; csn: string; type: string; dn: string; newDn: string | null }

/**
 * The change log's person entries written after `fromCsn` that touch the people base: the old or
 * the new DN under it. Read straight from the log, independently of how the producer reads it.
 */
export async function loggedChanges(cfg: Config, fromCsn: string | undefined, base: string): Promise<LoggedChange[]> {
  const c = await adminClient(cfg);
  const under = (x: string | null) => x !== null && normDn(x).endsWith(`,${normDn(base)}`);
  const out: LoggedChange[] = [];
  try {
    const filter = and(eq('objectClass', 'auditWriteObject'), eq('reqResult', '0'), ...(fromCsn ? [ge('entryCSN', fromCsn)] : []));
    for await (const page of c.searchPaginated(cfg.directory.accesslogDn, { scope: 'one', filter, attributes: ['reqStart', 'entryCSN', 'reqType', 'reqDN', 'reqNewRDN', 'reqNewSuperior'], paged: { pageSize: 1000 } })) {
      for (const e of page.searchEntries) {
        const s = (k: string) => (e[k] === undefined ? undefined : String(Array.isArray(e[k]) ? (e[k] as unknown[])[0] : e[k]));
        const dn = s('reqDN')!;
        const type = s('reqType')!;
        const newDn = type === 'modrdn' ? `${s('reqNewRDN')},${s('reqNewSuperior') ?? dn.split(',').slice(1).join(',')}` : type === 'delete' ? null : dn;
        if (!/^idautoID=/i.test(dn) || (!under(dn) && !under(newDn))) continue;
        if (s('entryCSN') === fromCsn) continue;
        out.push({ position: s('reqStart')!, csn: s('entryCSN')!, type, dn, newDn });
      }
    }
  } finally {
    await c.unbind().catch(() => {});
  }
  return out.sort((a, b) => (a.csn < b.csn ? -1 : 1));
}

/** The log's newest CSN now: changes made afterwards come after it. */
export async function logNow(cfg: Config): Promise<string | undefined> {
  const c = await adminClient(cfg);
  try {
    return await new AccesslogReader(c, cfg.directory.accesslogDn).latest();
  } finally {
    await c.unbind().catch(() => {});
  }
}

export type { Entry };

/** Deletes an entry and everything under it (the outside branch a test's people moved to). */
export async function deleteSubtree(cfg: Config, dn: string): Promise<void> {
  const c = await adminClient(cfg);
  try {
    const { searchEntries } = await c.search(dn, { scope: 'sub', filter: '(objectClass=*)', attributes: ['1.1'] }).catch(() => ({ searchEntries: [] as { dn: string }[] }));
    for (const e of searchEntries.sort((a, b) => b.dn.length - a.dn.length)) await c.del(e.dn).catch(() => {});
  } finally {
    await c.unbind().catch(() => {});
  }
}
