/**
 * The request pipeline of webservice/rest/server.php and login/token.php, independent of HTTP:
 * decoded PHP request variables in, status/headers/body out.
 *
 * Order of checks (webservice_base_server::run): REST format → token → token user state →
 * function name → function exists → function in the service → parameter validation → the
 * function itself inside one delegated transaction → return-value cleaning → json/xml.
 */
import { accessException, invalidParameter, missingRecord, moodleException, WsException } from './errors.js';
import { cleanParam, cleanReturnValue, validateParameters, xmlize, type Val } from './external.js';
import { FUNCTIONS_BY_NAME, OTHER_EXISTING_FUNCTIONS } from './functions/index.js';
import { htmlspecialchars, isPhpArray, phpEmpty, phpJsonEncode, phpTrim, type Json, type PhpArray, type PhpValue } from './php.js';
import { SERVICE_SHORTNAME } from './seed.js';
import type { CallContext, CallCost, SiteSettings, WsFunction } from './site.js';
import { checkPassword, type Store, type UserRec } from './state.js';

export type DebugLevel = 'off' | 'developer';

export interface EngineResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What a request will cost the latency model, worked out before it is served. */
export interface RequestEstimate extends CallCost {
  /** The function name when the request gets as far as running one; otherwise undefined. */
  fn?: string;
}

const ACCESS_DEBUGINFO = (name: string): string => `Access to the function ${name}() is not allowed.
                     There could be multiple reasons for this:
                     1. The service linked to the user token does not contain the function.
                     2. The service is user-restricted and the user is not listed.
                     3. The service is IP-restricted and the user IP is not listed.
                     4. The service is time-restricted and the time has expired.
                     5. The token is time-restricted and the time has expired.
                     6. The service requires a specific capability which the user does not have.
                     7. The function is called with username/password (no user token is sent)
                     and none of the services has the function to allow the user.
                     These settings can be found in Administration > Site administration
                     > Server > Web services > External services and Manage tokens.`;

const COMMON_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Cache-Control': 'private, must-revalidate, pre-check=0, post-check=0, max-age=0',
  Expires: 'Thu, 01 Jan 1970 00:00:00 GMT',
  Pragma: 'no-cache',
  'Accept-Ranges': 'none',
};

const WS_SETTINGS = ['raw', 'fileurl', 'filter', 'lang', 'timezone'];

interface Parsed {
  format: 'json' | 'xml';
  token: string | null;
  functionname: PhpValue | null;
  params: PhpArray;
  raw: boolean;
}

/** What stands between a request and a function: everything up to validated parameters. */
type Prepared =
  | { ok: true; parsed: Parsed; fn: WsFunction; user: UserRec; params: Record<string, Val> }
  | { ok: false; parsed: Parsed; error: WsException };

export class Engine {
  debug: DebugLevel;
  webservicesEnabled = true;

  constructor(readonly store: Store, readonly site: SiteSettings, debug: DebugLevel = 'off',
    private readonly clock: () => number = () => Math.floor(Date.now() / 1000)) {
    this.debug = debug;
  }

  private parse(vars: PhpArray): Parsed {
    const params: PhpArray = new Map(vars);
    let raw = false;
    for (const name of WS_SETTINGS) {
      const key = `moodlewssetting${name}`;
      const v = params.get(key);
      if (name === 'raw' && typeof v === 'string') raw = v === '1' || v.toLowerCase() === 'true';
      params.delete(key);
    }
    const f = params.get('moodlewsrestformat');
    const format = f === 'json' || f === 'xml' ? f : 'xml';
    params.delete('moodlewsrestformat');
    const t = params.get('wstoken');
    params.delete('wstoken');
    const functionname = params.get('wsfunction') ?? null;
    params.delete('wsfunction');
    return { format, token: typeof t === 'string' ? t : null, functionname, params, raw };
  }

