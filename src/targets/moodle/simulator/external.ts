/**
 * Moodle's external API descriptions (external_value / external_single_structure /
 * external_multiple_structure), with the three things the web-service layer does with them:
 * validate_parameters() on the way in (same checks, same debug messages), clean_returnvalue()
 * on the way out (key order, dropped optional keys, bool/int casts) and the REST server's XML
 * rendering.
 */
import { invalidParameter, invalidResponse, type WsException } from './errors.js';
import {
  htmlspecialchars, isCanonicalInt, isNumericString, isPhpArray, phpIntval, phpTrim, printR, stripTags,
  type Json, type PhpValue,
} from './php.js';

/** PARAM_* constants by their string value (that value appears in error messages). */
export type ParamType =
  | 'int' | 'bool' | 'float' | 'raw' | 'raw_trimmed' | 'notags' | 'text' | 'alpha' | 'alphanum' | 'alphaext'
  | 'alphanumext' | 'username' | 'email' | 'auth' | 'lang' | 'theme' | 'plugin' | 'component' | 'safedir'
  | 'timezone' | 'sequence' | 'url' | 'capability' | 'area';

export type Requirement = 'required' | 'optional' | 'default';

export interface ValueDesc {
  kind: 'value';
  type: ParamType;
  required: Requirement;
  default?: Json;
  allownull: boolean;
}
export interface SingleDesc {
  kind: 'single';
  keys: Record<string, Desc>;
  required: Requirement;
  default?: Json;
}
export interface MultipleDesc {
  kind: 'multiple';
  content: Desc;
  required: Requirement;
  default?: Json;
}
export type Desc = ValueDesc | SingleDesc | MultipleDesc;

/** `new external_value($type, '', $required, $default, $allownull)`. */
export function value(type: ParamType, required: Requirement = 'required', def?: Json, allownull = true): ValueDesc {
  return { kind: 'value', type, required, ...(def !== undefined ? { default: def } : {}), allownull };
}
export function single(keys: Record<string, Desc>, required: Requirement = 'required', def?: Json): SingleDesc {
  return { kind: 'single', keys, required, ...(def !== undefined ? { default: def } : {}) };
}
export function multiple(content: Desc, required: Requirement = 'required', def?: Json): MultipleDesc {
  return { kind: 'multiple', content, required, ...(def !== undefined ? { default: def } : {}) };
}
/** `external_format_value($name, $required)`: PARAM_INT, default FORMAT_HTML. */
export function formatValue(required: Requirement = 'required'): ValueDesc {
  return value('int', required, required === 'default' ? 1 : undefined);
}
/** `new external_warnings()`. */
export function warnings(): MultipleDesc {
  return multiple(single({
    item: value('text', 'optional'),
    itemid: value('int', 'optional'),
    warningcode: value('alpha'),
    message: value('raw'),
  }), 'optional');
}
/** `new external_files($desc, $required)`. */
export function files(required: 'required' | 'optional'): MultipleDesc {
  return multiple(single({
    filename: value('raw', 'optional'),
    filepath: value('raw', 'optional'),
    filesize: value('int', 'optional'),
    fileurl: value('url', 'optional'),
    timemodified: value('int', 'optional'),
    mimetype: value('raw', 'optional'),
    isexternalfile: value('bool', 'optional'),
    repositorytype: value('plugin', 'optional'),
    icon: value('raw', 'optional'),
  }), required);
}

/** What the site has installed: PARAM_AUTH / PARAM_LANG / PARAM_THEME depend on it. */
export interface ParamEnv {
  authPlugins: ReadonlySet<string>;
  langs: ReadonlySet<string>;
  themes: ReadonlySet<string>;
}

/** Validated parameter values: strings, ints, bools, nested records and lists. */
export type Val = Json;

function isValidPluginName(s: string): boolean {
  return /^[a-z](?:[a-z0-9_](?!__))*[a-z0-9]+$/.test(s);
}

const TIMEZONE = /^(([+-]?(0?[0-9](\.[5|0])?|1[0-3](\.0)?|1[0-2]\.5))|(99)|[A-Za-z0-9]+(\/?[A-Za-z_-])+)$/;

/** PHPMailer's 'html5' validator plus Moodle's `<`/`>` rejection: `validate_email()`. */
export function validateEmail(address: string | null | undefined): boolean {
  if (address === null || address === undefined || address === '') return false;
  const html5 = /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
  return html5.test(address) && !/[<>]/.test(address);
}

