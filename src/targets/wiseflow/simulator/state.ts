/**
 * The WISEflow licence a simulator holds: its roles, user data types and settings, and its users
 * with their emails, roles and user data. Every rule the API applies to a change lives here, apart
 * from HTTP, so the server (index.ts) only maps requests to these methods and errors to statuses.
 *
 * Behaviours the vendor does not document (REFERENCE §3.6 [UNKNOWN]) and what this simulator does:
 * - POST /license/user matches an existing user on any supplied external id of a licence-unique
 *   user data type, else (with requireUniqueEmails) on any supplied email; a match is updated
 *   (names, phone, language) and given the emails, roles and external ids it lacks (merge, never
 *   replace). No match creates a user: a changed external id therefore makes a duplicate.
 * - POST /users/search returns the users holding ANY of the given (type, value) pairs; each
 *   user's `emails` lists the primary first.
 * - A new primary email is activated at once on an SSO licence and left deactivated (an
 *   activation email "sent") on a standard-login licence.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export interface LicenseRole { roleId: number; name: string; isProtected: boolean; relationId: number }
export interface UserDataType {
  id: number; name: string; pattern: string; supportsMultipleValues: boolean; protected: boolean; visible: boolean;
  /** Unique across the licence's users. */
  unique: boolean;
  /** Every user must keep one value: its last value cannot be deleted. */
  required: boolean;
}
export interface License {
  roles: LicenseRole[];
  userDataTypes: UserDataType[];
  requireUniqueEmails: boolean;
  loginMethod: 'sso' | 'standard';
  defaultLanguage: string;
  /** DELETE /users/{id}: off unless UNIwise support enables it. */
  userDeletionEnabled: boolean;
}

export interface EmailRec { emailId: number; email: string; primary: boolean; fromExternalSource: boolean; receiveNotifications: boolean; activated: boolean }
export interface UserRoleRec { userRoleId: number; licenseRoleId: number }
export interface UserDataRec { userDataId: number; userDataTypeId: number; value: string }
export interface UserRec {
  id: number; firstName: string; lastName: string; phone: string; language: string; loginDeactivated: boolean;
  creationDate: number; lastLogin: number | null;
  emails: EmailRec[]; roles: UserRoleRec[]; userData: UserDataRec[];
}

export interface StateData { license: License; users: UserRec[]; seq: { user: number; email: number; role: number; data: number } }

/** A refusal as WISEflow words it: the status and the reasons of `general-api-error-response`. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly reasons: { reason: string; message: string }[] = []) {
    super(message);
  }
}

/** What an array endpoint did: the items that succeeded and the refusals of the others. */
export interface PartialResult<T> { done: T[]; refused: { reason: string; message: string }[] }

/** A licence like a Norwegian university's: the six standard roles (Participant protected) and its user data types. */
export function defaultLicense(): License {
  return {
    roles: [
      { roleId: 1, name: 'Participant', isProtected: true, relationId: 1 },
      { roleId: 2, name: 'Assessor', isProtected: false, relationId: 2 },
      { roleId: 3, name: 'Manager', isProtected: false, relationId: 4 },
      { roleId: 4, name: 'Invigilator', isProtected: false, relationId: 16 },
      { roleId: 5, name: 'Reviewer', isProtected: false, relationId: 32 },
      { roleId: 6, name: 'Author', isProtected: false, relationId: 64 },
      { roleId: 7, name: 'Licence administrator', isProtected: true, relationId: 128 },
    ],
    userDataTypes: [
      { id: 529, name: 'Personal Organisation Id', pattern: '^[^@\\s]+@[^@\\s]+$', supportsMultipleValues: false, protected: false, visible: true, unique: true, required: false },
      { id: 530, name: 'Birth Number', pattern: '^[0-9]{11}$', supportsMultipleValues: false, protected: true, visible: false, unique: true, required: false },
      { id: 531, name: 'Student Number', pattern: '^[0-9]{1,10}$', supportsMultipleValues: false, protected: false, visible: true, unique: false, required: false },
      { id: 532, name: 'Portal Person Id', pattern: '^[0-9a-fA-F-]{36}$', supportsMultipleValues: false, protected: false, visible: false, unique: false, required: false },
    ],
    requireUniqueEmails: true,
    loginMethod: 'sso',
    defaultLanguage: 'nb',
    userDeletionEnabled: false,
  };
}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const LANGUAGE = /^[a-z]{2}(_[A-Z]{2})?$/;

