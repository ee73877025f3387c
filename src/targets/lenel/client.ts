/**
 * OpenAccess over the shared HTTP client: the Application-Id on every call, a session token from
 * `POST /authentication` (credentials in the body, never the query), renewed before it expires and
 * once more when a call meets 401 invalidsessiontoken; a keepalive while in use. The password and
 * every token are secrets of the HTTP client, so no log line or error shows them.
 */
import type { Logger } from 'pino';
import { HttpClient, HttpStatusError } from '../../lib/http.js';
import { TerminalError } from '../../spi/index.js';

export type PropertyMap = Record<string, string | number | boolean | null>;

export interface PagedInstances {
  total_items: number;
  total_pages: number;
  page_number: number;
  item_list: { property_value_map: PropertyMap }[];
}

/** An OpenAccess refusal: the body's code and message (scrubbed), with the HTTP status. */
export class OpenAccessError extends TerminalError {
  override name = 'OpenAccessError';
  constructor(message: string, readonly oaCode: string, readonly status: number) {
    super(message, oaCode);
  }
}

export interface LenelClientOptions {
  url: string;
  applicationId: string;
  username: string;
  password: string;
  directoryId?: string | undefined;
  connections?: number;
  timeoutMs?: number;
  keepaliveSeconds?: number;
  renewBeforeSeconds?: number;
  log?: Logger;
}

const SESSION_EXPIRED = 'openaccess.general.invalidsessiontoken';

/** Property names are case-insensitive in OpenAccess; responses differ in casing by class. */
export function prop(map: PropertyMap, name: string): string | number | boolean | null {
  const n = name.toLowerCase();
  for (const [k, v] of Object.entries(map)) if (k.toLowerCase() === n) return v ?? null;
  return null;
}

export class LenelClient {
  private readonly http: HttpClient;
  /** Live: tokens join as they are issued, so none reaches a log line or an error. */
  private readonly secrets: string[];
  private token: string | undefined;
  private expiresAt = 0;
  private login_: Promise<string> | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private lastUse = 0;
  /** Sessions opened so far (a test proves expiry leads to one more, not one per call). */
  logins = 0;

  constructor(private readonly opts: LenelClientOptions) {
    this.secrets = [opts.password];
    this.http = new HttpClient({
      baseUrl: opts.url, name: 'lenel', connections: opts.connections ?? 2, timeoutMs: opts.timeoutMs ?? 30_000, secrets: this.secrets,
      ...(opts.log ? { log: opts.log } : {}),
    });
  }

  private headers(token?: string): Record<string, string> {
    return { 'application-id': this.opts.applicationId, ...(token ? { 'session-token': token } : {}) };
  }

  /** An OpenAccess error body read into an OpenAccessError; anything else passes as it is. */
  private translate(e: unknown, what: string): unknown {
    if (!(e instanceof HttpStatusError)) return e;
    let code = `http_${e.status}`;
    let message = '';
    try {
      const body = JSON.parse(e.responseText) as { error?: { code?: string; message?: string } };
      code = body.error?.code ?? code;
      message = body.error?.message ?? '';
    } catch {
      // Not JSON: the status says it.
    }
    return new OpenAccessError(this.http.scrub(`OpenAccess ${what}: HTTP ${e.status} ${code}${message ? ` (${message})` : ''}`), code, e.status);
  }

  private async session(): Promise<string> {
    const renewBefore = (this.opts.renewBeforeSeconds ?? 300) * 1000;
    if (this.token && Date.now() < this.expiresAt - renewBefore) return this.token;
    this.login_ ??= this.login().finally(() => { this.login_ = undefined; });
    return this.login_;
  }

  private async login(): Promise<string> {
    const json = { user_name: this.opts.username, password: this.opts.password, ...(this.opts.directoryId ? { directory_id: this.opts.directoryId } : {}) };
    let res;
    try {
      res = await this.http.request({ method: 'POST', path: '/authentication', query: { version: '1.0' }, json, headers: this.headers(), label: 'login' });
    } catch (e) {
      throw this.translate(e, 'login');
    }
    const body = JSON.parse(res.text) as { session_token?: string; token_expiration_time?: string };
    if (!body.session_token) throw new TerminalError('OpenAccess login: no session token in the answer', 'no-session');
    this.secrets.push(body.session_token);
    this.token = body.session_token;
    const exp = Date.parse(body.token_expiration_time ?? '');
    // Without an expiry, assume the shortest idle timeout seen in practice.
    this.expiresAt = Number.isNaN(exp) ? Date.now() + 10 * 60_000 : exp;
    this.logins++;
    this.startKeepalive();
    return body.session_token;
  }

