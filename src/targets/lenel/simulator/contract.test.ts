/** The simulator answers as the OpenAccess reference describes, over HTTP. */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLenelSimulator, type LenelSimulator } from './index.js';

let sim: LenelSimulator;
let token = '';
const APP = 'TILGANG';

async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, opts: { query?: Record<string, string>; json?: unknown; app?: string | null; token?: string | null } = {}) {
  const qs = new URLSearchParams({ version: '1.0', ...opts.query }).toString();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.app !== null) headers['application-id'] = opts.app ?? APP;
  if (opts.token !== null && (opts.token ?? token)) headers['session-token'] = opts.token ?? token;
  if (opts.json !== undefined) headers['content-type'] = 'application/json';
  const r = await request(`${sim.apiUrl}${path}?${qs}`, { method, headers, body: opts.json === undefined ? undefined : JSON.stringify(opts.json) });
  return { status: r.statusCode, headers: r.headers, body: (await r.body.json()) as Record<string, any> };
}

const create = (type: string, map: Record<string, unknown>) => call('POST', '/instances', { json: { type_name: type, property_value_map: map } });

beforeAll(async () => {
  sim = await startLenelSimulator({ users: { op: 'pw-secret' } });
  const r = await call('POST', '/authentication', { json: { user_name: 'op', password: 'pw-secret' }, token: null });
  token = r.body.session_token;
});
afterAll(async () => sim.close());

