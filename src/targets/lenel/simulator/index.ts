/**
 * An OpenAccess (Lenel OnGuard REST) simulator: the points of the API a provisioning client meets,
 * over real HTTP. What the reference leaves unknown is decided here and documented in the
 * target's README:
 *
 * - `Application-Id` on every request, else 401 `openaccess.general.invalidapplicationid`;
 * - sessions from `POST /authentication`; a token expires after `sessionIdleMs` without use (each
 *   request, and `GET /keepalive`, renews it); a missing, unknown, expired or logged-out token is
 *   401 `openaccess.general.invalidsessiontoken`;
 * - `/version` and `/directories` need no session;
 * - parameters from the query string or the JSON body alike; DELETE takes a JSON body;
 * - validation, not-found, unique badge id and duplicate assignment: 400 `invalidrequestitem`;
 * - no uniqueness on cardholders: a second create with the same SSNO makes a second cardholder
 *   (counted per SSNO, so tests can prove tilgang never does it);
 * - fault injection (5xx, 429 with Retry-After, a request left unanswered before or after it ran)
 *   and a worker-pool latency model.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { faultInjector, type FaultInjector, type FaultSettingsInput } from '../../../lib/faults.js';
import { DEFAULT_LATENCY, sleep, WorkerPool, type LatencyModel } from './latency.js';
import { OaError, oaNow, Store } from './store.js';
import type { Instance } from './types.js';

export const BASE_PATH = '/api/access/onguard/openaccess';

export interface LenelSeed {
  badgeTypes: { ID: number; Name: string }[];
  badgeStatuses: { ID: number; Name: string }[];
  accessLevels: { ID: number; Name: string }[];
  departments?: { ID: number; Name: string }[];
  titles?: { ID: number; Name: string }[];
}

/** A small site: an employee and a student badge type, OnGuard's usual statuses, some levels. */
export const DEFAULT_SEED: LenelSeed = {
  badgeTypes: [{ ID: 1, Name: 'Employee' }, { ID: 2, Name: 'Student' }, { ID: 3, Name: 'Visitor' }],
  badgeStatuses: [{ ID: 1, Name: 'Active' }, { ID: 2, Name: 'Lost' }, { ID: 3, Name: 'Returned' }, { ID: 4, Name: 'Terminated' }, { ID: 5, Name: 'Inactive' }],
  accessLevels: [
    { ID: 1, Name: 'Main entrance' }, { ID: 2, Name: 'Library' }, { ID: 3, Name: 'Science building' }, { ID: 4, Name: 'Science labs' },
    { ID: 5, Name: 'Humanities building' }, { ID: 6, Name: 'Staff only' }, { ID: 7, Name: 'Server room' }, { ID: 8, Name: 'Parking' },
  ],
};

export interface LenelSimulatorOptions {
  port?: number;
  host?: string;
  /** Licensed application ids. */
  applicationIds?: string[];
  /** Operator accounts: user_name → password. */
  users?: Record<string, string>;
  /** Idle time after which a session token is no longer accepted. Default 30 min. */
  sessionIdleMs?: number;
  /** Custom cardholder fields (UDFs), upper case as OnGuard names them. */
  udfs?: string[];
  seed?: LenelSeed;
  stateFile?: string;
  latency?: boolean | Partial<LatencyModel>;
  /** Faults at seeded rates (5xx, 429, timeouts, lost answers, slow answers); off by default. */
  faults?: FaultSettingsInput | null;
}

export interface Fault {
  /** An HTTP status to answer with, or `timeout`: no answer at all (the client's timeout fires). */
  status: number | 'timeout';
  times: number;
  retryAfterSeconds?: number;
  /** `timeout` only: run the request first (the answer is lost, the write happened). */
  afterRun?: boolean;
  match?: (req: { method: string; path: string; type: string | undefined; body: Record<string, unknown> }) => boolean;
}

interface Session { token: string; user: string; expires: number; live: boolean }

