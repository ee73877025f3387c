/**
 * Reading OnGuard: the cardholder by its key (SSNO), the badge of the managed type, the access
 * levels assigned to it, and the lookups (access levels, titles, departments) by name, cached.
 */
import { A, TerminalError, type ManagedAccount, type PersonContext } from '../../spi/index.js';
import { LenelClient, prop, quote, type PropertyMap } from './client.js';
import type { LenelConfig } from './config.js';
import { cardholderKey, managedLevels } from './desired.js';

export interface Cardholder {
  ID: number;
  FIRSTNAME: string;
  LASTNAME: string;
  EMAIL: string;
  EXT: string;
  /** Lookup names ('' when unset). */
  title: string;
  department: string;
  udfs: Record<string, string>;
}

export interface Badge {
  BADGEKEY: number;
  ID: number;
  STATUS: number;
}

export interface Actual {
  cardholder: Cardholder | null;
  /** The cardholder's badge of the managed type, or null. */
  badge: Badge | null;
  /** Managed access levels assigned to that badge, by name (levels tilgang does not manage are never read into a plan). */
  levels: string[];
}

export const LOOKUP_CLASS = { title: 'Lnl_TITLE', department: 'Lnl_DEPT' } as const;
export type LookupKind = keyof typeof LOOKUP_CLASS;

const str = (v: unknown) => (v === null || v === undefined ? '' : String(v));

/** A class of name ↔ id instances (access levels, titles, departments), read whole and kept for a while. */
class Lookup {
  private byName = new Map<string, number>();
  private byId = new Map<number, string>();
  private at = 0;
  private loading: Promise<void> | undefined;

  constructor(private readonly client: LenelClient, readonly type: string, private readonly ttlMs: number) {}

  private async load(force: boolean): Promise<void> {
    if (!force && this.at && Date.now() - this.at < this.ttlMs) return;
    this.loading ??= (async () => {
      const rows = await this.client.list(this.type);
      this.byName = new Map(rows.map((r) => [str(prop(r, 'Name')), Number(prop(r, 'ID'))]));
      this.byId = new Map(rows.map((r) => [Number(prop(r, 'ID')), str(prop(r, 'Name'))]));
      this.at = Date.now();
    })().finally(() => { this.loading = undefined; });
    return this.loading;
  }

  async name(id: number): Promise<string | undefined> {
    await this.load(false);
    if (!this.byId.has(id)) await this.load(true);
    return this.byId.get(id);
  }

  async id(name: string): Promise<number | undefined> {
    await this.load(false);
    if (!this.byName.has(name)) await this.load(true);
    return this.byName.get(name);
  }

  private readonly adding = new Map<string, Promise<number>>();

  /**
   * The id of `name`, added to OnGuard when it is not there yet (and `create`). Two people with the
   * same new title at once share one create: a second would be refused as a duplicate name.
   */
  async ensure(name: string, create: boolean): Promise<number> {
    const id = await this.id(name);
    if (id !== undefined) return id;
    if (!create) throw new TerminalError(`OnGuard has no ${this.type} named "${name}"`, 'missing-lookup');
    let adding = this.adding.get(name);
    if (!adding) {
      adding = this.client.create(this.type, { Name: name }).then((m) => {
        const made = Number(prop(m, 'ID'));
        this.byName.set(name, made);
        this.byId.set(made, name);
        return made;
      }).finally(() => this.adding.delete(name));
      this.adding.set(name, adding);
    }
    return adding;
  }
}

/** The connection the target hands around: the OpenAccess client and its lookups. */
export class LenelSession {
  readonly levels: Lookup;
  readonly lookups: Record<LookupKind, Lookup>;