export class Licence {
  readonly data: StateData;
  /** Accepted writes, and creates per key (the user's first external id value, else its first email). */
  writes = 0;
  readonly createsByKey = new Map<string, number>();

  constructor(data?: StateData, private readonly file?: string) {
    this.data = data ?? { license: defaultLicense(), users: [], seq: { user: 1000, email: 5000, role: 9000, data: 20000 } };
  }

  static load(file: string | undefined, license?: License): Licence {
    if (file && existsSync(file)) return new Licence(JSON.parse(readFileSync(file, 'utf8')) as StateData, file);
    const l = new Licence(undefined, file);
    if (license) l.data.license = license;
    return l;
  }

  save(): void {
    if (this.file) writeFileSync(this.file, JSON.stringify(this.data));
  }

  get license(): License { return this.data.license; }

  /**
   * Who holds a user-data value or an email, and users by id: the uniqueness checks, the upsert's
   * match and the search look keys up here instead of scanning every user (a bench's licence holds
   * 10,000 of them, and the server's time is the latency model's, not the scans'). An entry is
   * added wherever a value is set and checked against the user when read, so a value removed or
   * changed leaves a stale entry, never a missing one.
   */
  private idx: { byId: Map<number, UserRec>; data: Map<string, Set<UserRec>>; email: Map<string, Set<UserRec>> } | undefined;

  private get index() {
    if (!this.idx) {
      this.idx = { byId: new Map(), data: new Map(), email: new Map() };
      for (const u of this.data.users) this.note(u);
    }
    return this.idx;
  }

  /** Adds the user's id, user data and emails to the index. */
  private note(u: UserRec): void {
    const i = this.index;
    i.byId.set(u.id, u);
    for (const d of u.userData) this.noteData(u, d.userDataTypeId, d.value);
    for (const m of u.emails) this.noteEmail(u, m.email);
  }

  private noteData(u: UserRec, typeId: number, value: string): void {
    const k = `${typeId}\u0000${value}`;
    const m = this.index.data;
    (m.get(k) ?? m.set(k, new Set()).get(k)!).add(u);
  }

  private noteEmail(u: UserRec, email: string): void {
    const k = email.toLowerCase();
    const m = this.index.email;
    (m.get(k) ?? m.set(k, new Set()).get(k)!).add(u);
  }

  /** The users holding (typeId, value) now, in id order. */
  private holders(typeId: number, value: string): UserRec[] {
    const c = this.index.data.get(`${typeId}\u0000${value}`);
    if (!c) return [];
    return [...c].filter((u) => this.index.byId.get(u.id) === u && u.userData.some((d) => d.userDataTypeId === typeId && d.value === value)).sort((a, b) => a.id - b.id);
  }

  /** The users holding the address now (case-insensitive), in id order. */
  private emailHolders(email: string): UserRec[] {
    const e = email.toLowerCase();
    const c = this.index.email.get(e);
    if (!c) return [];
    return [...c].filter((u) => this.index.byId.get(u.id) === u && u.emails.some((m) => m.email.toLowerCase() === e)).sort((a, b) => a.id - b.id);
  }

  user(id: number): UserRec {
    const u = this.index.byId.get(id);
    if (!u) throw new ApiError(404, `User ${id} not found`, [{ reason: 'notFound', message: `User ${id} not found` }]);
    return u;
  }

  role(id: number): LicenseRole | undefined {
    return this.license.roles.find((r) => r.roleId === id);
  }

  dataType(id: number): UserDataType | undefined {
    return this.license.userDataTypes.find((t) => t.id === id);
  }

