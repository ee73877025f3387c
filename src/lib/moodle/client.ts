/**
 * A thin Moodle web-service (REST) client over the shared HTTP client (src/lib/http.ts).
 *
 * - POST `{url}/webservice/rest/server.php`, form-encoded, `moodlewsrestformat=json`; the token
 *   travels in the body, never in a URL.
 * - Nested params are flattened PHP-style: `{ users: [{ username: 'x' }] }` → `users[0][username]=x`,
 *   booleans as 1/0, null/undefined left out. An empty list cannot be expressed in a PHP form: it is
 *   absent, and Moodle answers `invalidparameter` (missing key) — do not call with empty batches.
 * - Moodle answers errors with HTTP 200 and `{exception, errorcode, message[, debuginfo]}`: that is a
 *   {@link MoodleError}. What the HTTP client calls transient (network failures, timeouts, HTTP
 *   408/425/429/5xx), unparseable bodies (a proxy's or PHP's HTML error page) and maintenance mode
 *   are a {@link MoodleTransientError} (a TransientError: the runtime retries it).
 * - The token never appears in an error message or a log line.
 */
import type { Dispatcher } from 'undici';
import { HttpClient, HttpStatusError, HttpTransientError, type HttpResponse } from '../http.js';
import { log } from '../log.js';
import { TransientError } from '../../spi/errors.js';

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

export class MoodleClient {
  private readonly http: HttpClient;
  private readonly token: string;

  constructor(opts: MoodleClientOptions) {
    if (!opts.token) throw new Error('Moodle client: a token is required');
    this.token = opts.token;
    this.http = new HttpClient({
      baseUrl: opts.url, name: 'Moodle', secrets: [opts.token], connections: opts.connections ?? 4, timeoutMs: opts.timeoutMs ?? 120_000,
      keepAliveTimeoutMs: opts.keepAliveTimeoutMs, dispatcher: opts.dispatcher, log: log.child({ component: 'moodle' }),
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

    let res: HttpResponse;
    try {
      res = await this.http.request({ method: 'POST', path: '/webservice/rest/server.php', form, label: wsfunction, signal: options.signal });
    } catch (e) {
      if (e instanceof HttpTransientError) throw new MoodleTransientError(this.redact(e.message), wsfunction, e.code, e.status, e.retryAfterMs);
      // 403 with an empty body: web services or the REST protocol are disabled on the site.
      if (e instanceof HttpStatusError) {
        throw new MoodleError(wsfunction, 'HttpError', e.code, `${e.message}${e.status === 403 ? ' (web services or REST disabled?)' : ''}`);
      }
      throw e;
    }

    let body: unknown;
    try {
      body = JSON.parse(res.text);
    } catch {
      log.warn({ wsfunction, status: res.status, ms: res.ms, bytes: res.text.length }, 'moodle: response is not JSON');
      throw new MoodleTransientError(`Moodle ${wsfunction}: response is not JSON (${res.text.length} bytes)`, wsfunction,
        'invalid_response', res.status);
    }
    if (body !== null && typeof body === 'object' && !Array.isArray(body) && typeof (body as { exception?: unknown }).exception === 'string') {
      const b = body as { exception: string; errorcode?: string; message?: string; debuginfo?: string };
      const errorcode = b.errorcode ?? b.exception;
      const message = this.redact(b.message ?? errorcode);
      const debuginfo = b.debuginfo === undefined ? undefined : this.redact(b.debuginfo);
      log.debug({ wsfunction, errorcode, ms: res.ms }, 'moodle: error response');
      if (TRANSIENT_ERRORCODES.has(errorcode)) {
        throw new MoodleTransientError(`Moodle ${wsfunction}: ${errorcode}: ${message}`, wsfunction, errorcode, res.status);
      }
      throw new MoodleError(wsfunction, b.exception, errorcode, message, debuginfo);
    }
    return body as T;
  }

  async close(): Promise<void> {
    await this.http.close();
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
