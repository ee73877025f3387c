/**
 * Applying many people's plans in few calls. Creates, updates, enrolments and unenrolments of a
 * whole wave go to Moodle in batches of up to `batchSize` items across people. Moodle runs
 * create_users, enrol_users and unenrol_users in one transaction (one bad item rolls back the
 * whole batch): a refused batch is split in halves until the bad item stands alone, so one bad
 * person does not fail the others. update_users commits per user and reports per-user warnings.
 */
import { TerminalError, type BatchItem, type OperationResult } from '../../spi/index.js';
import { sendInBatches } from '../../lib/batching.js';
import { mapLimit } from '../../lib/concurrency.js';
import { MoodleError, type MoodleCreatedUser, type MoodleUpdateResult } from './client.js';
import type { Desired } from './desired.js';
import type { MoodleSession } from './read.js';
import type { Actual, Payload, UserUpdate } from './types.js';

type Item = BatchItem<Desired, Actual, Payload>;

/** Errors about the site or the token, not about the batch: splitting would only repeat them. */
const SITE_ERRORS = new Set(['invalidtoken', 'accessexception', 'wsaccessusersuspended', 'invalidrecord', 'servicenotavailable',
  'nopermissions', 'sitemaintenance', 'http_403', 'http_404']);

const refused = (e: unknown): boolean => e instanceof MoodleError && !SITE_ERRORS.has(e.errorcode);

function siteError(e: unknown): never {
  if (e instanceof MoodleError) {
    throw new TerminalError(`target moodle: ${e.wsfunction} refused by the site: ${e.errorcode}: ${e.message}`, e.errorcode);
  }
  throw e;
}

const reason = (e: unknown): string => {
  if (e instanceof MoodleError) return `${e.wsfunction}: ${e.errorcode}: ${e.message}${e.debuginfo ? ` (${e.debuginfo})` : ''}`;
  return (e as Error).message ?? String(e);
};

/**
 * The field and value an `invalidparameter` refused, as Moodle's debuginfo tells them (only with the
 * site's debugging on): `users => … username => … the value is "Dave.Accept", the server was
 * expecting "username" type`, `Missing required key in single structure: email`, `Username already
 * exists: x`, `Email address is invalid: x`. Undefined when it names none.
 */
export function refusedField(debuginfo: string | undefined): { field: string; value?: string; expected?: string } | undefined {
  if (!debuginfo) return undefined;
  let m = /(\w+) => Invalid parameter value detected: Invalid external api parameter: the value is "(.*)", the server was expecting "(\w+)" type/s.exec(debuginfo);
  if (m) return { field: m[1]!, value: m[2]!, expected: m[3]! };
  if ((m = /Missing required key in single structure: (\w+)/.exec(debuginfo))) return { field: m[1]! };
  if ((m = /^Username already exists: (.*)$/s.exec(debuginfo))) return { field: 'username', value: m[1]! };
  if ((m = /^Email address (?:already exists|is invalid): (.*)$/s.exec(debuginfo))) return { field: 'email', value: m[1]! };
  return undefined;
}

/** An invalidparameter's text naming the refused field and value, when debuginfo gives them. */
function invalidParameter(e: MoodleError): string | undefined {
  const f = refusedField(e.debuginfo);
  if (!f) return undefined;
  const what = f.value === undefined ? `${f.field} (missing)` : `${f.field} "${f.value}"`;
  return `${e.wsfunction} refused ${what}${f.expected ? `: not a valid ${f.expected} value` : ''} (${e.debuginfo})`;
}

/** The fields a refused user call sent, by name: Moodle without debugging names none of them. */
const sentFields = (u: object): string => Object.keys(u).filter((k) => k !== 'id').join(', ');

/** Moodle's internal auth plugins need a password or createpassword; the others (saml2, ldap...) none. */
const INTERNAL_AUTH = new Set(['manual', 'email', 'none', 'nologin']);

interface Ref { i: number; j: number }

/** An account by username and id, never by idnumber or e-mail (which may be sensitive). */
const accountName = (a: { username: string; id: number }): string => `${a.username || '(no username)'} (id ${a.id})`;