/** `clean_param($param, $type)` for a string input. */
export function cleanParam(param: string, type: ParamType, env: ParamEnv): string | number | boolean {
  switch (type) {
    case 'raw':
      return param;
    case 'raw_trimmed':
      return phpTrim(param);
    case 'int':
      return phpIntval(param);
    case 'float':
      return isNumericString(param) ? Number(param) : phpIntval(param);
    case 'bool': {
      const t = param.toLowerCase();
      if (t === 'on' || t === 'yes' || t === 'true') return 1;
      if (t === 'off' || t === 'no' || t === 'false') return 0;
      return param === '' || param === '0' ? 0 : 1;
    }
    case 'alpha':
      return param.replace(/[^a-zA-Z]/g, '');
    case 'alphanum':
      return param.replace(/[^A-Za-z0-9]/g, '');
    case 'alphaext':
      return param.replace(/[^a-zA-Z_-]/g, '');
    case 'alphanumext':
      return param.replace(/[^a-zA-Z0-9_-]/g, '');
    case 'sequence':
      return param.replace(/[^0-9,]/g, '');
    case 'safedir':
      return param.replace(/[^a-zA-Z0-9_-]/g, '');
    case 'notags':
    case 'text':
      return stripTags(param);
    case 'username': {
      let p = phpTrim(param).toLowerCase();
      p = p.replace(/ /g, '').replace(/[^-.@_a-z0-9]/g, '');
      return p;
    }
    case 'email':
      return validateEmail(param) ? param : '';
    case 'plugin':
    case 'area':
    case 'component':
      return isValidPluginName(param) ? param : '';
    case 'auth': {
      const p = isValidPluginName(param) ? param : '';
      return p !== '' && env.authPlugins.has(p) ? p : '';
    }
    case 'lang': {
      const p = param.replace(/[^a-zA-Z0-9_-]/g, '');
      return env.langs.has(p) ? p : '';
    }
    case 'theme': {
      const p = isValidPluginName(param) ? param : '';
      return p !== '' && env.themes.has(p) ? p : '';
    }
    case 'timezone':
      return TIMEZONE.test(param) ? param : '';
    case 'url':
    case 'capability':
      return param;
  }
}

/** `(string)$x` in PHP. */
function phpString(v: Json): string {
  if (v === null) return '';
  if (typeof v === 'boolean') return v ? '1' : '';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return v;
  return 'Array';
}

/**
 * `validate_param()`: clean, then reject if the cleaned value differs from the input
 * (`(string)$param !== (string)$cleaned`). Returns the cleaned value.
 */
export function validateParam(param: Json, type: ParamType, allownull: boolean, debuginfo: string, env: ParamEnv): Val {
  if (param === null) {
    if (allownull) return null;
    throw invalidParameter(debuginfo);
  }
  if (typeof param === 'object') throw invalidParameter(debuginfo);
  const s = phpString(param);
  if (type === 'int') {
    if (typeof param === 'number' && Number.isInteger(param)) return param;
    if (!isCanonicalInt(s)) throw invalidParameter(debuginfo);
    return phpIntval(s);
  }
  if (type === 'float') {
    if (typeof param === 'number') return param;
    if (!isNumericString(s) || !/^[+-]?[0-9]*\.?[0-9]*(e[-+]?[0-9]+)?$/i.test(s)) throw invalidParameter(debuginfo);
    return Number(s);
  }
  const cleaned = cleanParam(s, type, env);
  if (phpString(cleaned) !== s) throw invalidParameter(debuginfo);
  return cleaned;
}

type Input = PhpValue | Json | undefined;

function isArrayLike(v: Input): boolean {
  return isPhpArray(v) || Array.isArray(v) || (typeof v === 'object' && v !== null);
}

function entries(v: Input): [string, Input][] {
  if (isPhpArray(v)) return [...v.entries()];
  if (Array.isArray(v)) return v.map((x, i) => [String(i), x]);
  if (typeof v === 'object' && v !== null) return Object.entries(v);
  return [];
}

function prefix(key: string, e: WsException): WsException {
  // "$key => $message: $debuginfo", the path Moodle builds while unwinding.
  return invalidParameter(`${key} => ${e.message}: ${e.debuginfo ?? ''}`);
}

