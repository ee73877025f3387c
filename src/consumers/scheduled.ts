import type { Kafka } from 'kafkajs';
import type { Config } from '../config.js';
import { log as rootLog } from '../lib/log.js';
import { coursesSync } from '../producers/courses-sync.js';
import { sync } from '../producers/sync.js';
import { COURSE_STREAM, type AnyTarget } from '../spi/index.js';
import { canListManaged, orphans, type OrphanReport } from './orphans.js';

export interface ScheduledRun {
  runId: string;
  published: number;
  /** The run of `courses sync --all`, when an enabled target consumes the course stream. */
  courses?: { runId: string; published: number };
  orphans: OrphanReport[];
}

/**
 * What the `reconcile:` schedule runs: `sync --all` (a SNAPSHOT of everyone, every target
 * reconciles), then the orphan check of every enabled target that can list its accounts
 * (listed in the log, or disabled through the guard with `orphans: apply`). A target whose
 * check fails is logged and the others go on. When a target consumes the course stream, also
 * `courses sync --all` (every course of the semesters in scope; the seed ran its courses job on a
 * schedule too): a semester that came into scope gets its courses even if the courses producer is
 * not running.
 */
export async function scheduledReconciliation(cfg: Config, kafka: Kafka, targets: AnyTarget[], o: { peopleDn?: string; topic?: string } = {}): Promise<ScheduledRun> {
  const log = rootLog.child({ component: 'schedule' });
  const settings = cfg.reconcile;
  const s = await sync(cfg, kafka, { all: true, logOnly: settings?.logOnly, peopleDn: o.peopleDn, topic: o.topic, source: 'schedule' });
  log.info({ runId: s.runId, published: s.published }, 'scheduled sync --all published');
  let courses: ScheduledRun['courses'];
  if (targets.some((t) => t.stream === COURSE_STREAM)) {
    try {
      const c = await coursesSync(cfg, kafka, { all: true, logOnly: settings?.logOnly, source: 'schedule' });
      courses = { runId: c.runId, published: c.published };
      log.info({ runId: c.runId, published: c.published }, 'scheduled courses sync --all published');
    } catch (e) {
      log.error({ err: (e as Error).message }, 'scheduled courses sync --all failed');
    }
  }
  const reports: OrphanReport[] = [];
  if ((settings?.orphans ?? 'list') !== 'off') {
    for (const t of targets.filter(canListManaged)) {
      try {
        const r = await orphans(cfg, kafka, t, { apply: settings?.orphans === 'apply', peopleDn: o.peopleDn });
        reports.push(r);
        for (const x of r.orphans) log.warn({ target: t.name, person: x.account.key, account: x.account.accountId, reason: x.reason }, 'orphan account');
        log.info({ target: t.name, scanned: r.scanned, orphans: r.orphans.length, runId: r.runId }, 'scheduled orphan check done');
      } catch (e) {
        log.error({ target: t.name, err: (e as Error).message }, 'scheduled orphan check failed');
      }
    }
  }
  return { runId: s.runId, published: s.published, ...(courses ? { courses } : {}), orphans: reports };
}