  private authenticate(token: string | null): UserRec {
    const rec = token === null ? undefined : this.store.tokens.find((t) => t.token === token);
    if (!rec) throw moodleException('invalidtoken', 'webservice');
    const user = this.store.users.get(rec.userid);
    if (!user || user.deleted) throw moodleException('wsaccessuserdeleted', 'webservice', rec.userid.toString());
    if (user.suspended) throw moodleException('wsaccessusersuspended', 'webservice', user.username);
    if (user.auth === 'nologin') throw moodleException('wsaccessusernologin', 'webservice', user.username);
    return user;
  }

  private prepare(vars: PhpArray): Prepared {
    const parsed = this.parse(vars);
    try {
      const user = this.authenticate(parsed.token);
      const name = parsed.functionname;
      if (name === null || (typeof name === 'string' && phpEmpty(name))) throw invalidParameter('Missing function name');
      const fname = typeof name === 'string' ? name : 'Array';
      const fn = FUNCTIONS_BY_NAME.get(fname);
      if (!fn || !this.site.serviceFunctions.includes(fname)) {
        if (fn || OTHER_EXISTING_FUNCTIONS.has(fname)) throw accessException(ACCESS_DEBUGINFO(fname));
        throw missingRecord('external_functions', 'SELECT * FROM {external_functions} WHERE name = ?', [fname]);
      }
      const params = validateParameters(fn.params, parsed.params, this.site) as Record<string, Val>;
      return { ok: true, parsed, fn, user, params };
    } catch (e) {
      if (e instanceof WsException) return { ok: false, parsed, error: e };
      throw e;
    }
  }

  private context(user: UserRec, raw: boolean): CallContext {
    return { store: this.store, user, site: this.site, now: this.clock, raw };
  }

  /** Cheap, side-effect free: which function a request reaches and how big it is. */
  estimate(vars: PhpArray): RequestEstimate {
    const p = this.prepare(vars);
    if (!p.ok) return { items: 0, passwords: 0 };
    const c = p.fn.cost?.(p.params, this.context(p.user, p.parsed.raw)) ?? { items: 1, passwords: 0 };
    return { fn: p.fn.name, ...c };
  }

  /** webservice/rest/server.php */
  serve(vars: PhpArray): EngineResponse & { fn?: string; error?: string } {
    if (!this.webservicesEnabled) return { status: 403, headers: {}, body: '' };
    const p = this.prepare(vars);
    if (!p.ok) return { ...this.error(p.parsed.format, p.error), error: p.error.errorcode ?? p.error.exceptionClass };
    const { store } = this;
    store.begin();
    let result: Json | undefined;
    const ctx = this.context(p.user, p.parsed.raw);
    try {
      result = p.fn.execute(ctx, p.params);
      store.commit();
      // Committed, and yet an error (e.g. the welcome message after an enrolment could not be sent).
      if (ctx.afterCommit) {
        return { ...this.error(p.parsed.format, ctx.afterCommit), fn: p.fn.name, error: ctx.afterCommit.errorcode };
      }
    } catch (e) {
      store.rollback();
      if (e instanceof WsException) {
        return { ...this.error(p.parsed.format, e), fn: p.fn.name, error: e.errorcode ?? e.exceptionClass };
      }
      throw e;
    }
    let cleaned: Json | null = null;
    try {
      cleaned = p.fn.returns === null ? null : cleanReturnValue(p.fn.returns, result);
    } catch (e) {
      if (e instanceof WsException) return { ...this.error(p.parsed.format, e), fn: p.fn.name };
      throw e;
    }
    if (p.parsed.format === 'json') {
      return { status: 200, headers: { 'Content-Type': 'application/json', ...COMMON_HEADERS }, body: phpJsonEncode(cleaned), fn: p.fn.name };
    }
    const body = `<?xml version="1.0" encoding="UTF-8" ?>\n<RESPONSE>\n${xmlize(cleaned, p.fn.returns)}</RESPONSE>\n`;
    return { status: 200, headers: this.xmlHeaders(), body, fn: p.fn.name };
  }