  /** While calls are being made, a keepalive renews the idle countdown; an idle client lets the session lapse. */
  private startKeepalive(): void {
    if (this.keepalive) return;
    const every = (this.opts.keepaliveSeconds ?? 240) * 1000;
    this.keepalive = setInterval(() => {
      if (!this.token || Date.now() - this.lastUse > every) return;
      void this.call('GET', '/keepalive', {}, 'keepalive').catch(() => {
        // A failed keepalive only means the next call logs in again.
      });
    }, every);
    this.keepalive.unref();
  }

  /** One OpenAccess call in the session; a 401 for the session logs in once more and repeats the call. */
  async call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, params: { query?: Record<string, string | number>; json?: unknown }, label: string): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.session();
      this.lastUse = Date.now();
      try {
        const res = await this.http.request({
          method, path, query: { version: '1.0', ...params.query }, headers: this.headers(token), label,
          ...(params.json !== undefined ? { json: params.json } : {}),
        });
        // The session lives as long again from now (the idle countdown restarts with each call).
        return JSON.parse(res.text) as T;
      } catch (e) {
        const t = this.translate(e, label);
        if (t instanceof OpenAccessError && t.status === 401 && t.oaCode === SESSION_EXPIRED && attempt === 0) {
          if (this.token === token) this.token = undefined;
          continue;
        }
        throw t;
      }
    }
  }

  /** Every instance matching the filter, page by page (100 a page, the most OpenAccess gives). */
  async list(type: string, filter?: string, opts: { sensitive?: boolean } = {}): Promise<PropertyMap[]> {
    const out: PropertyMap[] = [];
    for (let page = 1; ; page++) {
      // A filter on a sensitive value goes in the body, as OpenAccess advises, so no URL or log line shows it.
      const inBody = !!filter && !!opts.sensitive;
      const r = await this.call<PagedInstances>('GET', '/instances', {
        query: { type_name: type, page_number: page, page_size: 100, ...(filter && !inBody ? { filter } : {}) },
        ...(inBody ? { json: { filter } } : {}),
      }, `list ${type}`);
      out.push(...r.item_list.map((i) => i.property_value_map));
      if (page >= r.total_pages) return out;
    }
  }

  async create(type: string, map: PropertyMap): Promise<PropertyMap> {
    return (await this.call<{ property_value_map: PropertyMap }>('POST', '/instances', { json: { type_name: type, property_value_map: map } }, `create ${type}`)).property_value_map;
  }

  async modify(type: string, map: PropertyMap): Promise<void> {
    await this.call('PUT', '/instances', { json: { type_name: type, property_value_map: map } }, `modify ${type}`);
  }

  async remove(type: string, keys: PropertyMap): Promise<void> {
    await this.call('DELETE', '/instances', { json: { type_name: type, property_value_map: keys } }, `delete ${type}`);
  }

  async version(): Promise<{ product_name?: string; product_version?: string }> {
    try {
      const res = await this.http.request({ path: '/version', query: { version: '1.0' }, headers: this.headers(), label: 'version' });
      return JSON.parse(res.text) as { product_name?: string; product_version?: string };
    } catch (e) {
      throw this.translate(e, 'version');
    }
  }

  /** Logs out (the session ends now rather than at its idle timeout) and closes the sockets. */
  async close(): Promise<void> {
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = undefined;
    if (this.token) {
      await this.http.request({ method: 'DELETE', path: '/authentication', query: { version: '1.0' }, headers: this.headers(this.token), label: 'logout' }).catch(() => {});
      this.token = undefined;
    }
    await this.http.close();
  }
}

/** A string as an OpenAccess filter literal; the grammar has no escape, so a value with a double quote cannot be one. */
export function quote(s: string): string {
  if (s.includes('"')) throw new TerminalError('a value with a double quote cannot be searched for in OpenAccess', 'invalid-key');
  return `"${s}"`;
}
