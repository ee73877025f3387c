/**
 * The simulated OnGuard database: instances of each class, the checks OpenAccess makes on create
 * and modify (unknown property, required, references, unique badge id and assignment), and
 * nothing it does not make (a second cardholder with the same SSNO is accepted).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { filterProps, matches, parseFilter, FilterError, type Filter } from './filter.js';
import { classes, type ClassSpec, type Instance, type PropSpec } from './types.js';

/** An OpenAccess error: the status and the body's code and message. */
export class OaError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

const invalidItem = (prop: string) =>
  new OaError(400, 'openaccess.general.invalidrequestitem', `The property ${prop} did not exist or contained an invalid value.`);

export interface StoreData {
  next: Record<string, number>;
  rows: Record<string, Instance[]>;
}

export interface Page {
  total_items: number;
  total_pages: number;
  page_number: number;
  page_size: number;
  count: number;
  item_list: Instance[];
}

export class Store {
  readonly specs = new Map<string, ClassSpec>();
  private data: StoreData = { next: {}, rows: {} };
  /** Cardholder creates by SSNO: more than one for a key is a duplicate person at the doors. */
  readonly createsBySsno = new Map<string, number>();
  /** Writes accepted, by "<method> <class>". */
  readonly writes = new Map<string, number>();

  constructor(udfs: readonly string[], private readonly file?: string) {
    for (const c of classes(udfs)) this.specs.set(c.name.toLowerCase(), c);
    if (file && existsSync(file)) this.data = JSON.parse(readFileSync(file, 'utf8')) as StoreData;
  }

  spec(typeName: string | undefined): ClassSpec {
    const s = typeName ? this.specs.get(typeName.toLowerCase()) : undefined;
    if (!s) throw new OaError(400, 'openaccess.general.invalidtypename', `The type ${typeName ?? '(none)'} does not exist.`);
    return s;
  }

  private rows(c: ClassSpec): Instance[] {
    return (this.data.rows[c.name] ??= []);
  }

  /**
   * Rows by one property's value, per class: what equality filters, references, key lookups and
   * uniqueness checks ask, without scanning every row (a bench's OnGuard holds 10,000 cardholders,
   * their badges and 20,000 assignments, and the server's time is the latency model's, not the
   * scans'). A row is entered under its value as a string (lower case) and as a number, as the
   * filter compares; entered on create and again on modify, never removed: a lookup checks every
   * candidate against the row as it is now, so an old entry is passed over, never a row missed.
   */
  private readonly indexes = new Map<string, Map<string, Set<Instance>>>();
  private readonly deleted = new WeakSet<Instance>();
  /** Creation order, so a lookup answers in the order a scan would. */
  private readonly order = new WeakMap<Instance, number>();
  private seq = 0;

