/**
 * The HTTP client every REST target shares, on undici: one keep-alive pool per client, timeouts
 * on headers and body, and the failure mapping the runtime acts on.
 *
 * - Network failures (reset, refused, DNS), timeouts and HTTP 408/425/429/500/502/503/504 are an
 *   {@link HttpTransientError} (a TransientError: the runtime retries it; a Retry-After header
 *   becomes `retryAfterMs`, the floor of the next wait).
 * - Any other status outside 2xx is an {@link HttpStatusError} (a TerminalError): retrying earns
 *   the same answer. The body stays on the error for the target to read, never in its message.
 * - Every request is logged with method, path, status and time; the query string's values are
 *   scrubbed of tokens and passwords, and the client's secrets never appear in a log line or error.
 */
import type { Logger } from 'pino';
import { Agent, request, type Dispatcher } from 'undici';
import { TerminalError, TransientError } from '../spi/errors.js';
import { child } from './log.js';
import { metrics } from './metrics.js';
import { scrubMessage } from './redact.js';

export const TRANSIENT_STATUS: ReadonlySet<number> = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Worth another try: the request may not have reached the system, or it could not serve it now. */
export class HttpTransientError extends TransientError {
  override name = 'HttpTransientError';
  constructor(message: string, code: string, readonly status?: number, retryAfterMs?: number) {
    super(message, code, retryAfterMs);
  }
}

/** The system answered, and the answer is no: a status outside 2xx that is not transient. */
export class HttpStatusError extends TerminalError {
  override name = 'HttpStatusError';
  constructor(message: string, readonly status: number, readonly responseText: string, readonly responseHeaders: Record<string, string | string[] | undefined>) {
    super(message, `http_${status}`);
  }
}

export interface HttpClientOptions {
  /** Scheme, host and any base path, e.g. https://lms.example.org; request paths are appended. */
  baseUrl: string;
  /** Names the system in errors and log lines. */
  name: string;
  /** Sockets kept open (≈ the workers tilgang may occupy). Default 4. */
  connections?: number;
  /** Per request: headers and body timeouts. Default 30 s. */
  timeoutMs?: number;
  /** Idle keep-alive. Default 30 s. */
  keepAliveTimeoutMs?: number;
  /** Values (tokens, passwords) never to show in an error or a log line. */
  secrets?: readonly string[];
  /** Bring your own dispatcher (tests); the client then does not own or close it. */
  dispatcher?: Dispatcher;
  log?: Logger;
}

export interface HttpRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Appended to the base URL. */
  path: string;
  query?: Record<string, string | number | boolean>;
  headers?: Record<string, string>;
  /** A JSON body (content-type set), a form (URL-encoded), or raw text. */
  json?: unknown;
  form?: URLSearchParams;
  body?: string;
  /** What the request does, for errors and logs (e.g. a web-service function's name). */
  label?: string;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  ms: number;
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v || !v.trim()) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const SENSITIVE_PARAM = /token|password|passwd|pwd|secret|key|auth|signature|session/i;

/** The path as a log line may show it: values of sensitive query parameters replaced. */
export function redactPath(pathAndQuery: string, secrets: readonly string[] = []): string {
  const [path, query] = pathAndQuery.split('?', 2) as [string, string | undefined];
  if (query === undefined) return scrubMessage(path, secrets);
  const q = new URLSearchParams(query);
  for (const k of [...new Set(q.keys())]) if (SENSITIVE_PARAM.test(k)) q.set(k, '[redacted]');
  return scrubMessage(`${path}?${q.toString().replace(/%5Bredacted%5D/g, '[redacted]')}`, secrets);
}

export class HttpClient {
  private readonly base: string;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly timeoutMs: number;
  private readonly log: Logger;

  constructor(private readonly opts: HttpClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.ownsDispatcher = !opts.dispatcher;
    this.dispatcher = opts.dispatcher ?? new Agent({
      connections: opts.connections ?? 4,
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? 30_000,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
    this.log = opts.log ?? child({ component: 'http', system: opts.name });
  }

  /** Removes the client's secrets (and tokens, national ids) from text bound for an error or a log. */
  scrub(s: string): string {
    return scrubMessage(s, this.opts.secrets ?? []);
  }

  /** Sends one request; resolves with a 2xx response, throws HttpTransientError or HttpStatusError otherwise. */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const method = req.method ?? (req.json !== undefined || req.form || req.body !== undefined ? 'POST' : 'GET');
    const qs = req.query ? new URLSearchParams(Object.entries(req.query).map(([k, v]) => [k, String(v)])).toString() : '';
    const pathAndQuery = `${req.path.startsWith('/') ? req.path : `/${req.path}`}${qs ? `?${qs}` : ''}`;
    const shown = redactPath(pathAndQuery, this.opts.secrets);
    const what = `${this.opts.name}${req.label ? ` ${req.label}` : ''}`;
    const fields = { method, path: shown, ...(req.label ? { label: req.label } : {}) };
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    let body: string | undefined = req.body;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] ??= 'application/json';
    } else if (req.form) {
      body = req.form.toString();
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
    }
    const started = performance.now();
    const observe = (outcome: 'ok' | 'transient' | 'refused') => metrics.requestSeconds.observe({ system: this.opts.name, call: req.label ?? method, outcome }, (performance.now() - started) / 1000);
    let res: Dispatcher.ResponseData;
    let text: string;
    try {
      res = await request(`${this.base}${pathAndQuery}`, {
        method, headers, body, dispatcher: this.dispatcher, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs,
        ...(req.signal ? { signal: req.signal } : {}),
      });
      text = await res.body.text();
    } catch (e) {
      const err = e as { code?: string; name?: string; message?: string };
      if (err.name === 'AbortError') throw e;
      observe('transient');
      const code = err.code ?? err.name ?? 'network';
      this.log.warn({ ...fields, code, ms: Math.round(performance.now() - started) }, `${this.opts.name}: request failed`);
      throw new HttpTransientError(this.scrub(`${what}: ${code} (${err.message ?? 'network error'})`), code);
    }
    const ms = Math.round(performance.now() - started);
    const status = res.statusCode;
    if (TRANSIENT_STATUS.has(status)) {
      observe('transient');
      this.log.warn({ ...fields, status, ms }, `${this.opts.name}: transient HTTP status`);
      throw new HttpTransientError(`${what}: HTTP ${status}`, `http_${status}`, status, parseRetryAfter(res.headers['retry-after']));
    }
    if (status < 200 || status >= 300) {
      observe('refused');
      this.log.warn({ ...fields, status, ms }, `${this.opts.name}: HTTP error`);
      throw new HttpStatusError(`${what}: HTTP ${status}`, status, text, res.headers);
    }
    observe('ok');
    this.log.debug({ ...fields, status, ms, bytes: text.length }, `${this.opts.name}: ok`);
    return { status, headers: res.headers, text, ms };
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }
}
