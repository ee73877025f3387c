/**
 * Moodle's exceptions as they appear on the wire: the PHP class name (`get_class()`), the error
 * code, the localised message and the optional debug info. The strings are Moodle 4.5's English
 * language pack; a code without a string renders as `module/code`, exactly like Moodle.
 */
import { varExportList } from './php.js';

/** English strings by component, the subset the simulated functions can raise. */
const STRINGS: Record<string, Record<string, string>> = {
  error: {
    invalidrecord: "Can't find data record in database table {$a}.",
    dmlwriteexception: 'Error writing to database',
    codingerror: 'Coding error detected, it must be fixed by a programmer: {$a}',
    invalidcourseid: 'You are trying to use an invalid course ID',
    invaliduserid: 'Invalid user ID',
    usernotupdatedadmin: 'Cannot update admin accounts',
    useremailduplicate: 'Duplicate address',
    shortnametaken: 'Short name is already used for another course ({$a})',
    courseidnumbertaken: 'ID number is already used for another course ({$a})',
    categoryidnumbertaken: 'ID number is already used for another category',
    categorynamerequired: 'A category name is required',
    categorytoolong: 'Category name too long',
    idnumbertoolong: 'ID number is too long',
    unknowcategory: 'Category not known!',
    enddatebeforestartdate: 'The course end date must be after the start date.',
    usernamelowercase: 'The username must be in lower case',
    invalidusername: 'The given username contains invalid characters',
    invalidlogin: 'Invalid login, please try again',
    missingparam: 'A required parameter ({$a}) was missing',
    noguest: 'No guests here!',
    nopermissions: 'Sorry, but you do not currently have permissions to do that ({$a}).',
    sitemaintenance: 'This site is undergoing maintenance and is currently not available',
  },
  debug: {
    invalidparameter: 'Invalid parameter value detected',
    invalidresponse: 'Invalid response value detected',
    codingerror: 'Coding error detected, it must be fixed by a programmer: {$a}',
  },
  webservice: {
    invalidtoken: 'Invalid token - token not found',
    accessexception: 'Access control exception',
    wsaccessusersuspended: 'Refused web service access for suspended username: {$a}',
    wsaccessuserdeleted: 'Refused web service access for deleted username: {$a}',
    wsaccessusernologin: 'Refused web service access for nologin authentication username: {$a}',
    errorcatcontextnotvalid:
      'You cannot execute functions in the category context (category id:{$a->catid}). The context error message was: {$a->message}',
    errorinvalidparam: 'The param "{$a}" is invalid.',
    invalidextparam: 'Invalid external api parameter: {$a}',
    criteriaerror: 'Missing permissions to search on a criterion.',
    servicenotavailable: "Web service is not available (it doesn't exist or might be disabled)",
    cannotcreatetoken: 'You do not have the permissions to create web service tokens for the service {$a}.',
    enablewsdescription: 'Web services must be enabled in Advanced features.',
    backupprecheckerrors: 'Backup precheck errors: {$a}',
  },
  enrol_manual: {
    wsusercannotassign:
      "You don't have the permission to assign this role ({$a->roleid}) to this user ({$a->userid}) in this course ({$a->courseid}).",
    wsnoinstance: "Manual enrolment plugin instance doesn't exist or is disabled for the course (id = {$a->courseid})",
    wscannotenrol: 'Plugin instance cannot manually enrol a user in the course id = {$a->courseid}',
    wscannotunenrol: 'Plugin instance cannot unenrol a user in the course id = {$a->courseid}',
    manualpluginnotinstalled: 'The "Manual" plugin has not yet been installed',
  },
};

type Placeholder = string | number | Record<string, string | number> | undefined;

/** `get_string($identifier, $component, $a)`, or `null` when the string does not exist. */
export function getString(identifier: string, component: string, a?: Placeholder): string | null {
  const s = STRINGS[component]?.[identifier];
  if (s === undefined) return null;
  return s.replace(/\{\$a(?:->(\w+))?\}/g, (whole, prop: string | undefined) => {
    if (a === undefined) return whole;
    if (prop === undefined) return typeof a === 'object' ? whole : String(a);
    if (typeof a !== 'object') return whole;
    const v = a[prop];
    return v === undefined ? whole : String(v);
  });
}

/** Any exception a web-service call can end with. */
export class WsException extends Error {
  constructor(
    /** `get_class($ex)`: e.g. `core\exception\moodle_exception`, `dml_missing_record_exception`, `TypeError`. */
    readonly exceptionClass: string,
    message: string,
    /** Absent for PHP engine errors such as TypeError. */
    readonly errorcode?: string,
    readonly debuginfo?: string,
  ) {
    super(message);
  }
}

/** `new moodle_exception($errorcode, $module, $link, $a, $debuginfo)`. */
export function moodleException(
  errorcode: string, module = '', a?: Placeholder, debuginfo?: string, cls = 'core\\exception\\moodle_exception',
): WsException {
  const mod = module === '' || module === 'moodle' || module === 'core' ? 'error' : module;
  const message = getString(errorcode, mod, a) ?? `${mod}/${errorcode}`;
  return new WsException(cls, message, errorcode, debuginfo);
}

/** `new invalid_parameter_exception($debuginfo)`. */
export function invalidParameter(debuginfo?: string): WsException {
  return new WsException('core\\exception\\invalid_parameter_exception', getString('invalidparameter', 'debug')!,
    'invalidparameter', debuginfo);
}

/** `new invalid_response_exception($debuginfo)`. */
export function invalidResponse(debuginfo?: string): WsException {
  return new WsException('core\\exception\\invalid_response_exception', getString('invalidresponse', 'debug')!,
    'invalidresponse', debuginfo);
}

/** `new coding_exception($hint, $debuginfo)`. */
export function codingException(hint: string, debuginfo?: string): WsException {
  return new WsException('core\\exception\\coding_exception', getString('codingerror', 'debug', hint)!,
    'codingerror', debuginfo);
}

/** `dml_missing_record_exception` as thrown by a MUST_EXIST lookup. */
export function missingRecord(table: string, sql: string, params: (string | number)[]): WsException {
  return new WsException('dml_missing_record_exception', getString('invalidrecord', 'error', table)!, 'invalidrecord',
    `${sql}\n[${varExportList(params)}]`);
}

/** `dml_write_exception` (e.g. a unique index violation). */
export function dmlWrite(debuginfo?: string): WsException {
  return new WsException('dml_write_exception', getString('dmlwriteexception', 'error')!, 'dmlwriteexception',
    debuginfo);
}

/** `webservice_access_exception`. */
export function accessException(debuginfo: string): WsException {
  return new WsException('webservice_access_exception', getString('accessexception', 'webservice')!,
    'accessexception', debuginfo);
}

/** A PHP engine error (no error code; the message is PHP's). */
export function phpTypeError(message: string): WsException {
  return new WsException('TypeError', message);
}
