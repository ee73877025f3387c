/**
 * A Moodle 4.5 web-service simulator over real HTTP (node:http), faithful to recorded traffic
 * (moodle-recorded/cases.jsonl): the REST server at /webservice/rest/server.php (GET and POST,
 * PHP-style bracketed parameters, json or xml), /login/token.php, HTTP 200 with Moodle's error
 * bodies, whole-batch rollback, Moodle's uniqueness rules and id sequences, state kept in a JSON
 * file, and an optional latency/capacity model.
 *
 *   const sim = await startMoodleSimulator({ token: '...', port: 0 });
 *   // sim.url is the site's wwwroot; POST sim.url + '/webservice/rest/server.php'
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { faultInjector, type FaultInjector, type FaultSettingsInput } from '../../../lib/faults.js';
import { log } from '../../../lib/log.js';
import { Engine, type DebugLevel } from './engine.js';
import { FUNCTIONS_BY_NAME, SIMULATED_FUNCTIONS } from './functions/index.js';
import {
  resolveLatency, serviceTimeMs, SharedCpu, UserLocks, WorkerPool, type LatencyModel, type PoolMetrics,
} from './latency.js';
import { arrayMerge, parseQuery, type PhpArray } from './php.js';
import { initialState, RECORDED_TOKEN, type Seed } from './seed.js';
import { SERVICE_ROLE_CAPABILITIES, type PasswordPolicy, type SiteSettings } from './site.js';
import { readStateFile, Store, writeStateFile, type ProfileFieldRec, type StateData } from './state.js';

export type { DebugLevel } from './engine.js';
export type { LatencyModel, LatencyCost, PoolMetrics, ServedRequest } from './latency.js';
export { DEFAULT_LATENCY } from './latency.js';
export type { Seed } from './seed.js';
export { RECORDED_TOKEN } from './seed.js';
export type { StateData } from './state.js';

export interface MoodleSimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The web-service user's permanent token. */
  token: string;
  /** JSON file the state is loaded from (when present) and saved to after every change. */
  stateFile?: string;
  /** Ignore an existing state file and start from the seed. */
  fresh?: boolean;
  /** `recorded` (default): the recorded site with Templates/TEMPLATE-101; `minimal`: a fresh install + service user. */
  seed?: Seed;
  /** The service's functions, in get_site_info's order. Default: every simulated function. */
  serviceFunctions?: string[];
  /** Capabilities the token user holds (see SiteSettings.capabilities). Default: the recorded service role's. */
  capabilities?: string[];
  /** Off by default. `true` = defaults fitted to bench-2.txt; or a partial model. */
  latency?: boolean | Partial<LatencyModel>;
  /** Worker pool size for the latency model (overrides latency.workers). */
  workers?: number;
  /** Moodle's `$CFG->debug`: 'developer' adds `debuginfo` to error bodies. Default 'off'. */
  debug?: DebugLevel;
  /** `$CFG->wwwroot`; default the server's own http://host:port. */
  wwwroot?: string;
  /** Installed auth plugins (PARAM_AUTH; installed, enabled or not). Default: core plugins plus saml2. */
  authPlugins?: string[];
  /** Roles the service user may assign in courses. Default 3, 4, 5 (manager is refused, as recorded). */
  assignableRoles?: number[];
  /** Custom user profile fields defined on the site (for users[i][customfields]). */
  profileFields?: ProfileFieldRec[];
  passwordPolicy?: Partial<PasswordPolicy>;
  /** `$CFG->allowaccountssameemail`. Default false. */
  allowAccountsSameEmail?: boolean;
  /** PHP max_input_vars. Default 5000. */
  maxInputVars?: number;
  /** PHP post_max_size in bytes; a larger body is discarded, as PHP does. Default 8 MiB. */
  postMaxSize?: number;
  /** Injected faults (5xx, 429, timeouts, lost answers, slow answers) at seeded rates; off by default. */
  faults?: FaultSettingsInput | null;
}