export interface LenelSimulator {
  url: string;
  /** The OpenAccess base URL tilgang is configured with. */
  apiUrl: string;
  store: Store;
  /** Logins accepted so far. */
  logins: () => number;
  /** Every session now expires (as after an idle timeout), so the next request meets a 401. */
  expireSessions(): void;
  fault(f: Fault): void;
  /** Requests that were served, by "<METHOD> <path>" (faults and refusals included). */
  requests: Map<string, number>;
  /** Session tokens issued (for tests that prove none leaked). */
  tokens(): string[];
  /** Faults at seeded rates: what was injected, and settings to change at run time. */
  injector: FaultInjector;
  /** Cardholders created per SSNO: more than one is a person made twice. */
  creates(): ReadonlyMap<string, number>;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify({ ...(body as object), version: '1.0' }));
}

const errorBody = (e: OaError) => ({ error: { code: e.code, message: e.message } });

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startLenelSimulator(opts: LenelSimulatorOptions = {}): Promise<LenelSimulator> {
  const appIds = new Set(opts.applicationIds ?? ['TILGANG']);
  const users = opts.users ?? { tilgang: 'tilgang' };
  const idleMs = opts.sessionIdleMs ?? 30 * 60_000;
  const store = new Store(opts.udfs ?? ['IDAUTO_ID'], opts.stateFile);
  if (store.isEmpty()) {
    const seed = opts.seed ?? DEFAULT_SEED;
    for (const [type, rows] of [['Lnl_BadgeType', seed.badgeTypes], ['Lnl_BadgeStatus', seed.badgeStatuses], ['Lnl_AccessLevel', seed.accessLevels],
      ['Lnl_DEPT', seed.departments ?? []], ['Lnl_TITLE', seed.titles ?? []]] as const) {
      for (const r of rows) store.create(type, r, true);
    }
    store.writes.clear();
  }
  const model: LatencyModel | null = opts.latency ? { ...DEFAULT_LATENCY, ...(typeof opts.latency === 'object' ? opts.latency : {}) } : null;
  const pool = new WorkerPool(model?.workers ?? Number.MAX_SAFE_INTEGER);
  const sessions = new Map<string, Session>();
  const faults: Fault[] = [];
  const requests = new Map<string, number>();
  let logins = 0;
  const held = new Set<ServerResponse>();
  const sockets = new Set<Socket>();

  const session = (req: IncomingMessage): Session => {
    const token = req.headers['session-token'];
    const s = typeof token === 'string' ? sessions.get(token) : undefined;
    if (!s || !s.live || s.expires <= Date.now()) {
      throw new OaError(401, 'openaccess.general.invalidsessiontoken', 'The session token is missing, unknown or expired.');
    }
    s.expires = Date.now() + idleMs;
    return s;
  };

  const handle = async (method: string, path: string, req: IncomingMessage, params: Record<string, unknown>): Promise<{ status: number; body: unknown; items?: number }> => {
    const app = req.headers['application-id'];
    if (typeof app !== 'string' || !appIds.has(app)) {
      throw new OaError(401, 'openaccess.general.invalidapplicationid', `License violation. ${typeof app === 'string' && app ? app : 'The application'} is not licensed for use with OpenAccess.`);
    }
    const str = (k: string) => (params[k] === undefined || params[k] === null ? undefined : String(params[k]));
    const int = (k: string) => (params[k] === undefined ? undefined : Number(params[k]));
    const route = `${method} ${path}`;
    switch (route) {
      case 'GET /version': return { status: 200, body: { product_name: 'OnGuard 7.6 (simulated)', product_version: '7.6.001' } };
      case 'GET /directories': return { status: 200, body: { total_items: 1, item_list: [{ property_value_map: { ID: 'id1', Name: 'Lenel', directory_type: 1 } }] } };
      case 'POST /authentication': {
        const user = str('user_name');
        if (!user || users[user] === undefined || users[user] !== str('password')) {
          throw new OaError(401, 'openaccess.general.invalidcredentials', 'The user name or password is not valid.');
        }
        logins++;
        const s: Session = { token: randomUUID(), user, expires: Date.now() + idleMs, live: true };
        sessions.set(s.token, s);
        return { status: 200, body: { session_token: s.token, token_expiration_time: oaNow(new Date(s.expires)) } };
      }
      case 'DELETE /authentication': {
        session(req).live = false;
        return { status: 200, body: {} };
      }
      case 'GET /keepalive': session(req); return { status: 200, body: {} };
      case 'GET /session': {
        const s = session(req);
        return { status: 200, body: { user_name: s.user, token_expiration_time: oaNow(new Date(s.expires)) } };
      }
    }
    session(req);
    const type = str('type_name');
    const map = (params.property_value_map ?? {}) as Record<string, unknown>;
    switch (route) {
      case 'GET /types': return { status: 200, body: { total_items: store.specs.size, item_list: [...store.specs.values()].map((c) => ({ name: c.name })) } };
      case 'GET /type': {
        const c = store.spec(type);
        return {
          status: 200,
          body: {
            name: c.name,
            properties: c.props.map((p) => ({ name: p.name, type: p.type, is_key: !!p.key, is_required: !!p.required, max_length: p.maxLength ?? null, access: p.server ? 'read' : 'readwrite' })),
          },
        };
      }
      case 'GET /instances': {
        const page = store.list(type ?? '', { filter: str('filter'), pageNumber: int('page_number'), pageSize: int('page_size'), orderBy: str('order_by') });
        return { status: 200, body: { ...page, item_list: page.item_list.map((i) => ({ property_value_map: i, type_name: page.type_name })) }, items: page.count };
      }
      case 'GET /count': return { status: 200, body: { total_items: store.countOf(type ?? '', str('filter')) } };
      case 'POST /instances': return { status: 200, body: { type_name: store.spec(type).name, property_value_map: store.create(type ?? '', map) } };
      case 'PUT /instances': return { status: 200, body: { type_name: store.spec(type).name, property_value_map: store.modify(type ?? '', map) } };
      case 'DELETE /instances': store.delete(type ?? '', map); return { status: 200, body: {} };
    }
    throw new OaError(404, 'openaccess.general.notfound', `No such operation: ${method} ${path}.`);
  };

  const cost = (method: string, path: string, items: number): number => {
    if (!model) return 0;
    if (path === '/authentication') return model.authMs;
    return method === 'GET' ? model.readMs + model.perItemMs * items : model.writeMs;
  };

  const injector = faultInjector(opts.faults);
  const server: Server = createServer(injector.wrap((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://sim');
      const text = await readBody(req);
      const method = req.method ?? 'GET';
      if (!url.pathname.startsWith(BASE_PATH)) return send(res, 404, errorBody(new OaError(404, 'openaccess.general.notfound', 'Not found.')));
      const path = url.pathname.slice(BASE_PATH.length) || '/';
      requests.set(`${method} ${path}`, (requests.get(`${method} ${path}`) ?? 0) + 1);
      let body: Record<string, unknown> = {};
      if (text.trim()) {
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          return send(res, 400, errorBody(new OaError(400, 'openaccess.general.invalidrequest', 'The request body is not valid JSON.')));
        }
      }
      // Query and body name the same parameters; the body is where sensitive ones belong.
      const params: Record<string, unknown> = { ...Object.fromEntries(url.searchParams), ...body };
      const fault = faults.find((f) => f.times > 0 && (!f.match || f.match({ method, path, type: params.type_name as string | undefined, body })));
      if (fault) fault.times--;
      if (fault && fault.status !== 'timeout') {
        const headers: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
        return send(res, fault.status, errorBody(new OaError(fault.status, 'openaccess.general.unavailable', 'The service is unavailable.')), headers);
      }
      if (fault && !fault.afterRun) {
        held.add(res);
        return;
      }
      await pool.run(async () => {
        let out: { status: number; body: unknown; items?: number };
        try {
          out = await handle(method, path, req, params);
        } catch (e) {
          if (!(e instanceof OaError)) throw e;
          out = { status: e.status, body: errorBody(e) };
        }
        const wait = cost(method, path, out.items ?? 0);
        if (wait > 0) await sleep(wait);
        if (fault) held.add(res);
        else send(res, out.status, out.body);
      });
    })().catch((e: unknown) => send(res, 500, errorBody(new OaError(500, 'openaccess.general.internal', (e as Error).message))));
  }, (res, status, headers) => send(res, status, errorBody(new OaError(status, 'openaccess.general.unavailable', 'The service is unavailable.')), headers)));
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => r()));
  const url = `http://${opts.host ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}`;
  return {
    url, apiUrl: `${url}${BASE_PATH}`, store, requests,
    logins: () => logins,
    expireSessions: () => { for (const s of sessions.values()) s.expires = 0; },
    fault: (f) => { faults.push(f); },
    tokens: () => [...sessions.keys()],
    injector,
    creates: () => store.createsBySsno,
    async close() {
      for (const r of held) r.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      store.flush();
    },
  };
}

export type { Instance };
