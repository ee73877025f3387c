import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kafka } from 'kafkajs';
import type { Config } from '../config.js';
import { redrive } from '../consumers/dlq.js';
import { explain } from '../consumers/explain.js';
import { MassChangeGuard } from '../consumers/guard.js';
import { countResults } from '../consumers/report.js';
import { statusSnapshot, type StatusOptions, type StatusSnapshot } from '../consumers/status.js';
import { personHistory } from '../history/query.js';
import type { HistoryStore } from '../history/store.js';
import { child } from '../lib/log.js';
import { quoteSchema } from '../mv/migrate.js';
import { newRunId, reprocessForTarget } from '../producers/publisher.js';
import { KEY_FIELDS, type KeyField } from '../producers/sync.js';
import type { AnyTarget } from '../spi/index.js';

const PUBLIC = join(dirname(fileURLToPath(import.meta.url)), 'public');
const UPLOT = dirname(createRequire(import.meta.url).resolve('uplot/package.json'));

/** What the page is made of: plain files from the repository and uPlot from node_modules; no build step. */
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: join(PUBLIC, 'index.html'), type: 'text/html; charset=utf-8' },
  '/app.js': { file: join(PUBLIC, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: join(PUBLIC, 'style.css'), type: 'text/css; charset=utf-8' },
  '/vendor/uPlot.iife.min.js': { file: join(UPLOT, 'dist', 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/vendor/uPlot.min.css': { file: join(UPLOT, 'dist', 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

export interface DashboardDeps {
  cfg: Config;
  kafka: Kafka;
  /** The enabled targets. */
  targets: AnyTarget[];
  store: HistoryStore;
  /** Where the status reads (the defaults in production; tests name their own groups and topics). */
  status?: Omit<StatusOptions, 'targets' | 'store'>;
  /** The person.changed topic redrives and releases publish to (default: the configuration's). */
  personChangedTopic?: string;
  /** How often the status is sampled for the lag chart (default 5 s). */
  sampleMs?: number;
  /** Samples kept (default 720: an hour at 5 s). */
  keep?: number;
}

export interface Dashboard {
  /** Serves a dashboard path; false when the path is not the dashboard's. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** The latest status sample, if any. */
  latest(): StatusSnapshot | undefined;
  stop(): Promise<void>;
}

interface Sample { t: number; lag: Record<string, number>; dlq: Record<string, number> }

const BUCKET_SECONDS = 10;

/**
 * The web dashboard `tilgang run` serves: the status snapshot (lag, rates, last hour's outcomes,
 * dead letters, guards), sampled in the background so lag can be charted over time; outcomes over
 * time, recent failures and runs from the results store; a person's explanation and history; and
 * two actions, a DLQ redrive and a guard release (the page asks for confirmation; the request must
 * carry the `x-tilgang-action` header, which a page of another origin cannot send without a
 * preflight this server never grants).
 */
export function createDashboard(d: DashboardDeps): Dashboard {
  const log = child({ component: 'dashboard' });
  const { cfg } = d;
  const s = quoteSchema(cfg.runtime.stateSchema);
  const samples: Sample[] = [];
  let latest: StatusSnapshot | undefined;
  let sampling: Promise<void> | undefined;
  let stopped = false;
  const statusOpts = (): StatusOptions => ({ ...d.status, targets: d.targets, store: d.store });
  const sample = () => {
    if (sampling || stopped) return sampling;
    sampling = statusSnapshot(cfg, d.kafka, statusOpts()).then((snap) => {
      latest = snap;
      samples.push({
        t: Date.parse(snap.at),
        lag: Object.fromEntries(snap.targets.map((t) => [t.name, t.lag.lag])),
        dlq: Object.fromEntries(snap.targets.map((t) => [t.name, t.dlq])),
      });
      while (samples.length > (d.keep ?? 720)) samples.shift();
    }, (e: Error) => log.warn({ err: e.message }, 'dashboard status not sampled; trying again')).finally(() => { sampling = undefined; });
    return sampling;
  };
  // Sampled every sampleMs while someone looks (a request in the last ten minutes), else once a minute.
  let viewedAt = 0;
  let sampledAt = 0;
  const maybeSample = () => {
    const now = Date.now();
    if (now - viewedAt > 600_000 && now - sampledAt < 60_000) return;
    sampledAt = now;
    void sample();
  };
  maybeSample();
  const timer = setInterval(maybeSample, d.sampleMs ?? 5_000);
  timer.unref();

  const runCache = new Map<string, { n: number; counters: Record<string, Record<string, number>> }>();

  async function series(minutes: number) {
    const { rows } = await d.store.pool.query(`SELECT target, outcome, (floor(extract(epoch FROM processed_at) / ${BUCKET_SECONDS}) * ${BUCKET_SECONDS})::bigint AS t, count(*)::int AS n
      FROM ${s}.results WHERE processed_at >= now() - make_interval(mins => $1) GROUP BY 1, 2, 3 ORDER BY 3`, [minutes]);
    const out: Record<string, Record<string, [number, number][]>> = {};
    for (const r of rows) ((out[r.target] ??= {})[r.outcome] ??= []).push([Number(r.t), r.n]);
    return { bucketSeconds: BUCKET_SECONDS, now: Math.floor(Date.now() / 1000), minutes, targets: out };
  }

  async function failures(limit: number) {
    const { rows } = await d.store.pool.query(`SELECT person_id, target, run_id, outcome, error, processed_at FROM ${s}.results
      WHERE outcome = 'FAILED' ORDER BY processed_at DESC LIMIT $1`, [limit]);
    return rows.map((r) => ({ personId: r.person_id, target: r.target, runId: r.run_id, error: r.error, at: new Date(r.processed_at).toISOString() }));
  }

  async function runs(limit: number) {
    const { rows } = await d.store.pool.query(`SELECT r.run_id, max(r.processed_at) AS last, min(r.processed_at) AS first, count(*)::int AS n,
        max(x.mode) AS mode, max(x.source) AS source, max(x.published) AS published, bool_or(r.log_only) AS log_only
      FROM ${s}.results r LEFT JOIN ${s}.runs x ON x.run_id = r.run_id
      WHERE r.run_id IS NOT NULL GROUP BY r.run_id ORDER BY max(r.processed_at) DESC LIMIT $1`, [limit]);
    return Promise.all(rows.map(async (r) => {
      let c = runCache.get(r.run_id);
      if (!c || c.n !== r.n) {
        const counted = countResults(await d.store.runResults(r.run_id));
        c = { n: r.n, counters: Object.fromEntries(counted) };
        runCache.set(r.run_id, c);
      }
      return {
        runId: r.run_id, mode: r.mode ?? null, source: r.source ?? null, published: r.published ?? null, logOnly: r.log_only,
        results: r.n, first: new Date(r.first).toISOString(), last: new Date(r.last).toISOString(), counters: c.counters,
      };
    }));
  }

  async function person(field: KeyField, key: string) {
    const x = await explain(cfg, d.targets, field, key, { lastResults: (personId, target) => d.store.history({ personId, target, limit: 5 }) });
    const history = x.duplicate ? undefined : await personHistory(cfg, d.store, 'idautoID', x.personId, { limit: 100 });
    return { explain: x, history };
  }

  const known = (name: string) => d.targets.some((t) => t.name === name);

  async function api(req: IncomingMessage, url: URL): Promise<unknown> {
    const path = url.pathname;
    if (req.method === 'GET') {
      if (path === '/api/status') return { status: latest ?? null, samples, targets: d.targets.map((t) => t.name) };
      if (path === '/api/series') return series(Math.min(360, Math.max(1, Number(url.searchParams.get('minutes') ?? 30))));
      if (path === '/api/failures') return failures(30);
      if (path === '/api/runs') return runs(10);
      if (path === '/api/person') {
        const key = url.searchParams.get('key')?.trim();
        const field = (url.searchParams.get('field') ?? 'username') as KeyField;
        if (!key) throw new HttpError(400, 'key is required');
        if (!(field in KEY_FIELDS)) throw new HttpError(400, `field must be one of ${Object.keys(KEY_FIELDS).join(', ')}`);
        return person(field, key).catch((e: Error) => {
          throw /^no person in the directory/.test(e.message) ? new HttpError(404, e.message) : e;
        });
      }
    }
    if (req.method === 'POST') {
      if (req.headers['x-tilgang-action'] !== '1') throw new HttpError(403, 'actions need the x-tilgang-action header');
      const m = /^\/api\/(dlq|guard)\/([^/]+)\/(redrive|release)$/.exec(path);
      if (m && m[1] === 'dlq' && m[3] === 'redrive') {
        const owner = decodeURIComponent(m[2]!);
        if (!known(owner) && owner !== 'writeback') throw new HttpError(404, `no target ${owner}`);
        const r = await redrive(cfg, d.kafka, owner, { dlq: d.status?.dlqOf?.(owner), personChangedTopic: d.personChangedTopic });
        log.info({ owner, runId: r.runId, people: r.people }, 'dead letters redriven from the dashboard');
        void sample();
        return r;
      }
      if (m && m[1] === 'guard' && m[3] === 'release') {
        const target = decodeURIComponent(m[2]!);
        if (!known(target)) throw new HttpError(404, `no target ${target}`);
        const runId = newRunId();
        const ids = await new MassChangeGuard(d.store.pool, cfg.runtime.stateSchema).release(target, runId);
        await reprocessForTarget(d.kafka, cfg, ids, target, { runId, source: 'guard-release', topic: d.personChangedTopic });
        log.info({ target, runId, people: ids.length }, 'guard released from the dashboard');
        void sample();
        return { runId, people: ids.length };
      }
    }
    throw new HttpError(404, 'not found');
  }

  return {
    latest: () => latest,
    async handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://dashboard');
      if (url.pathname === '/' || url.pathname.startsWith('/api/')) {
        // Someone is looking: sample at full pace again, starting now.
        if (Date.now() - viewedAt > 600_000) { viewedAt = Date.now(); maybeSample(); }
        viewedAt = Date.now();
      }
      const f = req.method === 'GET' ? FILES[url.pathname] : undefined;
      if (f) {
        res.setHeader('content-type', f.type);
        res.setHeader('cache-control', 'no-cache');
        res.end(await readFile(f.file));
        return true;
      }
      if (!url.pathname.startsWith('/api/')) return false;
      try {
        const body = await api(req, url);
        res.setHeader('content-type', 'application/json; charset=utf-8');
        res.setHeader('cache-control', 'no-store');
        res.end(JSON.stringify(body));
      } catch (e) {
        const status = e instanceof HttpError ? e.status : 500;
        if (status === 500) log.warn({ path: url.pathname, err: (e as Error).message }, 'dashboard request failed');
        res.statusCode = status;
        res.setHeader('content-type', 'application/json; charset=utf-8');
        res.end(JSON.stringify({ error: (e as Error).message }));
      }
      return true;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await sampling;
    },
  };
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}
