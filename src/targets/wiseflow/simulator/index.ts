/**
 * A WISEflow API (v1.34.0) simulator over real HTTP (node:http), for the user-provisioning subset
 * of REFERENCE §3: OAuth2 client credentials (tokens that expire) or a static `x-api-key`, the
 * `{success,data,error}` envelope on /users/*, /license/roles and /license/user-data-types and bare
 * objects on /license/user, /license/info and /user/*, partial success on the array endpoints,
 * the licence's rate limits (200/s and 5,000/min per credential → 429 with Retry-After and the
 * RateLimit headers), an optional latency model (a fixed pool of workers, each request taking a
 * service time), injected faults, and state kept in a JSON file across restarts.
 *
 *   const sim = await startWiseflowSimulator({ clients: [{ id: 'c', secret: 's' }] });
 *   // sim.url ends in /v1
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { faultInjector, type FaultInjector, type FaultSettingsInput } from '../../../lib/faults.js';
import { ApiError, Licence, type License, type PartialResult } from './state.js';

export { ApiError, Licence, defaultLicense } from './state.js';
export type { License, UserRec, StateData } from './state.js';

export interface RateLimits { perSecond: number; perMinute: number }
export interface LatencyModel {
  /** Requests served at once; the rest wait in line. */
  workers: number;
  /** Service time of a read and of a write (ms). */
  readMs: number;
  writeMs: number;
}
export const DEFAULT_LATENCY: LatencyModel = { workers: 16, readMs: 40, writeMs: 80 };

export interface WiseflowSimulatorOptions {
  port?: number;
  host?: string;
  /** OAuth2 clients (client_id / client_secret). */
  clients?: { id: string; secret: string }[];
  /** Static API keys accepted in `x-api-key`. */
  apiKeys?: string[];
  /** Lifetime of an access token (s). WISEflow: 3599. */
  tokenTtlSeconds?: number;
  /** Per credential; `false` turns limiting off. Default WISEflow's 200/s and 5,000/min. */
  rateLimits?: RateLimits | false;
  latency?: boolean | Partial<LatencyModel>;
  license?: License;
  stateFile?: string;
  /** Requests without `X-Client-Name` are refused (400), as the certification review requires it. */
  requireClientName?: boolean;
  /** Faults at seeded rates (5xx, 429, timeouts, lost answers, slow answers); off by default. */
  faults?: FaultSettingsInput | null;
}

/** A fault planted for the next matching requests. */
export interface Fault {
  match: (req: { method: string; path: string; body: string }) => boolean;
  times: number;
  /** 5xx / 429 status, or 'timeout' (the connection is held and never answered). */
  kind: number | 'timeout';
}

export interface WiseflowSimulator {
  url: string;
  licence: Licence;
  /** Access tokens issued so far. */
  tokensIssued(): number;
  /** Requests answered 429 so far, and the highest rate any credential reached in a second. */
  throttled(): number;
  peakPerSecond(): number;
  requests(): number;
  /** POST /users/search requests answered (not refused by the rate limits). */
  searches(): number;
  /** Writes accepted (2xx POST/PUT/PATCH/DELETE except the token endpoint). */
  writes(): number;
  fail(f: Fault): void;
  /** Every access token issued so far stops working (as after a credential rotation). */
  revokeTokens(): void;
  close(): Promise<void>;
  /** Faults at seeded rates: what was injected, and settings to change at run time. */
  injector: FaultInjector;
  /** Users created per key (first external id value, else first email): more than one is a person made twice. */
  creates(): ReadonlyMap<string, number>;
}

/** Sliding windows per credential: requests in the last second and minute. */
class Windows {
  private readonly stamps = new Map<string, number[]>();
  peak = 0;
  constructor(private readonly limits: RateLimits) {}

