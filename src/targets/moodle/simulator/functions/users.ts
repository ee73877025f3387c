/**
 * core_user_create_users, core_user_update_users, core_user_get_users_by_field, core_user_get_users
 * (Moodle 4.5 user/externallib.php and user/lib.php).
 */
import { codingException, dmlWrite, invalidParameter, moodleException, WsException } from '../errors.js';
import { cleanParam, multiple, single, validateEmail, value, warnings, type Val } from '../external.js';
import { isNumericString, phpEmpty, phpIntval, phpTrim, varExportArray, type Json } from '../php.js';
import { userDescription, userDetails, type CallContext, type SiteSettings, type WsFunction } from '../site.js';
import { hashPassword, UniqueViolation, ValueTooLong, type UserRec } from '../state.js';

const customfieldsDesc = multiple(single({ type: value('alphanumext'), value: value('raw') }), 'optional');
const preferencesDesc = multiple(single({ type: value('raw'), value: value('raw') }), 'optional');

/** Auth plugins that may not be used for new accounts (create_users unsets them). */
const NOT_CREATABLE_AUTH = new Set(['mnet', 'webservice']);

/** `get_password_policy_errors()` with the default policy strings. */
export function passwordPolicyErrors(password: string, site: SiteSettings): string {
  const p = site.passwordPolicy;
  const errors: string[] = [];
  const chars = [...password];
  if (chars.length < p.minLength) errors.push(`Passwords must be at least ${p.minLength} characters long.`);
  if (chars.filter((c) => /\p{Nd}/u.test(c)).length < p.minDigits) {
    errors.push(`Passwords must have at least ${p.minDigits} digit(s).`);
  }
  if (chars.filter((c) => /\p{Ll}/u.test(c)).length < p.minLower) {
    errors.push(`Passwords must have at least ${p.minLower} lower case letter(s).`);
  }
  if (chars.filter((c) => /\p{Lu}/u.test(c)).length < p.minUpper) {
    errors.push(`Passwords must have at least ${p.minUpper} upper case letter(s).`);
  }
  if (chars.filter((c) => !/[\p{Lu}\p{Ll}\p{Nd}]/u.test(c)).length < p.minNonAlphanum) {
    errors.push(`The password must have at least ${p.minNonAlphanum} special character(s) such as *, -, or #.`);
  }
  if (p.maxConsecutiveIdentical > 0) {
    let run = 1;
    for (let i = 1; i < chars.length; i++) {
      run = chars[i] === chars[i - 1] ? run + 1 : 1;
      if (run > p.maxConsecutiveIdentical) {
        errors.push(`Passwords must have at most ${p.maxConsecutiveIdentical} consecutive identical characters.`);
        break;
      }
    }
  }
  return errors.map((e) => `<div>${e}</div>`).join('');
}

function checkPasswordPolicy(password: string, site: SiteSettings): void {
  const errmsg = passwordPolicyErrors(password, site);
  if (errmsg !== '') throw moodleException(errmsg);
}

function interestsList(s: string): string[] {
  return s.split(',').map((x) => x.trim()).filter((x) => !phpEmpty(x));
}

function saveProfile(ctx: CallContext, u: UserRec, fields: { type: string; value: string }[] | undefined): void {
  if (!fields || fields.length === 0) return;
  const known = new Set(ctx.store.profileFields.map((f) => f.shortname));
  const profile = { ...u.profile };
  let changed = false;
  for (const f of fields) {
    // profile_save_data() ignores shortnames that are not defined on the site.
    if (!known.has(f.type)) continue;
    profile[f.type] = f.value;
    changed = true;
  }
  if (changed) ctx.store.updateUser(u, { profile });
}

function savePreferences(ctx: CallContext, u: UserRec, prefs: { type: string; value: string }[] | undefined,
  extra: Record<string, string> = {}): void {
  if ((!prefs || prefs.length === 0) && Object.keys(extra).length === 0) return;
  const preferences = { ...u.preferences, ...extra };
  for (const p of prefs ?? []) preferences[p.type] = p.value;
  ctx.store.updateUser(u, { preferences });
}

interface CreateUserInput {
  createpassword?: boolean;
  username: string;
  auth: string;
  password?: string;
  firstname: string;
  lastname: string;
  email: string;
  maildisplay?: number;
  city?: string;
  country?: string;
  timezone?: string;
  description?: string;
  firstnamephonetic?: string;
  lastnamephonetic?: string;
  middlename?: string;
  alternatename?: string;
  interests?: string;
  idnumber: string;
  institution?: string;
  department?: string;
  phone1?: string;
  phone2?: string;
  address?: string;
  lang: string;
  calendartype: string;
  theme?: string;
  mailformat?: number;
  customfields?: { type: string; value: string }[];
  preferences?: { type: string; value: string }[];
}

