import type { Server } from 'node:http';
import type { Config } from './config.js';
import { TargetGroup } from './consumers/target-group.js';
import { Writeback } from './consumers/writeback.js';
import { Scheduler } from './consumers/schedule.js';
import { scheduledReconciliation } from './consumers/scheduled.js';
import { pgSsl } from './lib/tls.js';
import pg from 'pg';
import { createDashboard, type Dashboard } from './dashboard/server.js';
import { HistoryStore } from './history/store.js';
import { ResultsRecorder } from './history/recorder.js';
import { startStatusMetrics } from './consumers/status.js';
import { makeKafka } from './lib/kafka.js';
import { requireReachable, type Dependency } from './lib/reachable.js';
import { log } from './lib/log.js';
import { serveHealth, type HealthSource } from './lib/metrics.js';
import { ChangelogProducer } from './producers/changelog-producer.js';
import { CoursesProducer } from './producers/courses-producer.js';
import { COURSE_STREAM } from './spi/index.js';
import { enabledTargets, getTarget } from './targets/index.js';

export type Role = 'producer' | 'courses-producer' | 'writeback' | 'history' | 'schedule' | `target:${string}`;

export interface Running {
  producer?: ChangelogProducer;
  /** Follows MV's course catalogue; run when an enabled target consumes the course stream. */
  coursesProducer?: CoursesProducer;
  groups: TargetGroup[];
  writeback?: Writeback;
  /** The results store's writer (the `history` role). */
  history?: ResultsRecorder;
  health?: Server;
  /** The web dashboard, served on the health server's address. */
  dashboard?: Dashboard;
  /** The `reconcile:` schedule (the `schedule` role; every worker may run it, one at a time runs each slot). */
  schedule?: Scheduler;
  /** Keeps the status gauges on /metrics current. */
  status?: { stop(): Promise<void> };
  /** Stops every role; says how many events in flight the target groups left uncommitted, and whether one waited out an outage. */
  stop(): Promise<{ unfinished: number; outage: boolean }>;
}

/** A target group's readiness for /readyz (saying what it waits for), and each server it depends on by name, so a 503 says which is missing. */
export function groupHealth(role: string, g: TargetGroup): HealthSource[] {
  return [{ name: role, ready: () => g.isReady(), reason: () => g.notReadyReason() }, ...g.dependencies().map((d) => ({ name: `${role} ${d.name}`, ready: () => d.ready }))];
}

/**
 * `tilgang run`: the producer, every enabled target's group, the writeback and the results store in one process,
 * or one of them (`--role`), so several processes on several machines share the groups.
 */