  /** Counts the request when allowed; otherwise how long until it would be (ms). */
  take(key: string, now: number): { ok: true; headers: Record<string, string> } | { ok: false; retryAfterMs: number; headers: Record<string, string> } {
    const all = (this.stamps.get(key) ?? []).filter((t) => t > now - 60_000);
    this.stamps.set(key, all);
    const lastSecond = all.filter((t) => t > now - 1000);
    const headers = (sec: number, min: number) => {
      const secReset = lastSecond.length ? Math.ceil((lastSecond[0]! + 1000 - now) / 1000) : 1;
      const minReset = all.length ? Math.ceil((all[0]! + 60_000 - now) / 1000) : 60;
      return {
        'ratelimit-limit': String(this.limits.perMinute), 'ratelimit-remaining': String(Math.max(0, this.limits.perMinute - min)), 'ratelimit-reset': String(minReset),
        'x-ratelimit-minute-limit': String(this.limits.perMinute), 'x-ratelimit-minute-remaining': String(Math.max(0, this.limits.perMinute - min)), 'x-ratelimit-minute-reset': String(minReset),
        'x-ratelimit-second-limit': String(this.limits.perSecond), 'x-ratelimit-second-remaining': String(Math.max(0, this.limits.perSecond - sec)), 'x-ratelimit-second-reset': String(secReset),
      };
    };
    if (lastSecond.length >= this.limits.perSecond) return { ok: false, retryAfterMs: lastSecond[lastSecond.length - this.limits.perSecond]! + 1000 - now, headers: headers(lastSecond.length, all.length) };
    if (all.length >= this.limits.perMinute) return { ok: false, retryAfterMs: all[all.length - this.limits.perMinute]! + 60_000 - now, headers: headers(lastSecond.length, all.length) };
    all.push(now);
    this.peak = Math.max(this.peak, lastSecond.length + 1);
    return { ok: true, headers: headers(lastSecond.length + 1, all.length) };
  }
}

/** A fixed pool of workers: a request waits for a free one, then takes its service time. */
class Pool {
  private busy = 0;
  private readonly line: (() => void)[] = [];
  constructor(private readonly workers: number) {}
  async serve(ms: number): Promise<void> {
    if (this.busy >= this.workers) await new Promise<void>((r) => this.line.push(r));
    else this.busy++;
    try {
      await new Promise((r) => setTimeout(r, ms));
    } finally {
      const next = this.line.shift();
      if (next) next();
      else this.busy--;
    }
  }
}

const ENVELOPED = /^\/(users(\/|$)|license\/roles|license\/user-data-types)/;

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-trace-id': randomBytes(8).toString('hex'), ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

const envelope = (data: unknown) => ({ success: true, data, error: null });
const errorBody = (status: number, message: string, errors: { reason: string; message: string }[] = []) =>
  ({ success: false, data: null, error: { code: status, message, errors } });
/** An array endpoint: 2xx whatever happened; success false with the refusals when some item was refused. */
const partial = <T>(r: PartialResult<T>) => (r.refused.length
  ? { success: false, data: r.done, error: { code: 400, message: 'Some items could not be processed', errors: r.refused } }
  : envelope(r.done));