  private emailTaken(email: string, except?: number): boolean {
    const e = email.toLowerCase();
    return this.license.requireUniqueEmails && this.emailHolders(e).some((u) => u.id !== except);
  }

  private valueTaken(typeId: number, value: string, except?: number): boolean {
    return this.holders(typeId, value).some((u) => u.id !== except);
  }

  /** Why this (type, value) cannot be given to user `uid` (undefined: it can). */
  private dataRefusal(uid: number | undefined, typeId: number, value: unknown): { reason: string; message: string } | undefined {
    const t = this.dataType(typeId);
    if (!t) return { reason: 'invalidUserDataType', message: `User data type ${typeId} does not exist on this license` };
    if (typeof value !== 'string' && typeof value !== 'number') return { reason: 'invalidValue', message: `Value for user data type ${typeId} is missing` };
    if (!new RegExp(t.pattern).test(String(value))) return { reason: 'invalidValue', message: `Value does not match the pattern ${t.pattern} of user data type ${t.name}` };
    if (t.unique && this.valueTaken(typeId, String(value), uid)) return { reason: 'notUnique', message: `Value of user data type ${t.name} is already used by another user` };
    return undefined;
  }

  private nextId(k: keyof StateData['seq']): number {
    return ++this.data.seq[k];
  }

  /** POST /license/user: create, or update the user the matching rule finds (see the file's comment). */
  upsert(body: Record<string, unknown>): { status: 200 | 201; userId: number } {
    const firstName = body.firstName, lastName = body.lastName, emails = body.emails, roles = body.roles;
    if (typeof firstName !== 'string' || !firstName.trim()) throw new ApiError(400, 'firstName is required');
    if (typeof lastName !== 'string' || !lastName.trim()) throw new ApiError(400, 'lastName is required');
    if (!Array.isArray(emails) || emails.some((e) => typeof e !== 'string' || !EMAIL.test(e))) throw new ApiError(400, 'emails must be a list of valid email addresses');
    if (!Array.isArray(roles) || roles.some((r) => typeof r !== 'number')) throw new ApiError(400, 'roles must be a list of license role ids');
    const externalIds = (body.externalIds ?? []) as { userDataTypeId: number; value: string }[];
    if (!Array.isArray(externalIds)) throw new ApiError(400, 'externalIds must be a list');
    const language = body.language === undefined ? undefined : String(body.language);
    if (language !== undefined && !LANGUAGE.test(language)) throw new ApiError(400, `language ${language} is not an ISO 639-1 code`);
    for (const r of roles as number[]) {
      const role = this.role(r);
      if (!role) throw new ApiError(400, `License role ${r} does not exist on this license`);
      if (role.isProtected) throw new ApiError(400, `License role ${role.name} is protected and cannot be added`);
    }
    const match = this.matchUpsert(externalIds, emails as string[]);
    for (const x of externalIds) {
      const why = this.dataRefusal(match?.id, x.userDataTypeId, x.value);
      if (why) throw new ApiError(400, why.message, [why]);
    }
    for (const e of emails as string[]) if (this.emailTaken(e, match?.id)) throw new ApiError(400, `Email ${e} is used by another user`);
    if (match) {
      match.firstName = firstName;
      match.lastName = lastName;
      if (typeof body.phone === 'string') match.phone = body.phone;
      if (language) match.language = language;
      this.addEmails(match, (emails as string[]).filter((e) => !match.emails.some((m) => m.email.toLowerCase() === e.toLowerCase())).map((email) => ({ email })));
      this.addRoles(match, (roles as number[]).map((licenseRoleId) => ({ licenseRoleId })));
      this.addUserData(match, externalIds);
      return { status: 200, userId: match.id };
    }
    const u: UserRec = {
      id: this.nextId('user'), firstName, lastName, phone: typeof body.phone === 'string' ? body.phone : '',
      language: language ?? this.license.defaultLanguage, loginDeactivated: false,
      creationDate: Math.floor(Date.now() / 1000), lastLogin: null, emails: [], roles: [], userData: [],
    };
    (emails as string[]).forEach((email, i) => u.emails.push({
      emailId: this.nextId('email'), email, primary: i === 0, fromExternalSource: false, receiveNotifications: true,
      activated: i > 0 || this.license.loginMethod === 'sso',
    }));
    for (const r of new Set(roles as number[])) u.roles.push({ userRoleId: this.nextId('role'), licenseRoleId: r });
    for (const x of externalIds) u.userData.push({ userDataId: this.nextId('data'), userDataTypeId: x.userDataTypeId, value: String(x.value) });
    this.data.users.push(u);
    this.note(u);
    const key = externalIds[0] ? `${externalIds[0].userDataTypeId}:${externalIds[0].value}` : String(emails[0] ?? u.id);
    this.createsByKey.set(key, (this.createsByKey.get(key) ?? 0) + 1);
    return { status: 201, userId: u.id };
  }