export async function startRoles(cfg: Config, roles: Role[] | 'all', opts: { metricsPort?: number } = {}): Promise<Running> {
  const kafka = makeKafka(cfg);
  const want = async (): Promise<Role[]> => {
    if (roles !== 'all') return roles;
    const targets = await enabledTargets(cfg.targets);
    const courses = targets.some((t) => t.stream === COURSE_STREAM) ? ['courses-producer' as const] : [];
    return ['producer', ...courses, ...targets.map((t) => `target:${t.name}` as Role), 'writeback', 'history', ...(cfg.reconcile ? ['schedule' as const] : [])];
  };
  let scheduleDb: pg.Pool | undefined;
  let dashboardStore: HistoryStore | undefined;
  const r: Running = { groups: [], async stop() {
    await r.dashboard?.stop();
    await dashboardStore?.close();
    await r.schedule?.stop();
    await scheduleDb?.end().catch(() => {});
    await r.status?.stop();
    const left = await Promise.all(r.groups.map((g) => g.stop()));
    await r.producer?.stop();
    await r.coursesProducer?.stop();
    await r.writeback?.stop();
    await r.history?.stop();
    await new Promise<void>((res) => (r.health ? r.health.close(() => res()) : res()));
    return { unfinished: left.reduce((n, l) => n + l.unfinished, 0), outage: left.some((l) => l.outage) };
  } };
  // Served from the first second, before any role has connected: /healthz answers while /readyz says what is still starting.
  let starting = true;
  const sources: HealthSource[] = [{ name: 'run', ready: () => !starting, reason: () => (starting ? 'roles connecting' : undefined) }];
  const port = opts.metricsPort ?? cfg.runtime.metricsPort;
  r.health = await serveHealth(port, () => sources, cfg.runtime.metricsHost, () => r.dashboard?.handle).catch((e: Error) => {
    log.warn({ port, host: cfg.runtime.metricsHost, err: e.message }, 'metrics/health endpoint not started');
    return undefined;
  });
  try {
    // Each server the roles need answers within runtime.connectTimeoutMs, or the start ends naming it.
    const needs: Record<string, Dependency[]> = {
      producer: ['kafka', 'registry', 'directory'], 'courses-producer': ['kafka', 'registry', 'mv'], writeback: ['kafka', 'registry', 'directory'],
      history: ['kafka', 'registry', 'mv'], schedule: ['kafka', 'registry', 'directory', 'mv'],
    };
    await requireReachable(cfg, (await want()).flatMap((role) => needs[role] ?? ['kafka', 'registry', 'directory', 'mv']));
    for (const role of await want()) {
      if (role === 'producer') {
        const p = new ChangelogProducer(cfg, kafka);
        await p.start();
        r.producer = p;
        sources.push({ name: 'producer', ready: () => p.stats.healthy });
      } else if (role === 'courses-producer') {
        const p = new CoursesProducer(cfg, kafka);
        await p.start();
        r.coursesProducer = p;
        sources.push({ name: 'courses-producer', ready: () => p.stats.healthy || p.stats.cycles === 0 && p.stats.errors === 0 });
      } else if (role === 'writeback') {
        const w = new Writeback(cfg, kafka);
        await w.start();
        r.writeback = w;
        sources.push({ name: 'writeback', ready: () => w.isReady(), reason: () => w.readiness() });
      } else if (role === 'history') {
        const h = new ResultsRecorder(cfg, kafka);
        await h.start();
        r.history = h;
        sources.push({ name: 'history', ready: () => h.isReady(), reason: () => h.readiness() });
      } else if (role === 'schedule') {
        if (!cfg.reconcile) throw new Error('role schedule: the configuration has no reconcile: block');
        const targets = await enabledTargets(cfg.targets);
        scheduleDb = new pg.Pool({ connectionString: cfg.mv.url, max: 2, ssl: pgSsl(cfg.mv) });
        scheduleDb.on('error', () => {});
        const sch = new Scheduler(scheduleDb, cfg.runtime.stateSchema, 'reconcile', cfg.reconcile,
          async () => { await scheduledReconciliation(cfg, kafka, targets); }, { holder: cfg.runtime.instanceId ? `${cfg.runtime.instanceId}:${process.pid}` : undefined });
        await sch.start();
        r.schedule = sch;
      } else if (role.startsWith('target:')) {
        const g = new TargetGroup(cfg, kafka, await getTarget(role.slice('target:'.length)));
        await g.start();
        r.groups.push(g);
        sources.push(...groupHealth(role, g));
      } else {
        throw new Error(`unknown role ${role} (producer, courses-producer, writeback, history, schedule or target:<name>)`);
      }
    }
  } catch (e) {
    // A role that cannot start ends the process's start: the others stop, the endpoint closes.
    await r.stop().catch(() => {});
    throw e;
  }
  if (cfg.runtime.statusIntervalSeconds > 0) r.status = startStatusMetrics(cfg, kafka, { targets: await enabledTargets(cfg.targets) }, cfg.runtime.statusIntervalSeconds * 1000);
  if (cfg.runtime.dashboard && r.health) {
    try {
      dashboardStore = new HistoryStore(cfg, { max: 3 });
      await dashboardStore.ensure();
      r.dashboard = createDashboard({ cfg, kafka, targets: await enabledTargets(cfg.targets), store: dashboardStore });
      const a = r.health.address();
      log.info({ url: typeof a === 'object' && a ? `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/` : undefined }, 'dashboard served');
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'dashboard not started');
    }
  }
  starting = false;
  return r;
}