/** Input keys user_create_user() does not write into the mdl_user row itself. */
const NOT_IN_USER_ROW = new Set(['createpassword', 'password', 'customfields', 'preferences', 'interests']);

/**
 * The debuginfo of a refused INSERT INTO mdl_user, as PostgreSQL and Moodle's DML layer word it
 * (recorded B07d, B16d): the error, the statement and its values, in user_create_user()'s order —
 * the validated input, then the defaults it fills in.
 */
function insertDebuginfo(user: CreateUserInput, password: string, now: number, tooLong: ValueTooLong): string {
  const row: [string, string | number][] = [];
  for (const [k, v] of Object.entries(user)) {
    if (NOT_IN_USER_ROW.has(k) || v === undefined || typeof v === 'object') continue;
    row.push([k, typeof v === 'boolean' ? Number(v) : v]);
  }
  const has = (k: string): boolean => row.some(([key]) => key === k);
  row.push(['confirmed', 1], ['mnethostid', '1'], ['password', password]);
  if (!has('maildisplay')) row.push(['maildisplay', '2']);
  if (!has('mailformat')) row.push(['mailformat', '1']);
  row.push(['maildigest', '0'], ['autosubscribe', '1'], ['trackforums', '0']);
  if (!has('city')) row.push(['city', '']);
  if (!has('country')) row.push(['country', '']);
  row.push(['timecreated', now], ['timemodified', now]);
  const columns = row.map(([k]) => k).join(',');
  const placeholders = row.map((_, i) => `$${i + 1}`).join(',');
  return `ERROR:  ${tooLong.message}\nINSERT INTO mdl_user (${columns}) VALUES(${placeholders}) RETURNING id\n`
    + `[${varExportArray(row)}]`;
}