  private xmlHeaders(): Record<string, string> {
    return {
      'Content-Type': 'application/xml; charset=utf-8',
      'Content-Disposition': 'inline; filename="response.xml"',
      ...COMMON_HEADERS,
    };
  }

  /** webservice_rest_server::generate_error() */
  private error(format: 'json' | 'xml', ex: WsException): EngineResponse {
    const debugging = this.debug !== 'off';
    if (format === 'json') {
      const o: Record<string, Json> = { exception: ex.exceptionClass };
      if (ex.errorcode !== undefined) o.errorcode = ex.errorcode;
      o.message = ex.message;
      if (debugging && ex.debuginfo !== undefined) o.debuginfo = ex.debuginfo;
      return { status: 200, headers: { 'Content-Type': 'application/json', ...COMMON_HEADERS }, body: phpJsonEncode(o) };
    }
    let xml = '<?xml version="1.0" encoding="UTF-8" ?>\n';
    xml += `<EXCEPTION class="${ex.exceptionClass}">\n`;
    if (ex.errorcode !== undefined) xml += `<ERRORCODE>${htmlspecialchars(ex.errorcode)}</ERRORCODE>\n`;
    xml += `<MESSAGE>${htmlspecialchars(ex.message)}</MESSAGE>\n`;
    if (debugging && ex.debuginfo !== undefined) xml += `<DEBUGINFO>${htmlspecialchars(ex.debuginfo)}</DEBUGINFO>\n`;
    xml += '</EXCEPTION>\n';
    return { status: 200, headers: this.xmlHeaders(), body: xml };
  }

  /** login/token.php: `$_POST` is consulted before `$_GET` (required_param). */
  token(get: PhpArray, post: PhpArray): EngineResponse {
    const headers = { 'Content-Type': 'application/json; charset=utf-8', 'Access-Control-Allow-Origin': '*' };
    const fail = (e: WsException): EngineResponse => ({
      status: 200,
      headers,
      body: phpJsonEncode({
        error: e.message, errorcode: e.errorcode ?? null, stacktrace: null,
        debuginfo: this.debug !== 'off' && e.debuginfo !== undefined ? e.debuginfo : null, reproductionlink: null,
      }),
    });
    const param = (name: string): PhpValue | undefined => post.get(name) ?? get.get(name);
    try {
      if (!this.webservicesEnabled) throw moodleException('enablewsdescription', 'webservice');
      const check = param('appsitecheck');
      if (typeof check === 'string' && cleanParam(check, 'int', this.site) !== 0) {
        return { status: 200, headers, body: phpJsonEncode({ appsitecheck: 'ok' }) };
      }
      const required = (name: string): string => {
        const v = param(name);
        if (v === undefined) throw moodleException('missingparam', '', name);
        if (isPhpArray(v)) throw invalidParameter(`${name} is an array`);
        return v;
      };
      const username = phpTrim(String(cleanParam(required('username'), 'username', this.site))).toLowerCase();
      const password = required('password');
      const service = String(cleanParam(required('service'), 'alphanumext', this.site));
      const user = this.store.userByUsername(username);
      const internal = user ? this.site.internalAuth.has(user.auth) : false;
      if (!user || user.deleted || user.suspended || user.auth === 'nologin' || !internal
        || !checkPassword(user.password, password)) {
        throw moodleException('invalidlogin');
      }
      if (user.id === 1) throw moodleException('noguest');
      if (!user.confirmed) throw moodleException('usernotconfirmed', 'moodle', user.username);
      if (service !== SERVICE_SHORTNAME) throw moodleException('servicenotavailable', 'webservice');
      const existing = this.store.tokens.find((t) => t.userid === user.id && t.service === service);
      // Only the service's authorised user holds a token; site admins cannot obtain one here.
      if (!existing) throw moodleException('cannotcreatetoken', 'webservice', service);
      return { status: 200, headers, body: phpJsonEncode({ token: existing.token, privatetoken: null }) };
    } catch (e) {
      if (e instanceof WsException) return fail(e);
      throw e;
    }
  }
}
