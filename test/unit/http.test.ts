import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient, HttpStatusError, HttpTransientError, parseRetryAfter, redactPath } from '../../src/lib/http.js';
import { registry } from '../../src/lib/metrics.js';
import { isTransient, TerminalError } from '../../src/spi/index.js';

const SECRET = 'sekret-0123456789abcdef';

describe('the shared HTTP client against a real server', () => {
  let server: Server;
  let url: string;
  let handler: (req: IncomingMessage, res: ServerResponse, body: string) => void = (_q, res) => res.end('{}');
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => { lines.push(JSON.parse(l)); } });
  let http: HttpClient;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => handler(req, res, body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
    http = new HttpClient({ baseUrl: url, name: 'testsys', secrets: [SECRET], timeoutMs: 1000, log });
  });
  afterAll(async () => {
    await http.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('sends JSON to the base URL and path, and answers a 2xx with status and text', async () => {
    let seen: { url?: string; method?: string; type?: string; body?: string } = {};
    handler = (req, res, body) => { seen = { url: req.url, method: req.method, type: req.headers['content-type'], body }; res.writeHead(201).end('{"id":7}'); };
    const r = await http.request({ path: '/people', query: { page: 2 }, json: { name: 'Åse' } });
    expect(seen).toEqual({ url: '/api/people?page=2', method: 'POST', type: 'application/json', body: '{"name":"Åse"}' });
    expect(r.status).toBe(201);
    expect(JSON.parse(r.text)).toEqual({ id: 7 });
  });

  it('counts every request by system, call and outcome, with its time, on /metrics', async () => {
    const count = async (call: string, outcome: string) => (await registry.getSingleMetric('tilgang_target_request_seconds')!.get()).values
      .find((v) => (v as { metricName?: string }).metricName === 'tilgang_target_request_seconds_count' && v.labels.system === 'testsys' && v.labels.call === call && v.labels.outcome === outcome)?.value ?? 0;
    const before = [await count('list people', 'ok'), await count('list people', 'transient'), await count('GET', 'refused')];
    handler = (_q, res) => res.end('[]');
    await http.request({ path: '/people', label: 'list people' });
    await http.request({ path: '/people', label: 'list people' });
    handler = (_q, res) => res.writeHead(503).end();
    await http.request({ path: '/people', label: 'list people' }).catch(() => {});
    handler = (_q, res) => res.writeHead(404).end();
    await http.request({ path: '/nobody' }).catch(() => {});
    expect([await count('list people', 'ok'), await count('list people', 'transient'), await count('GET', 'refused')]).toEqual([before[0]! + 2, before[1]! + 1, before[2]! + 1]);
  });

  it.each([
    [503, { 'retry-after': '2' }, 2000],
    [429, { 'retry-after': '0' }, 0],
    [502, {}, undefined],
    [408, {}, undefined],
  ])('HTTP %i is transient, with Retry-After as retryAfterMs', async (status, headers, retryAfterMs) => {
    handler = (_q, res) => res.writeHead(status, headers).end('<html>busy</html>');
    const e = await http.request({ path: '/x', label: 'list people' }).catch((x: unknown) => x) as HttpTransientError;
    expect(e).toBeInstanceOf(HttpTransientError);
    expect(isTransient(e)).toBe(true);
    expect(e).toMatchObject({ status, code: `http_${status}`, retryAfterMs, message: `testsys list people: HTTP ${status}` });
  });

  it.each([400, 401, 403, 404, 409, 422])('HTTP %i is terminal; the body stays on the error, out of its message', async (status) => {
    handler = (_q, res) => res.writeHead(status).end(`{"error":"no such person","echo":"${SECRET}"}`);
    const e = await http.request({ path: '/x' }).catch((x: unknown) => x) as HttpStatusError;
    expect(e).toBeInstanceOf(HttpStatusError);
    expect(e).toBeInstanceOf(TerminalError);
    expect(isTransient(e)).toBe(false);
    expect(e.status).toBe(status);
    expect(e.code).toBe(`http_${status}`);
    expect(JSON.parse(e.responseText).error).toBe('no such person');
    expect(e.message).toBe(`testsys: HTTP ${status}`);
  });

  it('a server that does not answer in time is transient', async () => {
    handler = () => { /* never answers */ };
    const e = await http.request({ path: '/slow' }).catch((x: unknown) => x) as HttpTransientError;
    expect(e).toBeInstanceOf(HttpTransientError);
    expect(e.code).toBe('UND_ERR_HEADERS_TIMEOUT');
  });

  it('a refused connection is transient, and names no secret', async () => {
    const down = new HttpClient({ baseUrl: 'http://127.0.0.1:1', name: 'testsys', secrets: [SECRET], log });
    const e = await down.request({ path: `/x?token=${SECRET}` }).catch((x: unknown) => x) as HttpTransientError;
    await down.close();
    expect(e).toBeInstanceOf(HttpTransientError);
    expect(e.code).toBe('ECONNREFUSED');
    expect(e.message).not.toContain(SECRET);
  });

  it('logs each request with method, path, status and time, and never a secret', async () => {
    handler = (_q, res) => res.end('{}');
    lines.length = 0;
    await http.request({ path: `/people/${SECRET}`, query: { token: 'abc123token', user: 'abc123' }, label: 'read person' });
    handler = (_q, res) => res.writeHead(500).end();
    await http.request({ path: '/people', query: { password: 'hunter22', q: SECRET } }).catch(() => {});
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 20, method: 'GET', path: '/people/[redacted]?token=[redacted]&user=abc123', label: 'read person', status: 200, msg: 'testsys: ok' });
    expect(lines[1]).toMatchObject({ level: 40, method: 'GET', path: '/people?password=[redacted]&q=[redacted]', status: 500, msg: 'testsys: transient HTTP status' });
    expect(typeof lines[0]!.ms).toBe('number');
    const all = JSON.stringify(lines);
    for (const s of [SECRET, 'abc123token', 'hunter22']) expect(all).not.toContain(s);
  });
});

describe('HTTP helpers', () => {
  it.each([
    ['2', 2000], ['0', 0], ['1.5', 1500], [' ', undefined], ['soon', undefined], [undefined, undefined],
    ['Sun, 29 Nov 2026 03:00:10 GMT', 10_000], ['Sun, 29 Nov 2026 02:59:00 GMT', 0], [['3', '9'], 3000],
  ] as const)('Retry-After %j → %j ms', (header, ms) => {
    expect(parseRetryAfter(header as string | string[] | undefined, Date.parse('2026-11-29T03:00:00Z'))).toBe(ms);
  });

  it.each([
    ['/people', '/people'],
    ['/people?page=2', '/people?page=2'],
    ['/x?wstoken=abc&apiKey=k&Authorization=z&sessionId=s&name=n', '/x?wstoken=[redacted]&apiKey=[redacted]&Authorization=[redacted]&sessionId=[redacted]&name=n'],
    ['/people/01010112345', '/people/[redacted-11-digits]'],
    [`/p/${SECRET}/x`, '/p/[redacted]/x'],
  ])('redacts %s as %s', (input, shown) => {
    expect(redactPath(input, [SECRET])).toBe(shown);
  });
});