export interface MoodleSimulator {
  /** The site's wwwroot, e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  close(): Promise<void>;
  /** Back to the seed state (ids start over) and the settings the simulator was started with. */
  reset(): void;
  /** Switch Moodle's debug level at run time (the recordings have both). */
  setDebug(level: DebugLevel): void;
  /** Turn web services off/on (off: server.php answers 403 with an empty body). */
  setWebservicesEnabled(enabled: boolean): void;
  /** Grant or take away a capability of the token user (e.g. `moodle/course:update`). */
  setCapability(capability: string, allowed: boolean): void;
  /** Add a function to the token's service (it must be one the simulator has). */
  addServiceFunction(name: string): void;
  /** Take a function out of the token's service. */
  removeServiceFunction(name: string): void;
  /** Install or uninstall an auth plugin (`auth/<name>` in the code base). */
  setAuthPluginInstalled(name: string, installed: boolean): void;
  /** Make outgoing mail fail (enrolments are saved, then the call answers "Message was not sent."). */
  setOutgoingMailFails(fails: boolean): void;
  /** A copy of the current state. */
  snapshot(): StateData;
  /** Worker-pool metrics, or null when the latency model is off. */
  metrics(): PoolMetrics | null;
  /** Accounts created per person (idnumber, else username): more than one is a person made twice. */
  creates(): ReadonlyMap<string, number>;
  /** The fault injection: counts of what was injected, and settings to change at run time. */
  faults: FaultInjector;
}

const AUTH_PLUGINS = ['cas', 'db', 'email', 'ldap', 'lti', 'manual', 'mnet', 'nologin', 'none', 'oauth2', 'shibboleth',
  'webservice', 'saml2'];
const INTERNAL_AUTH = ['manual', 'email', 'none', 'nologin', 'webservice'];

function settings(opts: MoodleSimulatorOptions, authPlugins: Set<string>): SiteSettings {
  return {
    wwwroot: '',
    release: '4.5 (Build: 20241007)',
    version: '2024100700',
    authPlugins,
    langs: new Set(['en']),
    themes: new Set(['boost', 'classic']),
    internalAuth: new Set(INTERNAL_AUTH),
    assignableRoles: new Set(opts.assignableRoles ?? [3, 4, 5]),
    rolesSeeingHiddenCourses: new Set([1, 3, 4]),
    courseContactRoles: new Set([3]),
    allowAccountsSameEmail: opts.allowAccountsSameEmail ?? false,
    passwordPolicy: {
      minLength: 8, minDigits: 1, minLower: 1, minUpper: 1, minNonAlphanum: 1, maxConsecutiveIdentical: 0,
      ...opts.passwordPolicy,
    },
    serviceFunctions: [...(opts.serviceFunctions ?? SIMULATED_FUNCTIONS.map((f) => f.name))],
    capabilities: new Set(opts.capabilities ?? SERVICE_ROLE_CAPABILITIES),
    outgoingMailFails: false,
  };
}