export const createUsers: WsFunction = {
  name: 'core_user_create_users',
  params: single({
    users: multiple(single({
      createpassword: value('bool', 'optional'),
      username: value('username'),
      auth: value('auth', 'default', 'manual', false),
      password: value('raw', 'optional'),
      firstname: value('notags'),
      lastname: value('notags'),
      email: value('raw_trimmed'),
      maildisplay: value('int', 'optional'),
      city: value('text', 'optional'),
      country: value('alpha', 'optional'),
      timezone: value('timezone', 'optional'),
      description: value('raw', 'optional'),
      firstnamephonetic: value('notags', 'optional'),
      lastnamephonetic: value('notags', 'optional'),
      middlename: value('notags', 'optional'),
      alternatename: value('notags', 'optional'),
      interests: value('text', 'optional'),
      idnumber: value('raw', 'default', ''),
      institution: value('text', 'optional'),
      department: value('text', 'optional'),
      phone1: value('notags', 'optional'),
      phone2: value('notags', 'optional'),
      address: value('text', 'optional'),
      lang: value('lang', 'default', 'en', false),
      calendartype: value('plugin', 'default', 'gregorian'),
      theme: value('theme', 'optional'),
      mailformat: value('int', 'optional'),
      customfields: customfieldsDesc,
      preferences: preferencesDesc,
    })),
  }),
  returns: multiple(single({ id: value('int'), username: value('username') })),
  cost(p, ctx) {
    const users = p.users as unknown as CreateUserInput[];
    return {
      items: users.length,
      passwords: users.filter((u) => ctx.site.internalAuth.has(u.auth) && !phpEmpty(u.password)).length,
    };
  },
  execute(ctx, p: { users: CreateUserInput[] }) {
    const { store, site } = ctx;
    const out: Json[] = [];
    for (const user of p.users) {
      for (const field of ['username', 'firstname', 'lastname'] as const) {
        if (phpTrim(user[field]) === '') throw invalidParameter(`The field ${field} cannot be blank`);
      }
      if (store.userByUsername(user.username)) throw invalidParameter(`Username already exists: ${user.username}`);
      if (!site.authPlugins.has(user.auth) || NOT_CREATABLE_AUTH.has(user.auth)) {
        throw invalidParameter(`Invalid authentication type: ${user.auth}`);
      }
      if (!site.langs.has(user.lang)) throw invalidParameter(`Invalid language code: ${user.lang}`);
      if (!phpEmpty(user.theme) && !site.themes.has(user.theme!)) throw invalidParameter(`Invalid theme: ${user.theme!}`);
      const internal = site.internalAuth.has(user.auth);
      if (internal && phpEmpty(user.password) && phpEmpty(user.createpassword)) {
        throw invalidParameter('Invalid password: you must provide a password, or set createpassword.');
      }
      if (!validateEmail(user.email)) {
        throw invalidParameter(`Email address is invalid: ${user.email}`);
      } else if (!site.allowAccountsSameEmail && store.usersByEmailCI(user.email).length > 0) {
        throw invalidParameter(`Email address already exists: ${user.email}`);
      }
      const createpassword = !phpEmpty(user.createpassword);
      let password: string;
      if (internal) {
        if (createpassword) {
          password = hashPassword(`generated-${Math.random()}`);
        } else {
          // user_create_user(): the password policy applies to internal accounts.
          if (user.password !== undefined) checkPasswordPolicy(user.password, site);
          password = user.password !== undefined ? hashPassword(user.password) : '';
        }
      } else {
        password = 'not cached';
      }
      const now = ctx.now();
      let rec: UserRec;
      try {
        rec = store.insertUser({
          auth: user.auth, confirmed: 1, deleted: 0, suspended: 0, mnethostid: 1, username: user.username, password,
          idnumber: user.idnumber, firstname: user.firstname, lastname: user.lastname, email: user.email,
          phone1: user.phone1 ?? '', phone2: user.phone2 ?? '', institution: user.institution ?? '',
          department: user.department ?? '', address: user.address ?? '', city: user.city ?? '',
          country: user.country ?? '', lang: user.lang, calendartype: user.calendartype, theme: user.theme ?? '',
          timezone: user.timezone ?? '99', firstaccess: 0, lastaccess: 0, description: user.description ?? null,
          descriptionformat: 1, mailformat: user.mailformat ?? 1, maildisplay: user.maildisplay ?? 2, trackforums: 0,
          firstnamephonetic: user.firstnamephonetic ?? '', lastnamephonetic: user.lastnamephonetic ?? '',
          middlename: user.middlename ?? '', alternatename: user.alternatename ?? '', timecreated: now,
          timemodified: now, interests: user.interests ? interestsList(user.interests) : [], profile: {},
          preferences: {},
        });
      } catch (e) {
        if (e instanceof UniqueViolation) throw dmlWrite();
        if (e instanceof ValueTooLong) throw dmlWrite(insertDebuginfo(user, password, now, e));
        throw e;
      }
      saveProfile(ctx, rec, user.customfields);
      savePreferences(ctx, rec, user.preferences, createpassword ? { auth_forcepasswordchange: '1' } : {});
      out.push({ id: rec.id, username: rec.username });
    }
    return out;
  },
};

interface UpdateUserInput extends Partial<Omit<CreateUserInput, 'createpassword'>> {
  id: number;
  suspended?: boolean;
  userpicture?: number;
}

const STRING_FIELDS = ['username', 'auth', 'firstname', 'lastname', 'email', 'city', 'country', 'timezone',
  'firstnamephonetic', 'lastnamephonetic', 'middlename', 'alternatename', 'idnumber', 'institution', 'department',
  'phone1', 'phone2', 'address', 'lang', 'calendartype', 'theme'] as const;