  private matchUpsert(externalIds: { userDataTypeId: number; value: string }[], emails: string[]): UserRec | undefined {
    for (const x of externalIds) {
      if (!this.dataType(x.userDataTypeId)?.unique) continue;
      const u = this.holders(x.userDataTypeId, String(x.value))[0];
      if (u) return u;
    }
    if (!this.license.requireUniqueEmails) return undefined;
    return emails.flatMap((e) => this.emailHolders(e)).sort((a, b) => a.id - b.id)[0];
  }

  /** POST /users/search: users holding any of the pairs. */
  search(pairs: { id: number; value: string }[]): UserRec[] {
    // By the index, whatever the number of users (a bench searches 10,000 users 50 values at a time).
    const found = new Map<number, UserRec>();
    for (const p of pairs) for (const u of this.holders(p.id, String(p.value))) found.set(u.id, u);
    return [...found.values()].sort((a, b) => a.id - b.id);
  }

  /** PUT /users/{id}: the five fields, all required. */
  put(id: number, body: Record<string, unknown>): UserRec {
    const u = this.user(id);
    for (const f of ['firstName', 'lastName', 'phone', 'language'] as const) if (typeof body[f] !== 'string') throw new ApiError(400, `${f} is required`);
    if (typeof body.loginDeactivated !== 'boolean') throw new ApiError(400, 'loginDeactivated is required');
    if (!(body.firstName as string).trim() || !(body.lastName as string).trim()) throw new ApiError(400, 'firstName and lastName cannot be empty');
    if (!LANGUAGE.test(body.language as string)) throw new ApiError(400, `language ${String(body.language)} is not a language code`);
    Object.assign(u, { firstName: body.firstName, lastName: body.lastName, phone: body.phone, language: body.language, loginDeactivated: body.loginDeactivated });
    return u;
  }

  deleteUser(id: number): void {
    this.user(id);
    if (!this.license.userDeletionEnabled) throw new ApiError(403, 'License setting not enabled');
    this.data.users = this.data.users.filter((u) => u.id !== id);
    this.index.byId.delete(id);
  }

  /** POST emails: the request may not hold one address twice or two primaries; each item succeeds or is refused alone. */
  addEmails(u: UserRec, items: { email?: unknown; primary?: unknown; receiveNotifications?: unknown }[]): PartialResult<EmailRec> {
    const seen = new Set<string>();
    if (items.filter((i) => i.primary === true).length > 1) throw new ApiError(400, 'Only one email can be primary');
    for (const i of items) {
      const e = String(i.email ?? '').toLowerCase();
      if (seen.has(e)) throw new ApiError(400, `Email ${String(i.email)} appears twice in the request`);
      seen.add(e);
    }
    const out: PartialResult<EmailRec> = { done: [], refused: [] };
    for (const i of items) {
      const email = String(i.email ?? '');
      if (!EMAIL.test(email)) { out.refused.push({ reason: 'invalidEmail', message: `${email} is not a valid email address` }); continue; }
      if (u.emails.some((m) => m.email.toLowerCase() === email.toLowerCase())) { out.refused.push({ reason: 'duplicateEmail', message: `The user already has ${email}` }); continue; }
      if (this.emailTaken(email, u.id)) { out.refused.push({ reason: 'notUnique', message: `Email ${email} is used by another user` }); continue; }
      const primary = i.primary === true;
      if (primary) for (const m of u.emails) m.primary = false;
      const rec: EmailRec = {
        emailId: this.nextId('email'), email, primary, fromExternalSource: false,
        receiveNotifications: i.receiveNotifications !== false, activated: !primary || this.license.loginMethod === 'sso',
      };
      u.emails.push(rec);
      this.noteEmail(u, email);
      out.done.push(rec);
    }
    return out;
  }