function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      if (!over) chunks.push(c);
    });
    req.on('end', () => resolve(over ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startMoodleSimulator(opts: MoodleSimulatorOptions): Promise<MoodleSimulator> {
  const host = opts.host ?? '127.0.0.1';
  const seed = opts.seed ?? 'recorded';
  const seedState = (): StateData => initialState(seed, { token: opts.token, profileFields: opts.profileFields });
  const loaded = opts.stateFile && !opts.fresh ? readStateFile(opts.stateFile) : undefined;
  const store = new Store(loaded ?? seedState());
  // The configured token wins over whatever a state file carried.
  for (const t of store.tokens) if (t.userid === 3) t.token = opts.token;
  const authPlugins = new Set(opts.authPlugins ?? AUTH_PLUGINS);
  const site = settings(opts, authPlugins);
  const engine = new Engine(store, site, opts.debug ?? 'off');
  const model = resolveLatency(opts.latency, opts.workers);
  const pool = model ? new WorkerPool(model.workers) : null;
  const cpu = model ? new SharedCpu(model.cores) : null;
  const locks = new UserLocks();
  // Users whose cache_flags row exists (once enrolled or given a role): only those are locked.
  const flagged = new Set<number>();
  const maxVars = opts.maxInputVars ?? 5000;
  const postMax = opts.postMaxSize ?? 8 * 1024 * 1024;

  // Persistence: write soon after a change and on close. A save blocks the event loop, so the
  // interval grows with the state (at most 5% of the time is spent saving) and never drops below 100 ms.
  let savedVersion = store.version;
  let saveTimer: NodeJS.Timeout | null = null;
  let lastSaveMs = 0;
  const saveNow = (): void => {
    if (saveTimer) { clearTimeout(saveTimer); saveTimer = null; }
    if (!opts.stateFile || store.version === savedVersion) return;
    const t0 = performance.now();
    writeStateFile(opts.stateFile, store.toJSON());
    lastSaveMs = performance.now() - t0;
    savedVersion = store.version;
  };
  const scheduleSave = (): void => {
    if (!opts.stateFile || saveTimer || store.version === savedVersion) return;
    saveTimer = setTimeout(() => {
      saveTimer = null;
      try {
        saveNow();
      } catch (e) {
        log.error({ err: e }, 'moodle simulator: could not save state');
      }
    }, Math.max(100, 20 * lastSaveMs));
  };
  if (opts.stateFile && !loaded) {
    savedVersion = -1;
    saveNow();
  }

  const requestVars = async (req: IncomingMessage): Promise<{ get: PhpArray; post: PhpArray }> => {
    const url = new URL(req.url ?? '/', 'http://x');
    const get = parseQuery(url.search.slice(1), maxVars);
    let post: PhpArray = new Map();
    if (req.method === 'POST') {
      const body = await readBody(req, postMax);
      const ctype = (req.headers['content-type'] ?? '').toLowerCase();
      // PHP fills $_POST only for url-encoded forms (multipart is not simulated); an over-size body is dropped.
      if (body !== null && (ctype === '' || ctype.startsWith('application/x-www-form-urlencoded'))) {
        post = parseQuery(body, maxVars);
      }
    } else {
      req.resume();
    }
    return { get, post };
  };

  const send = (res: ServerResponse, status: number, headers: Record<string, string>, body: string): void => {
    res.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body, 'utf8') });
    res.end(body);
  };

  /** Serve on a worker: wait for one, lock the users the call touches, do the work, answer. */
  const withWorker = async (label: string, costMs: number, lockUsers: readonly number[], fn: () => void): Promise<void> => {
    if (!pool || !cpu) {
      fn();
      return;
    }
    await pool.run(label, async (note) => {
      const { release, waited } = await locks.acquire(lockUsers.filter((u) => flagged.has(u)));
      if (waited) note.lockedAt = performance.now();
      try {
        await cpu.work(costMs);
        fn();
        for (const u of lockUsers) flagged.add(u);
      } finally {
        release();
      }
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method !== 'GET' && req.method !== 'POST') {
      req.resume();
      send(res, 405, { 'Content-Type': 'text/plain', Allow: 'GET, POST' }, 'Method Not Allowed');
      return;
    }
    if (path === '/webservice/rest/server.php') {
      const { get, post } = await requestVars(req);
      const vars = arrayMerge(get, post);
      let cost = 0;
      let label = '(rejected)';
      let lockUsers: number[] = [];
      if (model) {
        const est = engine.estimate(vars);
        const c = est.fn ? model.functions[est.fn] ?? model.defaultCost : model.rejectCost;
        label = est.fn ?? label;
        cost = serviceTimeMs(model, c, est);
        lockUsers = est.lockedUsers ?? [];
      }
      await withWorker(label, cost, lockUsers, () => {
        const started = performance.now();
        const r = engine.serve(vars);
        send(res, r.status, r.headers, r.body);
        if (store.version !== savedVersion) scheduleSave();
        log.debug({ wsfunction: r.fn, error: r.error, ms: Math.round(performance.now() - started) }, 'moodle simulator call');
      });
      return;
    }
    if (path === '/login/token.php') {
      const { get, post } = await requestVars(req);
      const cost = model ? serviceTimeMs(model, model.tokenCost, { items: 1, passwords: 1 }) : 0;
      await withWorker('login/token.php', cost, [], () => {
        const r = engine.token(get, post);
        send(res, r.status, r.headers, r.body);
      });
      return;
    }
    req.resume();
    send(res, 404, { 'Content-Type': 'text/html; charset=UTF-8' },
      `<!doctype html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1><p>The requested resource <code class="url">${path.replace(/[<>&"]/g, '')}</code> was not found on this server.</p></body></html>`);
  };

  const faults = faultInjector(opts.faults);
  // A fault is what the web server in front of Moodle answers: an HTML page, not a Moodle error.
  const server: Server = createServer(faults.wrap((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, 'moodle simulator: request failed');
      if (!res.headersSent) send(res, 500, { 'Content-Type': 'text/plain' }, 'Internal Server Error');
      else res.destroy();
    });
  }, (res, status, headers) => send(res, status, { 'Content-Type': 'text/html', ...headers }, `<html><body><h1>${status}</h1></body></html>`)));
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = opts.wwwroot ?? `http://${urlHost}:${port}`;
  site.wwwroot = url.replace(/\/+$/, '');

  let closed = false;
  return {
    url: site.wwwroot,
    port,
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      saveNow();
    },
    reset() {
      store.load(seedState());
      flagged.clear();
      // Settings changed at run time go back to the options' too.
      const initial = settings(opts, authPlugins);
      authPlugins.clear();
      for (const a of opts.authPlugins ?? AUTH_PLUGINS) authPlugins.add(a);
      site.serviceFunctions = initial.serviceFunctions;
      site.capabilities = initial.capabilities;
      site.outgoingMailFails = false;
      savedVersion = -1;
      scheduleSave();
    },
    setDebug(level) {
      engine.debug = level;
    },
    setWebservicesEnabled(enabled) {
      engine.webservicesEnabled = enabled;
    },
    setCapability(capability, allowed) {
      if (allowed) site.capabilities.add(capability);
      else site.capabilities.delete(capability);
    },
    addServiceFunction(name) {
      if (!FUNCTIONS_BY_NAME.has(name)) throw new Error(`the Moodle simulator has no function ${name}`);
      if (!site.serviceFunctions.includes(name)) site.serviceFunctions.push(name);
    },
    removeServiceFunction(name) {
      site.serviceFunctions = site.serviceFunctions.filter((f) => f !== name);
    },
    setAuthPluginInstalled(name, installed) {
      if (installed) authPlugins.add(name);
      else authPlugins.delete(name);
    },
    setOutgoingMailFails(fails) {
      site.outgoingMailFails = fails;
    },
    snapshot() {
      return structuredClone(store.toJSON());
    },
    metrics() {
      return pool ? structuredClone(pool.metrics) : null;
    },
    creates: () => store.createsByKey,
    faults,
  };
}

/**
 * `tilgang sim moodle`: runs the simulator until SIGINT/SIGTERM, then saves the state and stops.
 * Resolves once the server is listening.
 */
export async function runMoodleSimulatorCli(args: { port: number; stateFile?: string; latency: boolean; token?: string; host?: string }): Promise<MoodleSimulator> {
  const sim = await startMoodleSimulator({
    port: args.port, host: args.host ?? '127.0.0.1', token: args.token || RECORDED_TOKEN, stateFile: args.stateFile,
    latency: args.latency,
  });
  log.info({ url: sim.url, stateFile: args.stateFile ?? null, latency: args.latency, functions: FUNCTIONS_BY_NAME.size },
    'Moodle web-service simulator listening: POST {url}/webservice/rest/server.php');
  const stop = (signal: NodeJS.Signals): void => {
    log.info({ signal }, 'Moodle simulator stopping');
    sim.close().then(() => process.exit(0), (err: unknown) => {
      log.error({ err }, 'Moodle simulator: error while stopping');
      process.exit(1);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return sim;
}
