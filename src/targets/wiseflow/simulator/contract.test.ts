/**
 * The simulator's contract over HTTP: each point of REFERENCE §3.8 (auth, rate limits, the two
 * response shapes, partial success, licence roles and user data types, email rules, login
 * deactivation, delete refused) and what the simulator adds (faults, state across restarts).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultLicense, startWiseflowSimulator, type WiseflowSimulator } from './index.js';

interface Res { status: number; headers: Record<string, string | string[] | undefined>; body: any } // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(sim: WiseflowSimulator, method: string, path: string, o: { json?: unknown; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Res> {
  const headers: Record<string, string> = { 'x-client-name': 'contract', ...o.headers };
  let body: string | undefined;
  if (o.json !== undefined) { body = JSON.stringify(o.json); headers['content-type'] = 'application/json'; }
  if (o.form) { body = new URLSearchParams(o.form).toString(); headers['content-type'] = 'application/x-www-form-urlencoded'; }
  const r = await request(`${sim.url}${path}`, { method: method as 'GET', headers, body });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, body: text ? JSON.parse(text) : null };
}

const KEY = { 'x-api-key': 'contract-key-0123' };
const api = (sim: WiseflowSimulator, method: string, path: string, json?: unknown) => call(sim, method, path, { headers: KEY, ...(json === undefined ? {} : { json }) });

describe('WISEflow simulator', () => {
  let sim: WiseflowSimulator;
  beforeAll(async () => {
    const license = defaultLicense();
    license.loginMethod = 'standard';
    sim = await startWiseflowSimulator({ clients: [{ id: 'c1', secret: 's1-secret' }], apiKeys: ['contract-key-0123'], license, rateLimits: false, tokenTtlSeconds: 1 });
  });
  afterAll(async () => sim.close());

  it('issues OAuth2 tokens for client credentials that expire; refuses a bad secret and an absent credential', async () => {
    const bad = await call(sim, 'POST', '/oauth2/token', { form: { grant_type: 'client_credentials', client_id: 'c1', client_secret: 'nope' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_client');
    const ok = await call(sim, 'POST', '/oauth2/token', { form: { grant_type: 'client_credentials', client_id: 'c1', client_secret: 's1-secret' } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ expires_in: 1, token_type: 'bearer', scope: '' });
    const auth = { authorization: `Bearer ${ok.body.access_token}` };
    expect((await call(sim, 'GET', '/license/roles', { headers: auth })).status).toBe(200);
    expect((await call(sim, 'GET', '/license/roles')).status).toBe(401);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await call(sim, 'GET', '/license/roles', { headers: auth })).status).toBe(401);
    expect((await call(sim, 'GET', '/license/roles', { headers: KEY })).status).toBe(200);
  });

  it('wraps /users and /license/roles in the envelope, and answers /license/user and /user/* bare', async () => {
    const roles = await api(sim, 'GET', '/license/roles');
    expect(roles.body).toMatchObject({ success: true, error: null });
    expect(roles.body.data).toContainEqual({ roleId: 1, name: 'Participant', isProtected: true });
    const made = await api(sim, 'POST', '/license/user', { firstName: 'Ola', lastName: 'Nordmann', emails: ['ola@uni.example.no'], roles: [2], externalIds: [{ userDataTypeId: 529, value: 'ola@uni.example.no' }] });
    expect(made.status).toBe(201);
    expect(Object.keys(made.body)).toEqual(['userId']);
    const again = await api(sim, 'POST', '/license/user', { firstName: 'Ola', lastName: 'Nordmann', emails: ['ola@uni.example.no'], roles: [2], externalIds: [{ userDataTypeId: 529, value: 'ola@uni.example.no' }] });
    expect(again).toMatchObject({ status: 200, body: { userId: made.body.userId } });
    const info = await api(sim, 'GET', `/user/${made.body.userId}/info`);
    expect(info.body).toMatchObject({ id: made.body.userId, roles: [{ name: 'Assessor', relationIds: [2] }], emails: ['ola@uni.example.no'] });
    const basic = await api(sim, 'GET', `/users/${made.body.userId}`);
    expect(basic.body).toMatchObject({ success: true, data: { firstName: 'Ola', loginDeactivated: false } });
    const missing = await api(sim, 'GET', '/users/999999');
    expect(missing).toMatchObject({ status: 404, body: { success: false, data: null, error: { code: 404 } } });
    expect((await api(sim, 'POST', '/license/user', { firstName: 'Ola', lastName: 'Nordmann', emails: ['x@uni.example.no'], roles: [1] })).status).toBe(400);
  });

  it('finds users by user data, deactivates and reactivates login, and refuses deletion', async () => {
    const { body } = await api(sim, 'POST', '/license/user', { firstName: 'Kari', lastName: 'Nordmann', emails: ['kari@uni.example.no'], roles: [], externalIds: [{ userDataTypeId: 529, value: 'kari@uni.example.no' }] });
    const id = body.userId;
    const found = await api(sim, 'POST', '/users/search?offset=0&limit=100', { dataTypes: [{ id: 529, value: 'kari@uni.example.no' }] });
    expect(found.body.data).toHaveLength(1);
    expect(found.body.pagination).toEqual({ limit: 100, offset: 0, total: 1 });
    const put = await api(sim, 'PUT', `/users/${id}`, { firstName: 'Kari', lastName: 'Nordmann', phone: '', language: 'nb', loginDeactivated: true });
    expect(put.body.data.loginDeactivated).toBe(true);
    expect((await api(sim, 'POST', '/users/search', { dataTypes: [{ id: 529, value: 'kari@uni.example.no' }] })).body.data[0].deactivated).toBe(true);
    expect((await api(sim, 'PUT', `/users/${id}`, { firstName: 'Kari' })).status).toBe(400);
    expect((await api(sim, 'DELETE', `/users/${id}`)).status).toBe(403);
  });

  it('keeps one primary email, holds a new primary for activation on a standard-login licence, and refuses deleting the primary', async () => {
    const { body } = await api(sim, 'POST', '/license/user', { firstName: 'Per', lastName: 'Hansen', emails: ['per@uni.example.no'], roles: [] });
    const path = `/users/${body.userId}/emails`;
    const added = await api(sim, 'POST', path, [{ email: 'per2@uni.example.no', primary: true }, { email: 'per@uni.example.no' }]);
    // Partial success: one added, the address the user has refused.
    expect(added.status).toBe(201);
    expect(added.body.success).toBe(false);
    expect(added.body.data).toHaveLength(1);
    expect(added.body.data[0]).toMatchObject({ email: 'per2@uni.example.no', primary: true, activated: false });
    const emails = (await api(sim, 'GET', path)).body.data;
    expect(emails.filter((e: { primary: boolean }) => e.primary)).toHaveLength(1);
    const primary = emails.find((e: { primary: boolean }) => e.primary);
    expect((await api(sim, 'DELETE', `${path}/${primary.emailId}`)).status).toBe(400);
    const old = emails.find((e: { primary: boolean }) => !e.primary);
    expect((await api(sim, 'PATCH', path, [{ emailId: old.emailId, primary: true }])).body.success).toBe(true);
    expect((await api(sim, 'DELETE', `${path}/${primary.emailId}`)).status).toBe(200);
    expect((await api(sim, 'DELETE', `${path}/${primary.emailId}`)).status).toBe(404);
    // requireUniqueEmails: another user's address is refused.
    const other = await api(sim, 'POST', '/license/user', { firstName: 'Pål', lastName: 'Hansen', emails: ['paal@uni.example.no'], roles: [] });
    expect((await api(sim, 'POST', `/users/${other.body.userId}/emails`, [{ email: 'per@uni.example.no' }])).body.success).toBe(false);
  });

  it('adds roles idempotently, refuses protected ones, and checks user data against the type\'s pattern and uniqueness', async () => {
    const { body } = await api(sim, 'POST', '/license/user', { firstName: 'Siv', lastName: 'Berg', emails: ['siv@uni.example.no'], roles: [] });
    const roles = `/users/${body.userId}/roles`;
    const r1 = await api(sim, 'POST', roles, [{ licenseRoleId: 2 }, { licenseRoleId: 1 }]);
    expect(r1.body.success).toBe(false);
    expect(r1.body.data).toHaveLength(1);
    const r2 = await api(sim, 'POST', roles, [{ licenseRoleId: 2 }]);
    expect(r2.body.data[0].userRoleId).toBe(r1.body.data[0].userRoleId);
    const data = `/users/${body.userId}/user-data`;
    const bad = await api(sim, 'POST', data, [{ userDataTypeId: 531, value: 'S12' }]);
    expect(bad.body.success).toBe(false);
    expect(bad.body.error.errors[0].message).toContain('^[0-9]{1,10}$');
    const taken = await api(sim, 'POST', data, [{ userDataTypeId: 529, value: 'ola@uni.example.no' }]);
    expect(taken.body.error.errors[0].reason).toBe('notUnique');
    const ok = await api(sim, 'POST', data, [{ userDataTypeId: 531, value: '123' }]);
    const patched = await api(sim, 'PATCH', data, [{ userDataId: ok.body.data[0].userDataId, value: '124' }]);
    expect(patched.body.data[0].value).toBe('124');
  });

  it('injects faults and counts creates per key', async () => {
    sim.fail({ match: (r) => r.path === '/license/roles', times: 1, kind: 503 });
    expect((await api(sim, 'GET', '/license/roles')).status).toBe(503);
    expect((await api(sim, 'GET', '/license/roles')).status).toBe(200);
    expect(sim.licence.createsByKey.get('529:ola@uni.example.no')).toBe(1);
  });
});

describe('WISEflow simulator rate limits and state', () => {
  it('answers 429 with Retry-After and the RateLimit headers past the per-second limit', async () => {
    const sim = await startWiseflowSimulator({ apiKeys: ['contract-key-0123'], rateLimits: { perSecond: 5, perMinute: 100 } });
    try {
      const rs = await Promise.all(Array.from({ length: 8 }, () => api(sim, 'GET', '/license/roles')));
      const ok = rs.filter((r) => r.status === 200), limited = rs.filter((r) => r.status === 429);
      expect(ok).toHaveLength(5);
      expect(limited).toHaveLength(3);
      expect(Number(limited[0]!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(limited[0]!.headers['x-ratelimit-second-remaining']).toBe('0');
      expect(ok[0]!.headers['x-ratelimit-minute-limit']).toBe('100');
      expect(ok[0]!.headers['ratelimit-limit']).toBe('100');
      expect(sim.throttled()).toBe(3);
    } finally {
      await sim.close();
    }
  });

  it('keeps its state across a restart', async () => {
    const stateFile = join(mkdtempSync(join(tmpdir(), 'wiseflow-sim-')), 'state.json');
    const a = await startWiseflowSimulator({ apiKeys: ['contract-key-0123'], stateFile, rateLimits: false });
    const made = await api(a, 'POST', '/license/user', { firstName: 'Eva', lastName: 'Lie', emails: ['eva@uni.example.no'], roles: [3] });
    await a.close();
    const b = await startWiseflowSimulator({ apiKeys: ['contract-key-0123'], stateFile, rateLimits: false });
    try {
      expect((await api(b, 'GET', `/users/${made.body.userId}/roles`)).body.data).toMatchObject([{ licenseRoleId: 3, name: 'Manager' }]);
    } finally {
      await b.close();
    }
  });
});