export const updateUsers: WsFunction = {
  name: 'core_user_update_users',
  params: single({
    users: multiple(single({
      id: value('int'),
      username: value('username', 'optional'),
      auth: value('auth', 'optional'),
      suspended: value('bool', 'optional'),
      password: value('raw', 'optional'),
      firstname: value('notags', 'optional'),
      lastname: value('notags', 'optional'),
      email: value('raw_trimmed', 'optional'),
      maildisplay: value('int', 'optional'),
      city: value('text', 'optional'),
      country: value('alpha', 'optional'),
      timezone: value('timezone', 'optional'),
      description: value('raw', 'optional'),
      userpicture: value('int', 'optional'),
      firstnamephonetic: value('notags', 'optional'),
      lastnamephonetic: value('notags', 'optional'),
      middlename: value('notags', 'optional'),
      alternatename: value('notags', 'optional'),
      interests: value('text', 'optional'),
      idnumber: value('raw', 'optional'),
      institution: value('text', 'optional'),
      department: value('text', 'optional'),
      phone1: value('notags', 'optional'),
      phone2: value('notags', 'optional'),
      address: value('text', 'optional'),
      lang: value('lang', 'optional'),
      calendartype: value('plugin', 'optional'),
      theme: value('theme', 'optional'),
      mailformat: value('int', 'optional'),
      customfields: customfieldsDesc,
      preferences: preferencesDesc,
    })),
  }),
  returns: single({ warnings: warnings() }),
  cost(p) {
    const users = p.users as unknown as UpdateUserInput[];
    return { items: users.length, passwords: users.filter((u) => u.password !== undefined).length };
  },
  execute(ctx, p: { users: UpdateUserInput[] }) {
    const { store, site } = ctx;
    const out: Json[] = [];
    for (const user of p.users) {
      const mark = store.savepoint();
      try {
        const existing = store.users.get(user.id);
        if (!existing) throw moodleException('invaliduserid', '', undefined, 'Invalid user ID');
        if (existing.id !== ctx.user.id && existing.id === 2 && ctx.user.id !== 2) {
          throw moodleException('usernotupdatedadmin', '', undefined, 'Cannot update admin accounts');
        }
        if (existing.deleted) throw moodleException('usernotupdateddeleted', '', undefined, 'User is a deleted user');
        if (existing.mnethostid !== 1) throw moodleException('usernotupdatedremote', '', undefined, 'User is a remote user');
        if (existing.id === 1) throw moodleException('usernotupdatedguest', '', undefined, 'Cannot update guest account');
        if (user.email !== undefined && user.email !== existing.email) {
          if (!validateEmail(user.email)) {
            throw moodleException('useremailinvalid', '', undefined, 'Invalid email address');
          } else if (!site.allowAccountsSameEmail
            && store.usersByEmailCI(user.email).some((u) => u.id !== existing.id && u.mnethostid === 1)) {
            throw moodleException('useremailduplicate', '', undefined, 'Duplicate email address');
          }
        }
        // user_update_user()
        if (user.password !== undefined) checkPasswordPolicy(user.password, site);
        const patch: Partial<UserRec> = {};
        for (const f of STRING_FIELDS) {
          const v = user[f];
          if (v !== undefined) (patch as Record<string, unknown>)[f] = v;
        }
        if (patch.calendartype === '') delete patch.calendartype;
        if (user.suspended !== undefined) patch.suspended = user.suspended ? 1 : 0;
        if (user.maildisplay !== undefined) patch.maildisplay = user.maildisplay;
        if (user.mailformat !== undefined) patch.mailformat = user.mailformat;
        if (user.description !== undefined) patch.description = user.description;
        patch.timemodified = ctx.now();
        try {
          store.updateUser(existing, patch);
        } catch (e) {
          if (e instanceof UniqueViolation) throw dmlWrite();
          // Not recorded for an UPDATE; worded like the recorded INSERT (B07d) without the statement.
          if (e instanceof ValueTooLong) throw dmlWrite(`ERROR:  ${e.message}`);
          throw e;
        }
        if (user.password !== undefined && site.internalAuth.has(existing.auth)) {
          store.updateUser(existing, { password: hashPassword(user.password) });
        }
        if (!phpEmpty(user.interests)) store.updateUser(existing, { interests: interestsList(user.interests!) });
        saveProfile(ctx, existing, user.customfields);
        savePreferences(ctx, existing, user.preferences);
      } catch (e) {
        store.rollbackTo(mark);
        if (!(e instanceof WsException)) throw e;
        out.push({
          item: 'user', itemid: user.id, warningcode: e.errorcode ?? e.exceptionClass, message: e.message,
        });
      }
    }
    return { warnings: out };
  },
};

function lookupType(field: string): 'int' | 'raw' | 'username' | 'raw_trimmed' {
  switch (field) {
    case 'id': return 'int';
    case 'idnumber': return 'raw';
    case 'username': return 'username';
    default: return 'raw_trimmed';
  }
}

/** PHP 8 `$value != $cleaned` for the string/int pairs get_users_by_field compares. */
function looselyDifferent(value: string, cleaned: string | number): boolean {
  if (typeof cleaned === 'number') {
    return isNumericString(value) ? Number(value) !== cleaned : value !== String(cleaned);
  }
  if (isNumericString(value) && isNumericString(cleaned)) return Number(value) !== Number(cleaned);
  return value !== cleaned;
}

