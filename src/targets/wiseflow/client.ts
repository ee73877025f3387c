/**
 * WISEflow's wire: authentication (an OAuth2 client-credentials token, renewed before it expires
 * and once more when a 401 says it is gone; or a static API key), X-Client-Name on every request,
 * the client-side rate limiter, 429s waited out as Retry-After asks, and the two response shapes
 * (the `{success,data,error}` envelope and bare objects). Errors are the toolkit's: transient ones
 * are retried by the runtime, the rest are terminal with WISEflow's message (scrubbed).
 */
import type { Logger } from 'pino';
import { sleep } from '../../lib/backoff.js';
import { HttpClient, HttpStatusError, HttpTransientError, type HttpRequest } from '../../lib/http.js';
import { TerminalError } from '../../spi/index.js';
import { RateLimiter, type Limits } from './limiter.js';

export type Credentials = { clientId: string; clientSecret: string } | { apiKey: string };

export interface WiseflowClientOptions {
  url: string;
  credentials: Credentials;
  clientName: string;
  limits: Limits;
  maxThrottleWaits?: number;
  connections?: number;
  timeoutMs?: number;
  log?: Logger;
}

/** The envelope of the newer endpoints; `success:false` with data is a partial success. */
export interface Envelope<T> { success: boolean; data: T; error: { code: number; message: string; errors?: { reason: string; message: string }[] } | null }

/** WISEflow refused the request; `reasons` are its per-item refusals. */
export class WiseflowError extends TerminalError {
  override name = 'WiseflowError';
  constructor(message: string, readonly status: number, readonly reasons: string[] = []) {
    super(message, `wiseflow_${status}`);
  }
}

/** The server's own words from an error body, whichever shape it has. */
function reasonOf(text: string): { message: string; reasons: string[] } {
  try {
    const b = JSON.parse(text) as { error?: Envelope<unknown>['error'] | string; message?: string; error_description?: string };
    if (b.error && typeof b.error === 'object') return { message: b.error.message, reasons: (b.error.errors ?? []).map((e) => `${e.reason}: ${e.message}`) };
    return { message: b.error_description ?? b.message ?? (typeof b.error === 'string' ? b.error : text.slice(0, 200)), reasons: [] };
  } catch {
    return { message: text.slice(0, 200), reasons: [] };
  }
}

export class WiseflowClient {
  readonly http: HttpClient;
  readonly limiter: RateLimiter;
  private token: { value: string; renewAt: number } | undefined;
  private pending: Promise<string> | undefined;
  /** Tokens fetched, 429s waited out: for the start check's log line and the tests. */
  tokensFetched = 0;
  throttled = 0;
  /** Requests in flight, at most one per socket: a request counted by the limiter leaves at once, not from undici's queue, bunched with others. */
  private inFlight = 0;
  private readonly sockets: (() => void)[] = [];

  constructor(private readonly o: WiseflowClientOptions) {
    const secrets = 'apiKey' in o.credentials ? [o.credentials.apiKey] : [o.credentials.clientSecret];
    this.http = new HttpClient({
      baseUrl: o.url, name: 'wiseflow', secrets, connections: o.connections ?? 8, timeoutMs: o.timeoutMs ?? 30_000, ...(o.log ? { log: o.log } : {}),
    });
    this.limiter = new RateLimiter(o.limits);
  }

  private async fetchToken(): Promise<string> {
    const c = this.o.credentials as { clientId: string; clientSecret: string };
    const answered = await this.limiter.acquire();
    try {
      const r = await this.http.request({
        method: 'POST', path: '/oauth2/token', label: 'oauth2/token', headers: { 'x-client-name': this.o.clientName },
        form: new URLSearchParams({ grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret }),
      });
      const b = JSON.parse(r.text) as { access_token: string; expires_in: number };
      // Renewed a minute before it expires (a tenth of its life when that is shorter), so no request carries a dying token.
      const margin = Math.min(60, b.expires_in / 10) * 1000;
      this.token = { value: b.access_token, renewAt: Date.now() + b.expires_in * 1000 - margin };
      this.tokensFetched++;
      return b.access_token;
    } catch (e) {
      if (e instanceof HttpStatusError) throw new TerminalError(`wiseflow: the OAuth2 client ${c.clientId} was refused: ${this.http.scrub(reasonOf(e.responseText).message)}`, 'auth', 'clientSecret');
      throw e;
    } finally {
      answered();
    }
  }

