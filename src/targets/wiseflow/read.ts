/**
 * Read: the person's WISEflow user, found by user data (WISEflow has no username and no lookup by
 * email), before any create: the create is an upsert whose matching rule is not documented, so a
 * user not looked for first may be made twice. The lookups of people read together leave in one
 * POST /users/search (up to 100 results a page).
 */
import { Batcher } from '../../lib/batching.js';
import { TerminalError, type PersonContext } from '../../spi/index.js';
import type { WiseflowClient } from './client.js';
import type { WiseflowConfig } from './config.js';
import { searchKeys } from './desired.js';
import type { Actual, LicenseRole, WiseflowUser } from './types.js';

const PAGE = 100;
const KEYS_PER_SEARCH = 50;
const keyOf = (k: { id: number; value: string }) => `${k.id}\u0000${k.value}`;

export class WiseflowSession {
  private roles: Promise<Record<string, LicenseRole>> | undefined;
  private readonly lookups: Batcher<string, WiseflowUser[]>;

  constructor(readonly client: WiseflowClient, readonly cfg: WiseflowConfig) {
    // One search out with a part-filled page at a time: lookups arriving meanwhile share the next
    // one, so under the licence's rate a wave's lookups cost few calls (full searches leave at once).
    this.lookups = new Batcher((keys) => this.search(keys), KEYS_PER_SEARCH, () => [], 0, 1);
  }

  /** The licence's roles by name, read once. */
  licenseRoles(): Promise<Record<string, LicenseRole>> {
    this.roles ??= this.client.data<LicenseRole[]>({ path: '/license/roles', label: 'license/roles' })
      .then((rs) => Object.fromEntries(rs.map((r) => [r.name, r])))
      .catch((e: unknown) => { this.roles = undefined; throw e; });
    return this.roles;
  }

  private async search(keys: string[]): Promise<Map<string, WiseflowUser[]>> {
    const dataTypes = keys.map((k) => {
      const [id, value] = k.split('\u0000') as [string, string];
      return { id: Number(id), value };
    });
    const users: WiseflowUser[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const { body } = await this.client.send({ method: 'POST', path: '/users/search', query: { offset, limit: PAGE }, json: { dataTypes }, label: 'users/search' });
      const page = body as { data: WiseflowUser[]; pagination?: { total: number } };
      users.push(...page.data);
      if (!page.pagination || offset + PAGE >= page.pagination.total || !page.data.length) break;
    }
    const out = new Map<string, WiseflowUser[]>();
    const asked = new Set(keys);
    for (const u of users) {
      for (const d of u.dataTypes) {
        const k = keyOf(d);
        if (asked.has(k)) out.set(k, [...(out.get(k) ?? []), u]);
      }
    }
    return out;
  }

  /** Every user holding any of the person's keys. */
  async find(person: PersonContext): Promise<WiseflowUser[]> {
    const found = await Promise.all(searchKeys(person, this.cfg).map((k) => this.lookups.load(keyOf(k))));
    return [...new Map(found.flat().map((u) => [u.id, u])).values()];
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

export async function readActual(person: PersonContext, s: WiseflowSession): Promise<Actual> {
  const [users, roles] = await Promise.all([s.find(person), s.licenseRoles()]);
  if (users.length > 1) {
    throw new TerminalError(`person ${person.id}, target wiseflow: ${users.length} WISEflow users match the person: ${users.map((u) => `userId ${u.id}`).join(', ')}`, 'duplicate', 'externalIds');
  }
  return { user: users[0] ?? null, roles };
}