/** `external_api::validate_parameters($description, $params)`. */
export function validateParameters(desc: Desc, params: Input, env: ParamEnv): Val {
  if (desc.kind === 'value') {
    if (isArrayLike(params)) throw invalidParameter('Scalar type expected, array or object received.');
    const p = (params ?? null) as Json;
    if (desc.type === 'bool') {
      if (typeof p === 'boolean' || p === 0 || p === 1 || p === '0' || p === '1') {
        return p === true || p === 1 || p === '1';
      }
    }
    const debuginfo = `Invalid external api parameter: the value is "${phpString(p)}", the server was expecting "${desc.type}" type`;
    return validateParam(p, desc.type, desc.allownull, debuginfo, env);
  }
  if (desc.kind === 'single') {
    if (!isArrayLike(params)) {
      throw invalidParameter(`Only arrays accepted. The bad value is: '${printR(params)}'`);
    }
    const remaining = new Map(entries(params));
    const result: Record<string, Val> = {};
    for (const [key, sub] of Object.entries(desc.keys)) {
      if (!remaining.has(key)) {
        if (sub.required === 'required') {
          throw invalidParameter(`Missing required key in single structure: ${key}`);
        }
        if (sub.required === 'default') {
          try {
            result[key] = validateParameters(sub, sub.default ?? null, env);
          } catch (e) {
            throw prefix(key, e as WsException);
          }
        }
      } else {
        try {
          result[key] = validateParameters(sub, remaining.get(key), env);
        } catch (e) {
          throw prefix(key, e as WsException);
        }
      }
      remaining.delete(key);
    }
    if (remaining.size > 0) {
      throw invalidParameter(`Unexpected keys (${[...remaining.keys()].join(', ')}) detected in parameter array.`);
    }
    return result;
  }
  if (!isArrayLike(params)) {
    throw invalidParameter(`Only arrays accepted. The bad value is: '${printR(params)}'`);
  }
  return entries(params).map(([, v]) => validateParameters(desc.content, v, env));
}

/** `external_api::clean_returnvalue($description, $response)`. */
export function cleanReturnValue(desc: Desc, response: Json | undefined): Json {
  if (desc.kind === 'value') {
    if (response !== null && typeof response === 'object') {
      throw invalidResponse('Scalar type expected, array or object received.');
    }
    if (response === undefined || response === null) return null;
    if (desc.type === 'bool') {
      if (typeof response === 'boolean' || response === 0 || response === 1 || response === '0' || response === '1') {
        return response === true || response === 1 || response === '1';
      }
    }
    if (desc.type === 'int' && typeof response === 'string' && isCanonicalInt(response)) return Number(response);
    if (desc.type === 'int' && typeof response === 'boolean') return response ? 1 : 0;
    return response;
  }
  if (desc.kind === 'single') {
    if (response === null || typeof response !== 'object' || Array.isArray(response)) {
      throw invalidResponse(`Only arrays accepted. The bad value is: '${printR(response)}'`);
    }
    const out: Record<string, Json> = {};
    for (const [key, sub] of Object.entries(desc.keys)) {
      if (!(key in response)) {
        if (sub.required === 'required') {
          throw invalidResponse(`Error in response - Missing following required key in a single structure: ${key}`);
        }
        if (sub.kind === 'value' && sub.required === 'default') out[key] = cleanReturnValue(sub, sub.default ?? null);
        continue;
      }
      out[key] = cleanReturnValue(sub, response[key]);
    }
    return out;
  }
  if (response === null || response === undefined) return [];
  if (typeof response !== 'object') {
    throw invalidResponse(`Only arrays accepted. The bad value is: '${printR(response)}'`);
  }
  const list = Array.isArray(response) ? response : Object.values(response);
  return list.map((v) => cleanReturnValue(desc.content, v));
}

/** `webservice_rest_server::xmlize_result()`. */
export function xmlize(returns: Json | undefined, desc: Desc | null): string {
  if (desc === null) return '';
  if (desc.kind === 'value') {
    let v = returns;
    if (typeof v === 'boolean') v = v ? 1 : 0;
    if (v === null || v === undefined) return '<VALUE null="null"/>\n';
    return `<VALUE>${htmlspecialchars(phpString(v))}</VALUE>\n`;
  }
  if (desc.kind === 'multiple') {
    let out = '<MULTIPLE>\n';
    if (returns !== null && returns !== undefined && typeof returns === 'object') {
      const list = Array.isArray(returns) ? returns : Object.values(returns);
      for (const item of list) out += xmlize(item, desc.content);
    }
    return out + '</MULTIPLE>\n';
  }
  let out = '<SINGLE>\n';
  const obj = returns !== null && typeof returns === 'object' && !Array.isArray(returns) ? returns : {};
  for (const [key, sub] of Object.entries(desc.keys)) {
    const v = obj[key];
    out += `<KEY name="${key}">${xmlize(v === undefined ? null : v, sub)}</KEY>\n`;
  }
  return out + '</SINGLE>\n';
}