export async function startWiseflowSimulator(o: WiseflowSimulatorOptions = {}): Promise<WiseflowSimulator> {
  const licence = Licence.load(o.stateFile, o.license);
  const clients = new Map((o.clients ?? []).map((c) => [c.id, c.secret]));
  const apiKeys = new Set(o.apiKeys ?? []);
  const ttl = o.tokenTtlSeconds ?? 3599;
  const tokens = new Map<string, { client: string; expires: number }>();
  const windows = o.rateLimits === false ? undefined : new Windows(o.rateLimits ?? { perSecond: 200, perMinute: 5000 });
  const model = o.latency ? { ...DEFAULT_LATENCY, ...(o.latency === true ? {} : o.latency) } : undefined;
  const pool = model ? new Pool(model.workers) : undefined;
  const faults: Fault[] = [];
  let issued = 0, throttled = 0, requests = 0, writes = 0, searches = 0;
  const held = new Set<ServerResponse>();

  /** The credential a request acts as, or null (401). */
  const credential = (req: IncomingMessage): string | null => {
    const key = req.headers['x-api-key'];
    if (typeof key === 'string' && apiKeys.has(key)) return `key:${key.slice(0, 4)}`;
    const m = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
    const t = m ? tokens.get(m[1]!) : undefined;
    if (!t || t.expires <= Date.now()) return null;
    return `client:${t.client}`;
  };

  const token = (body: string, res: ServerResponse) => {
    const f = new URLSearchParams(body);
    if (f.get('grant_type') !== 'client_credentials') return send(res, 400, { error: 'unsupported_grant_type', error_description: 'grant_type must be client_credentials' });
    const id = f.get('client_id') ?? '';
    if (!clients.has(id) || clients.get(id) !== f.get('client_secret')) return send(res, 400, { error: 'invalid_client', error_description: 'Client authentication failed' });
    const t = randomBytes(24).toString('base64url');
    tokens.set(t, { client: id, expires: Date.now() + ttl * 1000 });
    issued++;
    send(res, 200, { access_token: t, expires_in: ttl, scope: '', token_type: 'bearer' });
  };

  const route = (method: string, path: string, json: unknown): { status: number; body: unknown } => {
    const body = json as Record<string, unknown>;
    const list = () => {
      if (!Array.isArray(json)) throw new ApiError(400, 'The request body must be a list');
      return json as Record<string, unknown>[];
    };
    let m: RegExpExecArray | null;
    if (method === 'GET' && path === '/license/info') {
      const l = licence.license;
      return { status: 200, body: {
        flowTypes: [], modules: [], coverSheetElements: [], flowPurposes: [], markingScales: [],
        userDataTypes: l.userDataTypes.map((t) => ({ id: t.id, name: t.name, type: t.id, description: t.name, pattern: t.pattern })),
        settings: { requireUniqueEmails: l.requireUniqueEmails },
        licenseRoles: l.roles.map(({ roleId, name, isProtected }) => ({ roleId, name, isProtected })),
      } };
    }
    if (method === 'GET' && path === '/license/roles') return { status: 200, body: envelope(licence.license.roles.map(({ roleId, name, isProtected }) => ({ roleId, name, isProtected }))) };
    if (method === 'GET' && path === '/license/user-data-types') {
      return { status: 200, body: envelope(licence.license.userDataTypes.map(({ id, name, pattern, supportsMultipleValues, protected: p, visible }) => ({ id, name, type: name, pattern, supportsMultipleValues, protected: p, visible }))) };
    }
    if (method === 'POST' && path === '/license/user') {
      const r = licence.upsert(body ?? {});
      return { status: r.status, body: { userId: r.userId } };
    }
    if (method === 'POST' && (m = /^\/users\/search(?:\?(.*))?$/.exec(path))) {
      const q = new URLSearchParams(m[1] ?? '');
      const offset = Number(q.get('offset') ?? 0), limit = Number(q.get('limit') ?? 100);
      if (!(limit >= 1 && limit <= 100) || !(offset >= 0)) throw new ApiError(400, 'limit must be 1..100 and offset ≥ 0');
      const pairs = (body as { dataTypes?: { id: number; value: string }[] })?.dataTypes;
      if (!Array.isArray(pairs) || !pairs.length) throw new ApiError(400, 'dataTypes is required');
      const found = licence.search(pairs);
      return { status: 200, body: { ...envelope(found.slice(offset, offset + limit).map((u) => licence.searchView(u))), pagination: { limit, offset, total: found.length } } };
    }
    if ((m = /^\/user\/(\d+)\/info$/.exec(path)) && method === 'GET') return { status: 200, body: licence.infoView(licence.user(Number(m[1]))) };
    if ((m = /^\/user\/userDataType\/(\d+)\/([^/]+)$/.exec(path)) && method === 'GET') {
      const u = licence.search([{ id: Number(m[1]), value: decodeURIComponent(m[2]!) }])[0];
      if (!u) throw new ApiError(404, 'User not found');
      return { status: 200, body: licence.infoView(u) };
    }
    if ((m = /^\/users\/(\d+)$/.exec(path))) {
      const id = Number(m[1]);
      if (method === 'GET') return { status: 200, body: envelope(licence.basicView(licence.user(id))) };
      if (method === 'PUT') return { status: 200, body: envelope(licence.basicView(licence.put(id, body ?? {}))) };
      if (method === 'DELETE') { licence.deleteUser(id); return { status: 200, body: envelope({}) }; }
    }
    if ((m = /^\/users\/(\d+)\/(emails|roles|user-data)(?:\/(\d+))?$/.exec(path))) {
      const u = licence.user(Number(m[1]));
      const what = m[2]!, sub = m[3] === undefined ? undefined : Number(m[3]);
      if (sub === undefined) {
        if (method === 'GET') {
          if (what === 'emails') return { status: 200, body: envelope(u.emails) };
          if (what === 'roles') return { status: 200, body: envelope(u.roles.map((r) => ({ ...r, name: licence.role(r.licenseRoleId)?.name ?? '', isProtected: licence.role(r.licenseRoleId)?.isProtected ?? false }))) };
          return { status: 200, body: envelope(u.userData.map((d) => ({ ...d, description: licence.dataType(d.userDataTypeId)?.name ?? '', metaTypeName: licence.dataType(d.userDataTypeId)?.name ?? '' }))) };
        }
        if (method === 'POST') {
          if (what === 'emails') return { status: 201, body: partial(licence.addEmails(u, list())) };
          if (what === 'roles') return { status: 201, body: partial(licence.addRoles(u, list())) };
          return { status: 201, body: partial(licence.addUserData(u, list())) };
        }
        if (method === 'PATCH' && what === 'emails') return { status: 200, body: partial(licence.patchEmails(u, list())) };
        if (method === 'PATCH' && what === 'user-data') return { status: 201, body: partial(licence.patchUserData(u, list())) };
      } else if (method === 'DELETE') {
        if (what === 'emails') licence.deleteEmail(u, sub);
        else if (what === 'roles') licence.deleteRole(u, sub);
        else licence.deleteUserData(u, sub);
        return { status: 200, body: envelope({}) };
      }
    }
    throw new ApiError(404, `No route ${method} ${path}`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, body: string) => {
    requests++;
    const method = req.method ?? 'GET';
    const full = (req.url ?? '/').replace(/^\/v1(?=\/|$)/, '');
    const path = full.split('?')[0]!;
    if (!req.url?.startsWith('/v1/')) return send(res, 404, errorBody(404, 'Not found'));
    const fault = faults.find((f) => f.times > 0 && f.match({ method, path: full, body }));
    if (fault) {
      fault.times--;
      if (fault.kind === 'timeout') { held.add(res); return; }
      return send(res, fault.kind, fault.kind === 429 ? errorBody(429, 'Too many requests') : { message: 'Service unavailable' }, fault.kind === 429 ? { 'retry-after': '1' } : {});
    }
    if (method === 'POST' && path === '/oauth2/token') return token(body, res);
    const who = credential(req);
    if (!who) return send(res, 401, { message: 'Unauthorized' });
    if (o.requireClientName && !req.headers['x-client-name']) return send(res, 400, errorBody(400, 'The X-Client-Name header is required'));
    let rate: Record<string, string> = {};
    if (windows) {
      const t = windows.take(who, Date.now());
      rate = t.headers;
      if (!t.ok) {
        throttled++;
        return send(res, 429, errorBody(429, 'Too many requests'), { ...rate, 'retry-after': String(Math.max(1, Math.ceil(t.retryAfterMs / 1000))) });
      }
    }
    if (method === 'POST' && path === '/users/search') searches++;
    const write = method !== 'GET' && path !== '/users/search';
    if (pool && model) await pool.serve(write ? model.writeMs : model.readMs);
    let json: unknown;
    if (body) {
      if (!String(req.headers['content-type'] ?? '').includes('application/json')) return send(res, 415, errorBody(415, 'Unsupported media type'), rate);
      try { json = JSON.parse(body); } catch { return send(res, 400, errorBody(400, 'The body is not JSON'), rate); }
    }
    try {
      const r = route(method, full, json);
      if (write) { writes++; licence.writes++; licence.save(); }
      send(res, r.status, r.body, rate);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      const bare = !ENVELOPED.test(path);
      send(res, e.status, bare ? { message: e.message } : errorBody(e.status, e.message, e.reasons), rate);
    }
  };

  const injector = faultInjector(o.faults);
  const server: Server = createServer(injector.wrap((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((e: unknown) => send(res, 500, errorBody(500, String((e as Error).message))));
    });
  }, (res, status, headers) => send(res, status, status === 429 ? errorBody(429, 'Too many requests') : { message: 'Service unavailable' }, headers)));
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => r()));
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${o.host ?? '127.0.0.1'}:${addr.port}/v1`,
    licence,
    tokensIssued: () => issued,
    throttled: () => throttled,
    peakPerSecond: () => windows?.peak ?? 0,
    requests: () => requests,
    searches: () => searches,
    writes: () => writes,
    fail: (f) => { faults.push(f); },
    injector,
    creates: () => licence.createsByKey,
    revokeTokens: () => tokens.clear(),
    async close() {
      for (const r of held) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