  private static valueKeys(v: unknown): string[] {
    if (v === null || v === undefined) return [];
    const out = [`s:${String(v).toLowerCase()}`];
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isNaN(n)) out.push(`n:${n}`);
    return out;
  }

  private index(c: ClassSpec, prop: string): Map<string, Set<Instance>> {
    const id = `${c.name}\u0000${prop}`;
    let m = this.indexes.get(id);
    if (!m) {
      m = new Map();
      this.indexes.set(id, m);
      for (const r of this.rows(c)) this.enter(m, r, prop);
    }
    return m;
  }

  private enter(m: Map<string, Set<Instance>>, r: Instance, prop: string): void {
    if (!this.order.has(r)) this.order.set(r, this.seq++);
    for (const k of Store.valueKeys(r[prop])) (m.get(k) ?? m.set(k, new Set()).get(k)!).add(r);
  }

  /** Enters a created or modified row in every index its class has. */
  private note(c: ClassSpec, r: Instance): void {
    if (!this.order.has(r)) this.order.set(r, this.seq++);
    for (const ps of c.props) {
      const m = this.indexes.get(`${c.name}\u0000${ps.name}`);
      if (m) this.enter(m, r, ps.name);
    }
  }

  /** Live rows that may have `prop` equal to `value` (a string compared in lower case, or a number), in creation order; the caller checks them. */
  private candidates(c: ClassSpec, prop: string, value: string | number | boolean): Instance[] {
    return this.live(this.entered(c, prop, value));
  }

  /** The rows entered in `prop`'s index under `value` (deleted and since-modified ones included): its size says how narrow a lookup is before it is made. */
  private entered(c: ClassSpec, prop: string, value: string | number | boolean): ReadonlySet<Instance> {
    const key = typeof value === 'number' ? `n:${value}` : `s:${String(value).toLowerCase()}`;
    return this.index(c, prop).get(key) ?? Store.none;
  }

  private static readonly none: ReadonlySet<Instance> = new Set();

  private live(rows: Iterable<Instance>): Instance[] {
    return [...rows].filter((r) => !this.deleted.has(r)).sort((a, b) => this.order.get(a)! - this.order.get(b)!);
  }

  /**
   * Candidates for rows that have every one of these properties equal to its value: those of the
   * narrowest property (an assignment's badge, not its access level that thousands share); the
   * caller checks them against all.
   */
  private narrowest(c: ClassSpec, terms: [prop: string, value: string | number | boolean][]): Instance[] {
    let best: ReadonlySet<Instance> | undefined;
    for (const [prop, value] of terms) {
      const set = this.entered(c, prop, value);
      if (!best || set.size < best.size) best = set;
    }
    return this.live(best ?? Store.none);
  }

  /** Each class's properties by lower-case name (the first of a name, as a search of the list finds it): a filter asks for them per row and term. */
  private readonly propsByName = new WeakMap<ClassSpec, Map<string, PropSpec>>();

  private prop(c: ClassSpec, name: string): PropSpec | undefined {
    let m = this.propsByName.get(c);
    if (!m) {
      m = new Map();
      for (const x of c.props) if (!m.has(x.name.toLowerCase())) m.set(x.name.toLowerCase(), x);
      this.propsByName.set(c, m);
    }
    return m.get(name.toLowerCase());
  }

  /** The client's map with canonical names and typed values; unknown or ill-typed properties refused. */
  private canonical(c: ClassSpec, map: Record<string, unknown>): Instance {
    const out: Instance = {};
    for (const [k, raw] of Object.entries(map ?? {})) {
      const ps = this.prop(c, k);
      if (!ps) throw invalidItem(k);
      if (raw === null || raw === '') {
        out[ps.name] = ps.type === 'string' ? (raw as string | null) ?? null : null;
        continue;
      }
      switch (ps.type) {
        case 'int': {
          const n = Number(raw);
          if (!Number.isInteger(n)) throw invalidItem(ps.name);
          out[ps.name] = n;
          break;
        }
        case 'bool': out[ps.name] = raw === true || raw === 'true' || raw === 1; break;
        case 'datetime': {
          // OpenAccess wants an explicit numeric offset (+00:00, not Z).
          if (typeof raw !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$/.test(raw) || Number.isNaN(Date.parse(raw))) throw invalidItem(ps.name);
          out[ps.name] = raw;
          break;
        }
        default: {
          const s = String(raw);
          if (ps.maxLength !== undefined && s.length > ps.maxLength) throw invalidItem(ps.name);
          out[ps.name] = s;
        }
      }
    }
    return out;
  }

  private checkRefs(c: ClassSpec, row: Instance): void {
    for (const ps of c.props) {
      if (!ps.ref || row[ps.name] === null || row[ps.name] === undefined) continue;
      const target = this.spec(ps.ref);
      const key = target.props.find((x) => x.key)!.name;
      const v = row[ps.name] as string | number | boolean;
      if (!this.candidates(target, key, v).some((r) => r[key] === v)) throw invalidItem(ps.name);
    }
  }

  private checkUnique(c: ClassSpec, row: Instance, self?: Instance): void {
    for (const set of c.unique ?? []) {
      if (set.some((k) => row[k] === null || row[k] === undefined)) continue;
      const same = (r: Instance) => set.every((k) => String(r[k]).toLowerCase() === String(row[k]).toLowerCase());
      if (this.narrowest(c, set.map((k) => [k, String(row[k])])).some((r) => r !== self && same(r))) {
        throw new OaError(400, 'openaccess.general.invalidrequestitem', `An instance of ${c.name} with this ${set.join(' and ')} already exists.`);
      }
    }
  }

  private keyOf(c: ClassSpec): PropSpec[] {
    return c.props.filter((x) => x.key);
  }

  private keyMap(c: ClassSpec, row: Instance): Instance {
    return Object.fromEntries(this.keyOf(c).map((k) => [k.name, row[k.name] ?? null]));
  }

  private find(c: ClassSpec, keys: Instance): Instance {
    for (const k of this.keyOf(c)) if (keys[k.name] === undefined || keys[k.name] === null) throw invalidItem(k.name);
    const terms = this.keyOf(c).map((k): [string, string | number | boolean] => [k.name, keys[k.name] as string | number | boolean]);
    const hit = this.narrowest(c, terms).find((r) => this.keyOf(c).every((k) => r[k.name] === keys[k.name]));
    if (!hit) throw new OaError(400, 'openaccess.general.invalidrequestitem', `No instance of ${c.name} with these key values exists.`);
    return hit;
  }

  private count(what: string): void {
    this.writes.set(what, (this.writes.get(what) ?? 0) + 1);
  }

  /** Create: the instance's key properties only, as OpenAccess answers. `admin` may write read-only classes (seeding). */
  create(typeName: string, map: Record<string, unknown>, admin = false): Instance {
    const c = this.spec(typeName);
    if (c.readOnly && !admin) throw new OaError(400, 'openaccess.general.invalidoperation', `Instances of ${c.name} cannot be created through OpenAccess.`);
    const given = this.canonical(c, map);
    for (const ps of c.props) if (ps.server && given[ps.name] !== undefined && !(admin && ps.key)) throw invalidItem(ps.name);
    const row: Instance = {};
    for (const ps of c.props) row[ps.name] = given[ps.name] ?? ps.default ?? null;
    for (const ps of c.props) if (ps.required && (row[ps.name] === null || row[ps.name] === '')) throw invalidItem(ps.name);
    this.checkRefs(c, row);
    for (const k of this.keyOf(c)) {
      if (k.server && row[k.name] === null) row[k.name] = this.data.next[c.name] = (this.data.next[c.name] ?? 0) + 1;
      else if (k.server) this.data.next[c.name] = Math.max(this.data.next[c.name] ?? 0, Number(row[k.name]));
    }
    // A badge without a number gets one (a badge type set to generate ids; the reference leaves it open).
    if (c.name === 'Lnl_Badge' && row.ID === null) row.ID = 100000 + Number(row.BADGEKEY);
    this.checkUnique(c, row);
    if (c.props.some((x) => x.name === 'LASTCHANGED')) row.LASTCHANGED = oaNow();
    this.rows(c).push(row);
    this.note(c, row);
    if (c.name === 'Lnl_Cardholder' && row.SSNO) this.createsBySsno.set(String(row.SSNO), (this.createsBySsno.get(String(row.SSNO)) ?? 0) + 1);
    this.count(`POST ${c.name}`);
    this.save();
    return this.keyMap(c, row);
  }

  /** Modify: the key plus the properties to change. */
  modify(typeName: string, map: Record<string, unknown>): Instance {
    const c = this.spec(typeName);
    if (c.readOnly) throw new OaError(400, 'openaccess.general.invalidoperation', `Instances of ${c.name} cannot be modified through OpenAccess.`);
    const given = this.canonical(c, map);
    const row = this.find(c, given);
    const next = { ...row };
    for (const [k, v] of Object.entries(given)) {
      const ps = this.prop(c, k)!;
      if (ps.key) continue;
      if (ps.server) throw invalidItem(ps.name);
      next[k] = v;
    }
    for (const ps of c.props) if (ps.required && (next[ps.name] === null || next[ps.name] === '')) throw invalidItem(ps.name);
    this.checkRefs(c, next);
    this.checkUnique(c, next, row);
    if (c.props.some((x) => x.name === 'LASTCHANGED')) next.LASTCHANGED = oaNow();
    Object.assign(row, next);
    this.note(c, row);
    this.count(`PUT ${c.name}`);
    this.save();
    return this.keyMap(c, row);
  }

  delete(typeName: string, map: Record<string, unknown>): void {
    const c = this.spec(typeName);
    if (c.readOnly) throw new OaError(400, 'openaccess.general.invalidoperation', `Instances of ${c.name} cannot be deleted through OpenAccess.`);
    const row = this.find(c, this.canonical(c, map));
    // A cardholder with badges is refused (the reference leaves it open; OnGuard's UI asks first).
    if (c.name === 'Lnl_Cardholder' && this.rows(this.spec('Lnl_Badge')).some((b) => b.PERSONID === row.ID)) {
      throw new OaError(400, 'openaccess.general.invalidoperation', 'The cardholder has badges.');
    }
    if (c.name === 'Lnl_Badge') {
      const a = this.spec('Lnl_AccessLevelAssignment');
      this.data.rows[a.name] = this.rows(a).filter((r) => {
        if (r.BadgeKey !== row.BADGEKEY) return true;
        this.deleted.add(r);
        return false;
      });
    }
    this.data.rows[c.name] = this.rows(c).filter((r) => r !== row);
    this.deleted.add(row);
    this.count(`DELETE ${c.name}`);
    this.save();
  }

  /** Instances matching `filter` (OpenAccess's SQL subset), ordered, paged (1-based, 1..100 per page). */
  list(typeName: string, opts: { filter?: string; pageNumber?: number; pageSize?: number; orderBy?: string }): Page & { type_name: string } {
    const c = this.spec(typeName);
    const size = opts.pageSize ?? 20;
    const number = opts.pageNumber ?? 1;
    if (!Number.isInteger(size) || size < 1 || size > 100) throw invalidItem('page_size');
    if (!Number.isInteger(number) || number < 1) throw invalidItem('page_number');
    let rows = this.select(c, opts.filter);
    if (opts.orderBy) {
      const [name, dir] = opts.orderBy.trim().split(/\s+/);
      const ps = this.prop(c, name ?? '');
      if (!ps) throw invalidItem(name ?? 'order_by');
      const sign = dir?.toLowerCase() === 'desc' ? -1 : 1;
      rows = [...rows].sort((a, b) => sign * (String(a[ps.name] ?? '').localeCompare(String(b[ps.name] ?? ''), undefined, { numeric: true })));
    }
    const items = rows.slice((number - 1) * size, number * size);
    return {
      type_name: c.name, page_number: number, page_size: size, total_items: rows.length, total_pages: Math.ceil(rows.length / size),
      count: items.length, item_list: items.map((r) => ({ ...r })),
    };
  }

  countOf(typeName: string, filter?: string): number {
    return this.select(this.spec(typeName), filter).length;
  }

  private select(c: ClassSpec, filter?: string): Instance[] {
    if (!filter?.trim()) return this.rows(c);
    let f;
    try {
      f = parseFilter(filter);
    } catch (e) {
      if (e instanceof FilterError) throw new OaError(400, 'openaccess.general.invalidfilter', `The filter is not valid: ${e.message}.`);
      throw e;
    }
    for (const name of filterProps(f)) if (!this.prop(c, name)) throw invalidItem(name);
    const get = (r: Instance) => (name: string) => r[this.prop(c, name)!.name] ?? null;
    // The index narrows the rows to those the filter may match; the whole filter decides.
    const rows = this.narrow(c, f) ?? this.rows(c);
    return rows.filter((r) => matches(f, get(r)));
  }

  /**
   * Live rows, in creation order, among which are all that `f` matches, from the indexes; undefined
   * when the filter gives no equality to look up (the caller scans every row). An equality is one
   * lookup; an OR of terms that each narrow is the union of theirs (a client's batch of keys:
   * `SSNO = "1" or SSNO = "2"`); an AND is its narrowest term.
   */
  private narrow(c: ClassSpec, f: Filter): Instance[] | undefined {
    const sets = this.lookups(c, f);
    if (!sets) return undefined;
    const union = new Set<Instance>();
    for (const set of sets) for (const r of set) union.add(r);
    return this.live(union);
  }

  /** The index entries that hold every row `f` may match (their total size: how narrow), or undefined when some row may be elsewhere. */
  private lookups(c: ClassSpec, f: Filter): ReadonlySet<Instance>[] | undefined {
    if ('op' in f) return f.op === '=' ? [this.entered(c, this.prop(c, f.prop)!.name, f.value)] : undefined;
    if ('or' in f) {
      const all: ReadonlySet<Instance>[] = [];
      for (const x of f.or) {
        const sets = this.lookups(c, x);
        if (!sets) return undefined;
        all.push(...sets);
      }
      return all;
    }
    if ('and' in f) {
      let best: ReadonlySet<Instance>[] | undefined;
      const size = (sets: ReadonlySet<Instance>[]) => sets.reduce((n, x) => n + x.size, 0);
      for (const x of f.and) {
        const sets = this.lookups(c, x);
        if (sets && (!best || size(sets) < size(best))) best = sets;
      }
      return best;
    }
    return undefined;
  }

  /** Everything, for tests and the kit's look at the system. */
  all(typeName: string): Instance[] {
    return this.rows(this.spec(typeName)).map((r) => ({ ...r }));
  }

  private pending: NodeJS.Immediate | undefined;

  /** State survives a restart: written after each write, coalesced within a turn of the event loop. */
  private save(): void {
    if (!this.file || this.pending) return;
    this.pending = setImmediate(() => this.flush());
  }

  flush(): void {
    if (this.pending) clearImmediate(this.pending);
    this.pending = undefined;
    if (!this.file) return;
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data));
    renameSync(tmp, this.file);
  }

  isEmpty(): boolean {
    return Object.values(this.data.rows).every((r) => r.length === 0);
  }
}

/** Now, as OpenAccess writes dates: an explicit offset, never Z. */
export function oaNow(d = new Date()): string {
  return d.toISOString().replace(/\.\d+Z$/, '+00:00');
}