describe('OpenAccess simulator', () => {
  it('requires the Application-Id on every request, even unauthenticated ones', async () => {
    for (const app of [null, 'SOMEONE_ELSE']) {
      const r = await call('GET', '/version', { app });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('openaccess.general.invalidapplicationid');
      expect(r.body.version).toBe('1.0');
    }
    expect((await call('GET', '/version', { token: null })).body.product_version).toMatch(/^7\./);
  });

  it('issues session tokens with an expiry; refuses wrong passwords, missing, expired and logged-out tokens', async () => {
    expect((await call('POST', '/authentication', { json: { user_name: 'op', password: 'nope' }, token: null })).status).toBe(401);
    const login = await call('POST', '/authentication', { json: { user_name: 'op', password: 'pw-secret' }, token: null });
    expect(login.body.session_token).toMatch(/^[0-9a-f-]{36}$/);
    expect(login.body.token_expiration_time).toMatch(/\+00:00$/);
    const t = login.body.session_token as string;
    expect((await call('GET', '/keepalive', { token: t })).status).toBe(200);
    expect((await call('GET', '/instances', { token: null, query: { type_name: 'Lnl_Cardholder' } })).body.error.code).toBe('openaccess.general.invalidsessiontoken');
    expect((await call('DELETE', '/authentication', { token: t })).status).toBe(200);
    expect((await call('GET', '/keepalive', { token: t })).status).toBe(401);
    const other = (await call('POST', '/authentication', { json: { user_name: 'op', password: 'pw-secret' }, token: null })).body.session_token as string;
    sim.expireSessions();
    expect((await call('GET', '/keepalive', { token: other })).status).toBe(401);
    token = (await call('POST', '/authentication', { json: { user_name: 'op', password: 'pw-secret' }, token: null })).body.session_token;
  });

  it('creates answer with the key only; a second cardholder with the same SSNO is accepted and counted', async () => {
    const a = await create('lnl_cardholder', { lastname: 'Lake', firstname: 'Lisa', ssno: 'E1001', email: 'l@x.no' });
    expect(a.status).toBe(200);
    expect(a.body).toEqual({ type_name: 'Lnl_Cardholder', property_value_map: { ID: expect.any(Number) }, version: '1.0' });
    const b = await create('Lnl_Cardholder', { LASTNAME: 'Lake', SSNO: 'E1001' });
    expect(b.body.property_value_map.ID).not.toBe(a.body.property_value_map.ID);
    expect(sim.store.createsBySsno.get('E1001')).toBe(2);
    const found = await call('GET', '/instances', { query: { type_name: 'Lnl_Cardholder', filter: 'SSNO = "e1001"' } });
    expect(found.body.total_items).toBe(2);
    expect(Object.keys(found.body.item_list[0].property_value_map)).toContain('FIRSTNAME');
  });

  it('refuses unknown properties, missing required ones and broken references with the documented error', async () => {
    const r = await create('Lnl_Cardholder', { LASTNAME: 'X', NATIONALITY: 'no' });
    expect(r.status).toBe(400);
    expect(r.body.error).toEqual({ code: 'openaccess.general.invalidrequestitem', message: 'The property NATIONALITY did not exist or contained an invalid value.' });
    expect((await create('Lnl_Cardholder', { FIRSTNAME: 'X' })).body.error.message).toContain('LASTNAME');
    expect((await create('Lnl_Badge', { PERSONID: 999999, TYPE: 1 })).body.error.message).toContain('PERSONID');
  });

  it('badge ids and assignments are unique; PUT is partial; DELETE takes a JSON body', async () => {
    const ch = (await create('Lnl_Cardholder', { LASTNAME: 'Badge', SSNO: 'B1' })).body.property_value_map.ID;
    const b = await create('Lnl_Badge', { PERSONID: ch, TYPE: 1, ID: 777, STATUS: 1 });
    expect(Object.keys(b.body.property_value_map)).toEqual(['BADGEKEY']);
    expect((await create('Lnl_Badge', { PERSONID: ch, TYPE: 1, ID: 777 })).status).toBe(400);
    const key = b.body.property_value_map.BADGEKEY;
    const a = await create('Lnl_AccessLevelAssignment', { ACCESSLEVELID: '2', BADGEKEY: String(key) });
    expect(a.body.property_value_map).toEqual({ AccessLevelID: 2, BadgeKey: key });
    expect((await create('Lnl_AccessLevelAssignment', { AccessLevelID: 2, BadgeKey: key })).status).toBe(400);
    const put = await call('PUT', '/instances', { json: { type_name: 'Lnl_Badge', property_value_map: { BADGEKEY: key, STATUS: 5, DEACTIVATE: '2026-01-01T00:00:00+00:00' } } });
    expect(put.status).toBe(200);
    const badge = (await call('GET', '/instances', { query: { type_name: 'Lnl_Badge', filter: `BADGEKEY = ${key}` } })).body.item_list[0].property_value_map;
    expect(badge).toMatchObject({ STATUS: 5, ID: 777, PERSONID: ch, DEACTIVATE: '2026-01-01T00:00:00+00:00' });
    expect((await call('PUT', '/instances', { json: { type_name: 'Lnl_Badge', property_value_map: { BADGEKEY: key, DEACTIVATE: '2026-01-01T00:00:00Z' } } })).status).toBe(400);
    const del = await call('DELETE', '/instances', { json: { type_name: 'Lnl_AccessLevelAssignment', property_value_map: { AccessLevelID: 2, BadgeKey: key } } });
    expect(del.status).toBe(200);
    expect((await call('GET', '/count', { query: { type_name: 'Lnl_AccessLevelAssignment', filter: `BadgeKey = ${key}` } })).body.total_items).toBe(0);
    expect((await call('PUT', '/instances', { json: { type_name: 'Lnl_Badge', property_value_map: { BADGEKEY: 99999, STATUS: 1 } } })).status).toBe(400);
  });

  it('pages 1-based with 1..100 items, filters with like/and/or/!=, orders', async () => {
    for (let i = 0; i < 25; i++) await create('Lnl_Cardholder', { LASTNAME: `Page${String(i).padStart(2, '0')}`, FIRSTNAME: i % 2 ? 'Odd' : 'Even', SSNO: `P${i}` });
    const q = (query: Record<string, string>) => call('GET', '/instances', { query: { type_name: 'Lnl_Cardholder', ...query } });
    const p1 = await q({ filter: 'LASTNAME like "Page%"' });
    expect(p1.body).toMatchObject({ page_number: 1, page_size: 20, count: 20, total_items: 25, total_pages: 2 });
    expect((await q({ filter: 'LASTNAME like "Page%"', page_number: '2' })).body.count).toBe(5);
    expect((await q({ page_size: '101' })).status).toBe(400);
    expect((await q({ page_number: '0' })).status).toBe(400);
    expect((await q({ filter: 'LastName like "Page%" and (FirstName = "Odd" or SSNO = "P0")', page_size: '100' })).body.total_items).toBe(13);
    expect((await q({ filter: 'LASTNAME like "Page%" AND FIRSTNAME != "Odd"', page_size: '100' })).body.total_items).toBe(13);
    const desc = await q({ filter: 'LASTNAME like "Page%"', order_by: 'LASTNAME desc', page_size: '1' });
    expect(desc.body.item_list[0].property_value_map.LASTNAME).toBe('Page24');
    // A batch of keys: every cardholder any term matches (case-insensitive), once, in creation order, as a scan finds them.
    const keys = await q({ filter: 'SSNO = "P7" or SSNO = "p3" or SSNO = "P3" or SSNO = "P99" or (SSNO = "P12" and FIRSTNAME = "Even")', page_size: '100' });
    expect(keys.body.item_list.map((i: any) => i.property_value_map.SSNO)).toEqual(['P3', 'P7', 'P12']);
    const mixed = await q({ filter: '(SSNO = "P1" or SSNO = "P2" or LASTNAME like "Page2%") and FIRSTNAME = "Odd"', page_size: '100' });
    expect(mixed.body.item_list.map((i: any) => i.property_value_map.SSNO)).toEqual(['P1', 'P21', 'P23']);
    expect((await q({ filter: 'LASTNAME = ' })).body.error.code).toBe('openaccess.general.invalidfilter');
    expect((await q({ filter: 'NOPE = 1' })).status).toBe(400);
  });

  it('parameters may come in the body instead of the query string', async () => {
    const r = await call('POST', '/instances', { query: { type_name: 'Lnl_Cardholder' }, json: { property_value_map: { LASTNAME: 'Query' } } });
    expect(r.status).toBe(200);
  });

  it('injects 503, 429 with Retry-After, and unanswered requests', async () => {
    sim.fault({ status: 429, times: 1, retryAfterSeconds: 3 });
    const r = await call('GET', '/keepalive');
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBe('3');
    sim.fault({ status: 503, times: 1, match: (x) => x.method === 'POST' });
    expect((await create('Lnl_Cardholder', { LASTNAME: 'F' })).status).toBe(503);
    expect((await create('Lnl_Cardholder', { LASTNAME: 'F' })).status).toBe(200);
    sim.fault({ status: 'timeout', times: 1, afterRun: true, match: (x) => x.method === 'POST' });
    const before = sim.store.createsBySsno.get('T1') ?? 0;
    const ac = new AbortController();
    const pending = request(`${sim.apiUrl}/instances?version=1.0`, {
      method: 'POST', signal: ac.signal,
      headers: { 'application-id': APP, 'session-token': token, 'content-type': 'application/json' },
      body: JSON.stringify({ type_name: 'Lnl_Cardholder', property_value_map: { LASTNAME: 'T', SSNO: 'T1' } }),
    }).catch((e: Error) => e);
    // The write happens although no answer comes.
    for (let i = 0; i < 100 && (sim.store.createsBySsno.get('T1') ?? 0) === before; i++) await new Promise((r) => setTimeout(r, 10));
    expect(sim.store.createsBySsno.get('T1')).toBe(before + 1);
    ac.abort();
    expect(await pending).toBeInstanceOf(Error);
  });

  it('keeps its state across a restart', async () => {
    const file = `${process.env.TMPDIR ?? '/tmp'}/lenel-sim-${process.pid}-${Date.now()}.json`;
    const a = await startLenelSimulator({ stateFile: file });
    a.store.create('Lnl_Cardholder', { LASTNAME: 'Kept', SSNO: 'K1' });
    await a.close();
    const b = await startLenelSimulator({ stateFile: file });
    expect(b.store.all('Lnl_Cardholder').map((c) => c.SSNO)).toEqual(['K1']);
    expect(b.store.all('Lnl_AccessLevel').length).toBeGreaterThan(0);
    await b.close();
  });
});