  /** PATCH emails: change an address or make it primary (the others lose primary). */
  patchEmails(u: UserRec, items: { emailId?: unknown; email?: unknown; primary?: unknown }[]): PartialResult<EmailRec> {
    if (items.filter((i) => i.primary === true).length > 1) throw new ApiError(400, 'Only one email can be primary');
    const out: PartialResult<EmailRec> = { done: [], refused: [] };
    for (const i of items) {
      const rec = u.emails.find((m) => m.emailId === i.emailId);
      if (!rec) { out.refused.push({ reason: 'notFound', message: `Email ${String(i.emailId)} not found on the user` }); continue; }
      if (i.email !== undefined && i.email !== rec.email) {
        const email = String(i.email);
        if (!EMAIL.test(email)) { out.refused.push({ reason: 'invalidEmail', message: `${email} is not a valid email address` }); continue; }
        if (u.emails.some((m) => m !== rec && m.email.toLowerCase() === email.toLowerCase()) || this.emailTaken(email, u.id)) {
          out.refused.push({ reason: 'notUnique', message: `Email ${email} is already in use` }); continue;
        }
        rec.email = email;
        this.noteEmail(u, email);
      }
      if (i.primary === true && !rec.primary) {
        for (const m of u.emails) m.primary = false;
        rec.primary = true;
        // A deactivated email made primary: an activation email is sent; it stays deactivated until used.
      }
      out.done.push(rec);
    }
    return out;
  }

  deleteEmail(u: UserRec, emailId: number): void {
    const rec = u.emails.find((m) => m.emailId === emailId);
    if (!rec) throw new ApiError(404, `Email ${emailId} not found on the user`);
    if (rec.primary) throw new ApiError(400, 'The primary email cannot be deleted', [{ reason: 'primaryEmail', message: 'Make another email primary first' }]);
    u.emails = u.emails.filter((m) => m !== rec);
  }

  /** POST roles: idempotent; a protected or unknown role is refused alone. */
  addRoles(u: UserRec, items: { licenseRoleId?: unknown }[]): PartialResult<UserRoleRec> {
    const out: PartialResult<UserRoleRec> = { done: [], refused: [] };
    for (const i of items) {
      const role = this.role(Number(i.licenseRoleId));
      if (!role) { out.refused.push({ reason: 'invalidRole', message: `License role ${String(i.licenseRoleId)} does not exist on this license` }); continue; }
      if (role.isProtected) { out.refused.push({ reason: 'protectedRole', message: `License role ${role.name} is protected` }); continue; }
      let rec = u.roles.find((r) => r.licenseRoleId === role.roleId);
      if (!rec) u.roles.push((rec = { userRoleId: this.nextId('role'), licenseRoleId: role.roleId }));
      out.done.push(rec);
    }
    return out;
  }

  deleteRole(u: UserRec, userRoleId: number): void {
    const rec = u.roles.find((r) => r.userRoleId === userRoleId);
    if (!rec) throw new ApiError(404, `User role ${userRoleId} not found`);
    if (this.role(rec.licenseRoleId)?.isProtected) throw new ApiError(400, 'A protected role cannot be removed');
    u.roles = u.roles.filter((r) => r !== rec);
  }