  constructor(readonly client: LenelClient, readonly cfg: LenelConfig) {
    const ttl = cfg.lookupCacheSeconds * 1000;
    this.levels = new Lookup(client, 'Lnl_AccessLevel', ttl);
    this.lookups = { title: new Lookup(client, LOOKUP_CLASS.title, ttl), department: new Lookup(client, LOOKUP_CLASS.department, ttl) };
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

async function toCardholder(s: LenelSession, m: PropertyMap): Promise<Cardholder> {
  const lookup = async (kind: LookupKind, field: string) => {
    const id = prop(m, field);
    return id === null || id === '' ? '' : ((await s.lookups[kind].name(Number(id))) ?? '');
  };
  return {
    ID: Number(prop(m, 'ID')), FIRSTNAME: str(prop(m, 'FIRSTNAME')), LASTNAME: str(prop(m, 'LASTNAME')),
    EMAIL: str(prop(m, 'EMAIL')), EXT: str(prop(m, 'EXT')),
    title: s.cfg.attributes.title ? await lookup('title', 'TITLE') : '',
    department: s.cfg.department ? await lookup('department', 'DEPT') : '',
    udfs: Object.fromEntries(Object.keys(s.cfg.udfs).map((u) => [u, str(prop(m, u))])),
  };
}

/** How a cardholder is named in an error: id and name, never the key or the e-mail. */
export const describeCardholder = (m: PropertyMap) => `cardholder ${str(prop(m, 'ID'))} (${str(prop(m, 'LASTNAME'))}, ${str(prop(m, 'FIRSTNAME'))})`;

/**
 * Pure: the badge tilgang manages among the cardholder's badges of the managed type: an active one
 * if there is one, else the newest.
 */
export function pickBadge(badges: PropertyMap[], activeStatus: number): Badge | null {
  const all = badges.map((b) => ({ BADGEKEY: Number(prop(b, 'BADGEKEY')), ID: Number(prop(b, 'ID')), STATUS: Number(prop(b, 'STATUS')) }));
  all.sort((a, b) => b.BADGEKEY - a.BADGEKEY);
  return all.find((b) => b.STATUS === activeStatus) ?? all[0] ?? null;
}

/** The key's attributes include one the directory marks sensitive (or a national id): its value never goes in a URL. */
export function sensitiveKey(cfg: LenelConfig, sensitive: readonly string[]): boolean {
  return cfg.key.some((a) => /nationalid|fnr|ssn/i.test(a) || sensitive.some((x) => x.toLowerCase() === a.toLowerCase()));
}

export async function readActual(person: PersonContext, s: LenelSession, sensitive: readonly string[] = []): Promise<Actual> {
  const key = cardholderKey(person, s.cfg);
  const none: Actual = { cardholder: null, badge: null, levels: [] };
  if (!key) return none;
  const found = await s.client.list('Lnl_Cardholder', `SSNO = ${quote(key)}`, { sensitive: sensitiveKey(s.cfg, sensitive) });
  if (found.length > 1) {
    // OnGuard does not refuse a second cardholder with the same key; tilgang never guesses which is the person.
    throw new TerminalError(`person ${person.id}, target lenel: ${found.length} cardholders have the person's key (SSNO): ${found.map(describeCardholder).join(' and ')}; a duplicate, resolve it in OnGuard`,
      'duplicate', 'SSNO');
  }
  if (!found[0]) return none;
  const cardholder = await toCardholder(s, found[0]);
  const badge = pickBadge(await s.client.list('Lnl_Badge', `PERSONID = ${cardholder.ID} and TYPE = ${s.cfg.badge.type}`), s.cfg.badge.activeStatus);
  if (!badge) return { cardholder, badge: null, levels: [] };
  const managed = managedLevels(s.cfg);
  const levels: string[] = [];
  if (managed.size) {
    for (const a of await s.client.list('Lnl_AccessLevelAssignment', `BadgeKey = ${badge.BADGEKEY}`)) {
      const name = await s.levels.name(Number(prop(a, 'AccessLevelID')));
      if (name !== undefined && managed.has(name)) levels.push(name);
    }
  }
  return { cardholder, badge, levels: levels.sort() };
}

/**
 * The cardholders tilgang made: those whose UDF mapped to the person's idautoID (the anchor, by
 * default IDAUTO_ID) holds a value, a page of OpenAccess's listing at a time. A cardholder is
 * enabled while it has an active badge of the managed type. Without such a UDF tilgang has no
 * anchor in OnGuard and lists nothing.
 */
export async function* listManagedCardholders(s: LenelSession): AsyncIterable<ManagedAccount[]> {
  const cfg = s.cfg;
  const udf = Object.entries(cfg.udfs).find(([, attr]) => attr.toLowerCase() === A.id.toLowerCase())?.[0];
  if (!udf) return;
  const active = new Set((await s.client.list('Lnl_Badge', `TYPE = ${cfg.badge.type}`))
    .filter((b) => Number(prop(b, 'STATUS')) === cfg.badge.activeStatus).map((b) => Number(prop(b, 'PERSONID'))));
  const all = await s.client.list('Lnl_Cardholder');
  for (let i = 0; i < all.length; i += 500) {
    const out: ManagedAccount[] = [];
    for (const m of all.slice(i, i + 500)) {
      const key = str(prop(m, udf)).trim();
      if (!key) continue;
      const id = Number(prop(m, 'ID'));
      const ssno = str(prop(m, 'SSNO'));
      // A person gone from the directory is found again by the key the cardholder carries.
      const match: Record<string, string[]> = { [A.id]: [key], ...(ssno ? { [cfg.key[0]!]: [ssno] } : {}) };
      out.push({ key, accountId: String(id), name: `${str(prop(m, 'LASTNAME'))}, ${str(prop(m, 'FIRSTNAME'))}`, enabled: active.has(id), match });
    }
    if (out.length) yield out;
  }
}
