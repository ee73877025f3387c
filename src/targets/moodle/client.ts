/**
 * A thin Moodle web-service (REST) client over undici.
 *
 * - POST `{url}/webservice/rest/server.php`, form-encoded, `moodlewsrestformat=json`; the token
 *   travels in the body, never in a URL.
 * - Nested params are flattened PHP-style: `{ users: [{ username: 'x' }] }` → `users[0][username]=x`,
 *   booleans as 1/0, null/undefined left out. An empty list cannot be expressed in a PHP form: it is
 *   absent, and Moodle answers `invalidparameter` (missing key) — do not call with empty batches.
 * - Moodle answers errors with HTTP 200 and `{exception, errorcode, message[, debuginfo]}`: that is a
 *   {@link MoodleError}. Network failures, timeouts, HTTP 408/425/429/5xx, unparseable bodies
 *   (a proxy's or PHP's HTML error page) and maintenance mode are a {@link MoodleTransientError}
 *   (a TransientError: the runtime retries it).
 * - One keep-alive undici Agent per client, `connections` sockets at most.
 * - The token never appears in an error message or a log line.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { TransientError } from '../../spi/index.js';
import { log } from '../../lib/log.js';

export type MoodleParamValue =
  | string | number | boolean | null | undefined
  | readonly MoodleParamValue[]
  | { readonly [key: string]: MoodleParamValue };
export type MoodleParams = { readonly [key: string]: MoodleParamValue };

/** A Moodle exception reported in a 200 response (or a non-retryable HTTP status). */
export class MoodleError extends Error {
  override name = 'MoodleError';
  constructor(
    readonly wsfunction: string,
    /** PHP class, e.g. `core\exception\invalid_parameter_exception`. */
    readonly exception: string,
    /** Moodle's error code; for PHP engine errors without one (TypeError) the exception class. */
    readonly errorcode: string,
    message: string,
    /** Only sent when the site has debugging on. */
    readonly debuginfo?: string,
  ) {
    super(message);
  }
}

/** Worth another try: the request may not have reached Moodle, or Moodle could not serve it now. */
export class MoodleTransientError extends TransientError {
  override name = 'MoodleTransientError';
  constructor(message: string, readonly wsfunction: string, code = 'moodle-transient', readonly status?: number,
    retryAfterMs?: number) {
    super(message, code, retryAfterMs);
  }
}

export interface MoodleClientOptions {
  /** The site's wwwroot, e.g. https://lms.example.org (no trailing /webservice). */
  url: string;
  token: string;
  /** Sockets kept open to Moodle (≈ PHP workers you may occupy). Default 4. */
  connections?: number;
  /** Per request: headers and body timeouts. Default 120 s (import_course runs synchronously). */
  timeoutMs?: number;
  /** Idle keep-alive. Default 30 s. */
  keepAliveTimeoutMs?: number;
  /** Bring your own dispatcher (tests); the client then does not own or close it. */
  dispatcher?: Dispatcher;
}

/** PHP bracket encoding of nested params, in insertion order. */
export function flattenParams(params: MoodleParams): [string, string][] {
  const out: [string, string][] = [];
  const walk = (prefix: string, v: MoodleParamValue): void => {
    if (v === null || v === undefined) return;
    if (typeof v === 'boolean') {
      out.push([prefix, v ? '1' : '0']);
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new TypeError(`${prefix}: ${v} cannot be sent to Moodle`);
      out.push([prefix, String(v)]);
    } else if (typeof v === 'string') {
      out.push([prefix, v]);
    } else if (Array.isArray(v)) {
      (v as readonly MoodleParamValue[]).forEach((x, i) => walk(`${prefix}[${i}]`, x));
    } else {
      for (const [k, x] of Object.entries(v as { [key: string]: MoodleParamValue })) walk(`${prefix}[${k}]`, x);
    }
  };
  for (const [k, v] of Object.entries(params)) walk(k, v);
  return out;
}