export const getUsersByField: WsFunction = {
  name: 'core_user_get_users_by_field',
  params: single({ field: value('alpha'), values: multiple(value('raw')) }),
  returns: multiple(userDescription),
  // Moodle pays per user found, not per value sent (bench-2.txt; cases-2 B35, B36).
  cost(p, ctx) {
    const values = p.values as unknown as string[];
    const field = p.field as unknown as string;
    const { store } = ctx;
    let found = 0;
    for (const v of values) {
      if (field === 'username') found += store.userByUsername(v) ? 1 : 0;
      else if (field === 'email') found += store.usersByEmailCI(v).length;
      else if (field === 'idnumber') found += store.usersByIdnumber(v).length;
      else if (field === 'id') found += store.users.has(phpIntval(v)) ? 1 : 0;
    }
    return { items: found, values: values.length, passwords: 0 };
  },
  execute(ctx, p: { field: string; values: string[] }) {
    const { store } = ctx;
    if (!['id', 'idnumber', 'username', 'email'].includes(p.field)) {
      throw codingException('invalid field parameter',
        `The search field '${p.field}' is not supported, look at the web service documentation`);
    }
    const type = lookupType(p.field);
    const cleaned = p.values.map((v) => {
      const c = cleanParam(v, type, ctx.site) as string | number;
      if (looselyDifferent(v, c)) {
        throw invalidParameter(`The field '${p.field}' value is invalid: ${v}(cleaned value: ${String(c)})`);
      }
      return c;
    });
    const found = new Map<number, UserRec>();
    for (const c of cleaned) {
      let matches: UserRec[] = [];
      if (p.field === 'id') {
        const u = store.users.get(c as number);
        if (u) matches = [u];
      } else if (p.field === 'username') {
        // get_records_list('user', 'username', ...) has no mnethostid filter; every account here is local.
        const u = store.userByUsername(String(c));
        if (u) matches = [u];
      } else if (p.field === 'idnumber') {
        matches = store.usersByIdnumber(String(c));
      } else {
        // PostgreSQL compares case-sensitively.
        matches = store.usersByEmailCI(String(c)).filter((u) => u.email === c);
      }
      for (const u of matches) found.set(u.id, u);
    }
    const out: Json[] = [];
    for (const u of [...found.values()].sort((a, b) => a.id - b.id)) {
      const d = userDetails(ctx, u);
      if (d && !phpEmpty(d[p.field])) out.push(d);
    }
    return out;
  },
};

/** SQL LIKE (case-insensitive, `\` escapes) as a RegExp. */
function likeToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) {
      re += pattern[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else if (c === '%') {
      re += '[\\s\\S]*';
    } else if (c === '_') {
      re += '[\\s\\S]';
    } else {
      re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`, 'iu');
}

export const getUsers: WsFunction = {
  name: 'core_user_get_users',
  params: single({ criteria: multiple(single({ key: value('alpha'), value: value('raw') })) }),
  returns: single({ users: multiple(userDescription), warnings: warnings() }),
  cost: (p) => ({ items: (p.criteria as Val[]).length, passwords: 0 }),
  execute(ctx, p: { criteria: { key: string; value: string }[] }) {
    const used = new Set<string>();
    const warningsOut: Json[] = [];
    const tests: ((u: UserRec) => boolean)[] = [(u) => u.deleted === 0];
    const searched: string[] = [];
    for (const c of p.criteria) {
      if (used.has(c.key)) {
        throw moodleException('keyalreadyset', '', undefined, `The key ${c.key} can only be sent once`);
      }
      used.add(c.key);
      switch (c.key) {
        case 'id': {
          const v = phpIntval(c.value);
          tests.push((u) => u.id === v);
          break;
        }
        case 'idnumber':
          tests.push((u) => u.idnumber === c.value);
          break;
        case 'username': {
          const v = String(cleanParam(c.value, 'username', ctx.site));
          tests.push((u) => u.username === v);
          break;
        }
        case 'auth':
          tests.push((u) => u.auth === String(cleanParam(c.value, 'auth', ctx.site)));
          break;
        case 'email':
        case 'firstname':
        case 'lastname': {
          const v = String(cleanParam(c.value, c.key === 'email' ? 'raw_trimmed' : 'notags', ctx.site));
          const re = likeToRegExp(v);
          const key = c.key;
          tests.push((u) => re.test(u[key]));
          break;
        }
        default:
          warningsOut.push({
            item: c.key, warningcode: 'invalidfieldparameter',
            message: `The search key '${c.key}' is not supported, look at the web service documentation`,
          });
          continue;
      }
      searched.push(c.key);
    }
    const users: Json[] = [];
    for (const u of [...ctx.store.users.values()].sort((a, b) => a.id - b.id)) {
      if (!tests.every((t) => t(u))) continue;
      const d = userDetails(ctx, u);
      // Returned only when every searched field is visible to the caller.
      if (d && searched.every((k) => !phpEmpty(d[k]))) users.push(d);
    }
    return { users, warnings: warningsOut };
  },
};