export async function applyBatch(items: Item[], s: MoodleSession): Promise<OperationResult[][]> {
  const cfg = s.cfg;
  const results: OperationResult[][] = items.map((it) => it.plan.operations.map(() => ({ outcome: 'FAILED' as const, error: 'not applied' })));
  const who = (i: number) => {
    const it = items[i]!;
    const name = it.desired?.user.username ?? it.actual.account?.username;
    return `person ${it.person.id}${name ? ` (username ${name})` : ''}`;
  };
  const ok = (r: Ref, accountId?: string) => { results[r.i]![r.j] = { outcome: 'APPLIED', ...(accountId ? { accountId } : {}) }; };
  const fail = (r: Ref, error: string) => { results[r.i]![r.j] = { outcome: 'FAILED', error }; };

  const updates: { refs: Ref[]; i: number; userid: number; fields: UserUpdate }[] = [];
  const creates: { ref: Ref; payload: Extract<Payload, { action: 'create' }> }[] = [];
  const enrols: { ref: Ref; payload: Extract<Payload, { action: 'enrol' }> }[] = [];
  const unassigns: { ref: Ref; payload: Extract<Payload, { action: 'unassign' }> }[] = [];
  const unenrols: { ref: Ref; payload: Extract<Payload, { action: 'unenrol' }> }[] = [];
  items.forEach((it, i) => {
    let update: (typeof updates)[number] | undefined;
    it.plan.operations.forEach((op, j) => {
      const p = op.payload!;
      const ref = { i, j };
      switch (p.action) {
        case 'create': creates.push({ ref, payload: p }); break;
        case 'enrol': enrols.push({ ref, payload: p }); break;
        case 'unenrol': unenrols.push({ ref, payload: p }); break;
        case 'unassign': unassigns.push({ ref, payload: p }); break;
        case 'wait': results[i]![j] = { outcome: 'SKIPPED' }; break;
        case 'update': {
          // One item per user: update_users reports warnings by user id, so two items for one user could not be told apart.
          if (!update) updates.push(update = { refs: [], i, userid: p.userid, fields: {} });
          update.refs.push(ref);
          const cf = [...(update.fields.customfields ?? []), ...(p.fields.customfields ?? [])];
          update.fields = { ...update.fields, ...p.fields, ...(cf.length ? { customfields: cf } : {}) };
          break;
        }
      }
    });
  });

  const sendBatches = async <T>(list: T[], send: (batch: T[]) => Promise<void>, onRefused: (t: T, e: unknown) => void) => {
    const refusals = await sendInBatches(list, { size: cfg.batchSize, concurrency: cfg.connections, send, refused }).catch(siteError);
    for (const r of refusals) onRefused(r.item, r.error);
  };

  const runUpdates = () => sendBatches(updates, async (batch) => {
    const r = await s.ws.call<MoodleUpdateResult | null>('core_user_update_users', { users: batch.map((u) => ({ id: u.userid, ...u.fields })) });
    const warned = new Map<number, string>();
    for (const w of r?.warnings ?? []) if (w.itemid !== undefined) warned.set(w.itemid, `core_user_update_users: ${w.warningcode}: ${w.message}`);
    for (const u of batch) {
      const w = warned.get(u.userid);
      for (const ref of u.refs) (w ? fail(ref, `${who(u.i)}: ${w}`) : ok(ref, String(u.userid)));
    }
  }, (u, e) => refusedUpdates.push({ u, e }));
  const refusedUpdates: { u: (typeof updates)[number]; e: unknown }[] = [];
  /** An update refused alone (the batch was bisected down to it): with invalidparameter, the field and value when Moodle's debuginfo names them, else the fields sent. */
  const explainUpdates = () => {
    for (const { u, e } of refusedUpdates) {
      const why = e instanceof MoodleError && e.errorcode === 'invalidparameter'
        ? invalidParameter(e) ?? `${reason(e)}; Moodle names the field only with its debugging on; this person's update alone was refused, sending ${sentFields(u.fields)}`
        : reason(e);
      for (const ref of u.refs) fail(ref, `${who(u.i)}: ${why}`);
    }
  };

  const created = new Map<number, number>(); // item index → new Moodle user id
  const newUser = (d: Extract<Payload, { action: 'create' }>['user']) => ({
    username: d.username, auth: d.auth, firstname: d.firstname, lastname: d.lastname, email: d.email,
    ...(INTERNAL_AUTH.has(d.auth) ? { createpassword: true } : {}),
    ...(d.idnumber ? { idnumber: d.idnumber } : {}),
    ...(d.department ? { department: d.department } : {}),
    ...(d.institution ? { institution: d.institution } : {}),
    ...(cfg.heldBy.studentIdField && d.studentId ? { customfields: [{ type: cfg.heldBy.studentIdField, value: d.studentId }] } : {}),
  });
  const runCreates = () => sendBatches(creates, async (batch) => {
    const r = await s.ws.call<MoodleCreatedUser[]>('core_user_create_users', { users: batch.map(({ payload: { user: d } }) => newUser(d)) });
    batch.forEach((c, k) => {
      const id = r[k]?.id;
      if (id === undefined) return fail(c.ref, `${who(c.ref.i)}: core_user_create_users returned no id`);
      created.set(c.ref.i, id);
      ok(c.ref, String(id));
    });
  }, (c, e) => refusedCreates.push({ c, e }));
  const refusedCreates: { c: (typeof creates)[number]; e: unknown }[] = [];
  /**
   * Moodle refuses a username or e-mail that another account holds with a bare invalidparameter
   * (the detail only with debugging on): look both up, so the error names the account that holds it.
   */
  const explainCreates = () => mapLimit(refusedCreates, cfg.connections, async ({ c, e }) => {
    const d = c.payload.user;
    let why = reason(e);
    if (e instanceof MoodleError && e.errorcode === 'invalidparameter') {
      const [byName, byMail] = await Promise.all([s.findUsers('username', d.username), s.findUsers('email', d.email)]);
      const held = [
        ...byName.map((a) => `the username ${d.username} is already held by the Moodle account ${accountName(a)}`),
        ...byMail.map((a) => `the e-mail address is already held by the Moodle account ${accountName(a)}`),
      ];
      const named = invalidParameter(e);
      if (held.length) why = `core_user_create_users refused: ${held.join('; ')}`;
      else if (named) why = named;
      else why = `${reason(e)}; Moodle names the field only with its debugging on; this person's account alone was refused, sending ${sentFields(newUser(d))}`;
    }
    fail(c.ref, `${who(c.ref.i)}: ${why}`);
  });

  const runEnrols = async () => {
    const ready: { ref: Ref; userid: number; payload: Extract<Payload, { action: 'enrol' }> }[] = [];
    for (const e of enrols) {
      const userid = e.payload.userid ?? created.get(e.ref.i);
      if (userid === undefined) fail(e.ref, `${who(e.ref.i)}: not enrolled in ${e.payload.course}: the Moodle account was not created`);
      else ready.push({ ...e, userid });
    }
    // A person's enrolments in one call: Moodle makes parallel calls that touch the same user wait for each other.
    ready.sort((a, b) => a.userid - b.userid);
    const refusedEnrols: { e: (typeof ready)[number]; err: unknown }[] = [];
    await sendBatches(ready, async (batch) => {
      await s.ws.call('enrol_manual_enrol_users', { enrolments: batch.map((e) => ({ roleid: e.payload.roleid, userid: e.userid, courseid: e.payload.courseid })) });
      for (const e of batch) {
        ok(e.ref);
        s.noteRoles(e.payload.courseid, e.userid, (roles) => (roles.includes(e.payload.roleid) ? roles : [...roles, e.payload.roleid]));
      }
    }, (e, err) => refusedEnrols.push({ e, err }));
    // An error does not always mean nothing was saved (with mail failing Moodle saves the enrolment,
    // then answers "Message was not sent."): read the course again before reporting a failure.
    await mapLimit(refusedEnrols, cfg.connections, async ({ e, err }) => {
      const roles = await s.roster(e.payload.courseid, true).then((r) => r.get(e.userid), () => undefined);
      if (roles?.includes(e.payload.roleid)) return ok(e.ref);
      // The course may have been deleted and made again under a new id: look it up afresh next time.
      s.forgetCourse(e.payload.course);
      fail(e.ref, `${who(e.ref.i)}: enrol in ${e.payload.course}: ${reason(err)}`);
    });
  };

  const runUnassigns = () => sendBatches(unassigns, async (batch) => {
    await s.ws.call('core_role_unassign_roles', {
      unassignments: batch.map((u) => ({ roleid: u.payload.roleid, userid: u.payload.userid, contextlevel: 'course', instanceid: u.payload.courseid })),
    });
    for (const u of batch) {
      ok(u.ref);
      s.noteRoles(u.payload.courseid, u.payload.userid, (roles) => roles.filter((r) => r !== u.payload.roleid));
    }
  }, (u, err) => fail(u.ref, `${who(u.ref.i)}: take role ${u.payload.roleid} away in ${u.payload.course}: ${reason(err)}`));

  const runUnenrols = () => sendBatches(unenrols, async (batch) => {
    await s.ws.call('enrol_manual_unenrol_users', { enrolments: batch.map((e) => ({ userid: e.payload.userid, courseid: e.payload.courseid })) });
    for (const e of batch) {
      ok(e.ref);
      s.noteRoles(e.payload.courseid, e.payload.userid, () => null);
    }
  }, (e, err) => fail(e.ref, `${who(e.ref.i)}: unenrol from ${e.payload.course}: ${reason(err)}`));

  // All settled before a failure is passed on: the runtime's retry re-reads, and must not overlap calls still in flight.
  // A role is taken away only after the new one was given (an enrolment keeps at least one role).
  const settled = await Promise.allSettled([
    runUpdates().then(explainUpdates), runCreates().then(explainCreates).then(runEnrols).then(runUnassigns), runUnenrols(),
  ]);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results;
}
