import { Client, ExtensibleFilter } from 'ldapts';
import { readSecret, type Config } from '../../src/config.js';
import { and, eq, ge } from '../../src/lib/ldap/filter.js';

/**
 * The suite runs beside a running demo, whose producer publishes every change logged under
 * `directory.peopleDn` and whose writeback then writes status there: a test that writes under that
 * base gives the demo events for people it never had (a 600-person bulk add once gave it 1,200).
 * Tests keep their people under ou=Tests; this checks, from the directory's own change log, that
 * none of the suite's writes went under the people base after all, whichever process made them
 * (the suite's own, a spawned CLI, a writer child).
 *
 * Counted: writes logged since the run started under the people base by the administrator, the
 * account the tests write their people as. Not counted: writes as tilgang's own account, which a
 * running demo's writeback makes there itself (a test's writeback writes only to people its own
 * producer published, from the test's base). The demo's own loader also writes as the
 * administrator, but only when it seeds an empty directory, and so do people editing the demo's
 * directory by hand: done during a run, those are named here too.
 */
export async function demoBaseWrites(cfg: Config, since: string): Promise<{ dn: string; type: string; at: string }[]> {
  const d = cfg.directory;
  const admin = new Client({ url: d.url, timeout: 60_000 });
  try {
    await admin.bind(d.adminDn!, readSecret(d.adminPassword!, 'directory.adminPassword'));
    // reqStart is indexed (the producer reads by it), so the search looks at this run's entries only.
    const filter = and(
      eq('objectClass', 'auditWriteObject'),
      ge('reqStart', since),
      eq('reqAuthzID', d.adminDn!),
      new ExtensibleFilter({ matchType: 'reqDN', rule: 'dnSubtreeMatch', value: d.peopleDn }),
    );
    const { searchEntries } = await admin.search(d.accesslogDn, { scope: 'one', filter, attributes: ['reqDN', 'reqType', 'reqStart'], paged: { pageSize: 1000 } });
    return searchEntries.map((e) => ({ dn: String(e.reqDN), type: String(e.reqType), at: String(e.reqStart) }))
      .sort((a, b) => a.at.localeCompare(b.at));
  } finally {
    await admin.unbind().catch(() => {});
  }
}

/**
 * The start of the second holding `t`, as the change log names its entries (reqStart). slapd's
 * fraction there is not the time within the second but a count of operations in it, so it cannot
 * be compared with a clock's: a bound to the second counts at most the writes of the second before.
 */
export function logTime(t: Date): string {
  return `${t.toISOString().replace(/[-:T]/g, '').replace(/\.\d{3}Z$/, '')}.000000Z`;
}

/** Throws, naming the first writes, when the suite wrote under the people base since `since`. */
export async function assertDemoBaseUntouched(cfg: Config, since: string): Promise<void> {
  const writes = await demoBaseWrites(cfg, since);
  if (!writes.length) return;
  const shown = writes.slice(0, 5).map((w) => `  ${w.at} ${w.type} ${w.dn}`).join('\n');
  throw new Error(`${writes.length} write(s) as ${cfg.directory.adminDn} under ${cfg.directory.peopleDn}, the base a running demo watches, during this test run `
    + `(by its tests, or by anyone else writing there as the administrator meanwhile; tests keep their people under ou=Tests, see test/support/env.ts):\n${shown}${writes.length > 5 ? `\n  … and ${writes.length - 5} more` : ''}`);
}
