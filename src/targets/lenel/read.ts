/**
 * Reading OnGuard: the cardholder by its key (SSNO), the badge of the managed type, the access
 * levels assigned to it (a wave's people together: each step one call per 100 keys), and the
 * lookups (access levels, titles, departments) by name, cached.
 */
import { Batcher } from '../../lib/batching.js';
import { A, TerminalError, type ManagedAccount, type PersonContext } from '../../spi/index.js';
import { LenelClient, OpenAccessError, prop, quote, type PropertyMap } from './client.js';
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
      }, async (e: unknown) => {
        // Refused, e.g. as a duplicate name: another worker made it meanwhile, or this create took
        // effect and its answer was lost before a retry. The name being there now is what counts.
        if (!(e instanceof OpenAccessError)) throw e;
        await this.load(true);
        const made = this.byName.get(name);
        if (made === undefined) throw e;
        return made;
      }).finally(() => this.adding.delete(name));
      this.adding.set(name, adding);
    }
    return adding;
  }
}

/** Keys per coalesced read: an OR of this many equalities, its answer within OpenAccess's page of 100 unless keys have more than one instance. */
export const READ_BATCH = 100;

/**
 * Single-key reads that arrive together, as one list call whose filter is an OR of the keys
 * (`SSNO = "1" or SSNO = "2"`, within `scope` when given); each key gets the instances whose
 * property equals it as OpenAccess compares (strings case-insensitively, numbers as numbers).
 */
function keyReader<K extends string | number>(client: LenelClient, type: string, property: string, opts: { scope?: string; sensitive?: boolean } = {}): Batcher<K, PropertyMap[]> {
  const norm = (v: unknown) => (typeof v === 'number' ? `n:${v}` : `s:${str(v).toLowerCase()}`);
  return new Batcher<K, PropertyMap[]>(async (keys) => {
    const any = keys.map((k) => `${property} = ${typeof k === 'number' ? k : quote(k)}`).join(' or ');
    const rows = await client.list(type, opts.scope ? `${opts.scope} and (${any})` : any, { sensitive: opts.sensitive });
    const byValue = new Map<string, PropertyMap[]>();
    for (const r of rows) {
      const v = prop(r, property);
      const k = typeof keys[0] === 'number' ? norm(Number(v)) : norm(str(v));
      byValue.set(k, [...(byValue.get(k) ?? []), r]);
    }
    return new Map(keys.map((k) => [k, byValue.get(norm(k)) ?? []]));
  }, READ_BATCH, () => []);
}

/** The connection the target hands around: the OpenAccess client, its lookups and its coalesced reads. */
export class LenelSession {
  readonly levels: Lookup;
  readonly lookups: Record<LookupKind, Lookup>;
  /** Cardholders by key (SSNO); the filter in the body when the key is sensitive. */
  private readonly byKey = new Map<boolean, Batcher<string, PropertyMap[]>>();
  /** Badges of the managed type by cardholder ID. */
  readonly badgesOf: Batcher<number, PropertyMap[]>;
  /** Access level assignments by BadgeKey. */
  readonly assignmentsOf: Batcher<number, PropertyMap[]>;

  constructor(readonly client: LenelClient, readonly cfg: LenelConfig) {
    const ttl = cfg.lookupCacheSeconds * 1000;
    this.levels = new Lookup(client, 'Lnl_AccessLevel', ttl);
    this.lookups = { title: new Lookup(client, LOOKUP_CLASS.title, ttl), department: new Lookup(client, LOOKUP_CLASS.department, ttl) };
    this.badgesOf = keyReader(client, 'Lnl_Badge', 'PERSONID', { scope: `TYPE = ${cfg.badge.type}` });
    this.assignmentsOf = keyReader(client, 'Lnl_AccessLevelAssignment', 'BadgeKey');
  }

  cardholdersByKey(key: string, sensitive: boolean): Promise<PropertyMap[]> {
    let b = this.byKey.get(sensitive);
    if (!b) this.byKey.set(sensitive, b = keyReader(this.client, 'Lnl_Cardholder', 'SSNO', { sensitive }));
    return b.load(key);
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
  // A key OpenAccess cannot search for fails this person alone, not the others read with it.
  quote(key);
  // The wave's people are read together: each step's keys in one call per READ_BATCH (read.ts keyReader).
  const found = await s.cardholdersByKey(key, sensitiveKey(s.cfg, sensitive));
  if (found.length > 1) {
    // OnGuard does not refuse a second cardholder with the same key; tilgang never guesses which is the person.
    throw new TerminalError(`person ${person.id}, target lenel: ${found.length} cardholders have the person's key (SSNO): ${found.map(describeCardholder).join(' and ')}; a duplicate, resolve it in OnGuard`,
      'duplicate', 'SSNO');
  }
  if (!found[0]) return none;
  const cardholder = await toCardholder(s, found[0]);
  const badge = pickBadge(await s.badgesOf.load(cardholder.ID), s.cfg.badge.activeStatus);
  if (!badge) return { cardholder, badge: null, levels: [] };
  const managed = managedLevels(s.cfg);
  const levels: string[] = [];
  if (managed.size) {
    for (const a of await s.assignmentsOf.load(badge.BADGEKEY)) {
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