  private async authHeader(renew: boolean): Promise<Record<string, string>> {
    if ('apiKey' in this.o.credentials) return { 'x-api-key': this.o.credentials.apiKey };
    if (renew || !this.token || this.token.renewAt <= Date.now()) {
      // One renewal at a time: every caller waiting for a token shares it.
      this.pending ??= this.fetchToken().finally(() => { this.pending = undefined; });
      return { authorization: `Bearer ${await this.pending}` };
    }
    return { authorization: `Bearer ${this.token.value}` };
  }

  private async socket(): Promise<void> {
    if (this.inFlight < (this.o.connections ?? 8)) { this.inFlight++; return; }
    await new Promise<void>((r) => this.sockets.push(r));
  }

  private release(): void {
    const next = this.sockets.shift();
    if (next) next();
    else this.inFlight--;
  }

  /** One request, under the limiter, with 401 → renew once and 429 → wait and resend. */
  async send(req: HttpRequest): Promise<{ status: number; body: unknown }> {
    await this.socket();
    try {
      return await this.sendOnSocket(req);
    } finally {
      this.release();
    }
  }

  private async sendOnSocket(req: HttpRequest): Promise<{ status: number; body: unknown }> {
    let renewed = false;
    let waits = 0;
    for (;;) {
      // The token first: a renewal is a request of its own under the limiter.
      const headers = { ...req.headers, ...(await this.authHeader(false)), 'x-client-name': this.o.clientName };
      const answered = await this.limiter.acquire();
      try {
        const r = await this.http.request({ ...req, headers });
        answered();
        return { status: r.status, body: r.text ? JSON.parse(r.text) : null };
      } catch (e) {
        answered();
        if (e instanceof HttpStatusError && e.status === 401 && !renewed && !('apiKey' in this.o.credentials)) {
          renewed = true;
          this.token = undefined;
          continue;
        }
        if (e instanceof HttpTransientError && e.status === 429 && waits < (this.o.maxThrottleWaits ?? 10)) {
          waits++;
          this.throttled++;
          const ms = e.retryAfterMs ?? 1000;
          this.limiter.pause(ms);
          await sleep(ms);
          continue;
        }
        if (e instanceof HttpStatusError) {
          const { message, reasons } = reasonOf(e.responseText);
          throw new WiseflowError(this.http.scrub(`wiseflow ${req.label ?? req.path}: HTTP ${e.status}: ${message}${reasons.length ? ` (${reasons.join('; ')})` : ''}`), e.status, reasons.map((r) => this.http.scrub(r)));
        }
        throw e;
      }
    }
  }

  /** An enveloped endpoint's data; a partial success throws, naming what was refused. */
  async data<T>(req: HttpRequest): Promise<T> {
    const { body } = await this.send(req);
    const env = body as Envelope<T>;
    if (env && typeof env === 'object' && 'success' in env && !env.success) {
      const reasons = (env.error?.errors ?? []).map((x) => `${x.reason}: ${x.message}`);
      throw new WiseflowError(this.http.scrub(`wiseflow ${req.label ?? req.path}: ${env.error?.message ?? 'refused'}${reasons.length ? ` (${reasons.join('; ')})` : ''}`), env.error?.code ?? 400, reasons);
    }
    return env.data;
  }

  /** A bare-object endpoint's body. */
  async bare<T>(req: HttpRequest): Promise<T> {
    return (await this.send(req)).body as T;
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}