  /** POST user-data: a type the user has (single-valued) is updated; duplicates in the request: the first counts. */
  addUserData(u: UserRec, items: { userDataTypeId?: unknown; value?: unknown }[]): PartialResult<UserDataRec> {
    const out: PartialResult<UserDataRec> = { done: [], refused: [] };
    const seen = new Set<string>();
    for (const i of items) {
      const typeId = Number(i.userDataTypeId);
      const k = `${typeId}\u0000${String(i.value)}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const why = this.dataRefusal(u.id, typeId, i.value);
      if (why) { out.refused.push(why); continue; }
      const t = this.dataType(typeId)!;
      const value = String(i.value);
      let rec = u.userData.find((d) => d.userDataTypeId === typeId && (!t.supportsMultipleValues || d.value === value));
      if (rec) rec.value = value;
      else u.userData.push((rec = { userDataId: this.nextId('data'), userDataTypeId: typeId, value }));
      this.noteData(u, typeId, value);
      out.done.push(rec);
    }
    return out;
  }

  patchUserData(u: UserRec, items: { userDataId?: unknown; value?: unknown }[]): PartialResult<UserDataRec> {
    const ids = items.map((i) => i.userDataId);
    if (new Set(ids).size !== ids.length) throw new ApiError(400, 'The same userDataId appears twice in the request');
    const out: PartialResult<UserDataRec> = { done: [], refused: [] };
    for (const i of items) {
      const rec = u.userData.find((d) => d.userDataId === i.userDataId);
      if (!rec) { out.refused.push({ reason: 'notFound', message: `User data ${String(i.userDataId)} not found on the user` }); continue; }
      const why = this.dataRefusal(u.id, rec.userDataTypeId, i.value);
      if (why) { out.refused.push(why); continue; }
      rec.value = String(i.value);
      this.noteData(u, rec.userDataTypeId, rec.value);
      out.done.push(rec);
    }
    return out;
  }

  deleteUserData(u: UserRec, userDataId: number): void {
    const rec = u.userData.find((d) => d.userDataId === userDataId);
    if (!rec) throw new ApiError(404, `User data ${userDataId} not found`);
    if (this.dataType(rec.userDataTypeId)?.required && u.userData.filter((d) => d.userDataTypeId === rec.userDataTypeId).length === 1) {
      throw new ApiError(400, 'The last value of a required user data type cannot be deleted');
    }
    u.userData = u.userData.filter((d) => d !== rec);
  }

  /** The user as /users/search shows it. */
  searchView(u: UserRec) {
    const emails = [...u.emails].sort((a, b) => Number(b.primary) - Number(a.primary)).map((m) => m.email);
    return {
      id: u.id, firstName: u.firstName, lastName: u.lastName, phone: u.phone, language: u.language, emails,
      roles: u.roles.map((r) => ({ name: this.role(r.licenseRoleId)?.name ?? '', id: r.licenseRoleId })),
      dataTypes: u.userData.map((d) => ({ id: d.userDataTypeId, name: this.dataType(d.userDataTypeId)?.name ?? '', value: d.value })),
      deactivated: u.loginDeactivated,
    };
  }

  /** The user as the older bare endpoints (/user/{id}/info) show it. */
  infoView(u: UserRec) {
    const byName = new Map<string, number[]>();
    for (const r of u.roles) {
      const role = this.role(r.licenseRoleId);
      if (role) byName.set(role.name, [...(byName.get(role.name) ?? []), role.relationId]);
    }
    return {
      id: u.id, firstName: u.firstName, lastName: u.lastName, phone: u.phone, language: u.language,
      externalIds: u.userData.map((d) => ({ name: this.dataType(d.userDataTypeId)?.name ?? '', value: d.value })),
      roles: [...byName].map(([name, relationIds]) => ({ name, relationIds })),
      emails: [...u.emails].sort((a, b) => Number(b.primary) - Number(a.primary)).map((m) => m.email),
    };
  }

  basicView(u: UserRec) {
    return { firstName: u.firstName, lastName: u.lastName, phone: u.phone, language: u.language, loginDeactivated: u.loginDeactivated, lastLogin: u.lastLogin, creationDate: u.creationDate };
  }
}