/** Moodle error codes that mean "not now" rather than "not this". */
const TRANSIENT_ERRORCODES = new Set(['sitemaintenance', 'dbconnectionfailed']);
const TRANSIENT_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export class MoodleClient {
  private readonly endpoint: string;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly token: string;
  private readonly timeoutMs: number;

  constructor(opts: MoodleClientOptions) {
    if (!opts.token) throw new Error('Moodle client: a token is required');
    this.endpoint = `${opts.url.replace(/\/+$/, '')}/webservice/rest/server.php`;
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.ownsDispatcher = !opts.dispatcher;
    this.dispatcher = opts.dispatcher ?? new Agent({
      connections: opts.connections ?? 4,
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? 30_000,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
  }

  /** Removes the token from any text that may end up in an error or a log. */
  private redact(s: string): string {
    return s.split(this.token).join('[redacted]');
  }

  /** Calls one web-service function and returns its decoded JSON result (`null` for void functions). */
  async call<T = unknown>(wsfunction: string, params: MoodleParams = {}, options: { signal?: AbortSignal } = {}): Promise<T> {
    const form = new URLSearchParams();
    form.append('wstoken', this.token);
    form.append('wsfunction', wsfunction);
    form.append('moodlewsrestformat', 'json');
    for (const [k, v] of flattenParams(params)) form.append(k, v);
    const started = performance.now();

    let status: number;
    let text: string;
    let headers: Record<string, string | string[] | undefined>;
    try {
      const res = await request(this.endpoint, {
        method: 'POST',
        dispatcher: this.dispatcher,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      status = res.statusCode;
      headers = res.headers;
      text = await res.body.text();
    } catch (e) {
      const err = e as { code?: string; name?: string; message?: string };
      if (err.name === 'AbortError') throw e;
      const code = err.code ?? err.name ?? 'network';
      log.warn({ wsfunction, code, ms: Math.round(performance.now() - started) }, 'moodle: request failed');
      throw new MoodleTransientError(
        this.redact(`Moodle ${wsfunction}: ${code} (${err.message ?? 'network error'})`), wsfunction, code);
    }
    const ms = Math.round(performance.now() - started);

    if (TRANSIENT_STATUS.has(status)) {
      log.warn({ wsfunction, status, ms }, 'moodle: transient HTTP status');
      throw new MoodleTransientError(`Moodle ${wsfunction}: HTTP ${status}`, wsfunction, `http_${status}`, status,
        retryAfterMs(headers['retry-after']));
    }
    if (status < 200 || status >= 300) {
      // 403 with an empty body: web services or the REST protocol are disabled on the site.
      throw new MoodleError(wsfunction, 'HttpError', `http_${status}`,
        `Moodle ${wsfunction}: HTTP ${status}${status === 403 ? ' (web services or REST disabled?)' : ''}`);
    }

    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      log.warn({ wsfunction, status, ms, bytes: text.length }, 'moodle: response is not JSON');
      throw new MoodleTransientError(`Moodle ${wsfunction}: response is not JSON (${text.length} bytes)`, wsfunction,
        'invalid_response', status);
    }
    if (body !== null && typeof body === 'object' && !Array.isArray(body) && typeof (body as { exception?: unknown }).exception === 'string') {
      const b = body as { exception: string; errorcode?: string; message?: string; debuginfo?: string };
      const errorcode = b.errorcode ?? b.exception;
      const message = this.redact(b.message ?? errorcode);
      const debuginfo = b.debuginfo === undefined ? undefined : this.redact(b.debuginfo);
      log.debug({ wsfunction, errorcode, ms }, 'moodle: error response');
      if (TRANSIENT_ERRORCODES.has(errorcode)) {
        throw new MoodleTransientError(`Moodle ${wsfunction}: ${errorcode}: ${message}`, wsfunction, errorcode, status);
      }
      throw new MoodleError(wsfunction, b.exception, errorcode, message, debuginfo);
    }
    log.debug({ wsfunction, ms }, 'moodle: ok');
    return body as T;
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }
}

// ---- response shapes of the functions the target uses (Moodle 4.5) ------------------------------

export interface MoodleWarning {
  item?: string;
  itemid?: number;
  warningcode: string;
  message: string;
}

/** core_user_get_users_by_field / core_user_get_users items (optional keys depend on permissions). */
export interface MoodleUser {
  id: number;
  username?: string;
  firstname?: string;
  lastname?: string;
  fullname: string;
  email?: string;
  idnumber?: string;
  department?: string;
  institution?: string;
  auth?: string;
  suspended?: boolean;
  confirmed?: boolean;
  lang?: string;
  firstaccess?: number;
  lastaccess?: number;
  customfields?: { type: string; value: string; displayvalue?: string; name: string; shortname: string }[];
}

export interface MoodleCreatedUser { id: number; username: string }
export interface MoodleUpdateResult { warnings: MoodleWarning[] }
export interface MoodleGetUsersResult { users: MoodleUser[]; warnings: MoodleWarning[] }

export interface MoodleUserCourse {
  id: number;
  shortname: string;
  fullname: string;
  idnumber: string;
  visible: number;
  category?: number;
  enrolledusercount?: number;
}

export interface MoodleCourse {
  id: number;
  fullname: string;
  shortname: string;
  categoryid: number;
  idnumber?: string;
  visible?: number;
  enrollmentmethods: string[];
}
export interface MoodleCoursesResult { courses: MoodleCourse[]; warnings: MoodleWarning[] }

export interface MoodleCategory {
  id: number;
  name: string;
  idnumber?: string | null;
  parent: number;
  path: string;
  depth: number;
  coursecount: number;
  visible?: number;
}

export interface MoodleSiteInfo {
  sitename: string;
  username: string;
  userid: number;
  siteurl: string;
  release?: string;
  version?: string;
  functions: { name: string; version: string }[];
}
