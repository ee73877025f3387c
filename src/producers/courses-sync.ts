import type { Kafka } from 'kafkajs';
import type { Config } from '../config.js';
import { ensureTopicsOn } from '../lib/kafka.js';
import { semestersInScope, type Semester } from '../lib/semester.js';
import { MvReader } from '../mv/person.js';
import { courseEvent, CourseEventPublisher, type CourseRun } from './course-publisher.js';
import { newRunId } from './publisher.js';
import { SyncError } from './sync.js';

export interface CoursesSyncOptions {
  /** One topic, institution:code:version, whatever its semester. */
  sourceId?: string;
  /** Every topic of the semesters in scope. */
  all?: boolean;
  logOnly?: boolean;
  skipUsers?: boolean;
  targets?: string[];
  /** The clock (tests and rehearsals pick the date): which semesters are in scope for --all. */
  now?: Date;
  /** What the events say published them (default cli). */
  source?: string;
}

export interface CoursesSyncSummary { runId: string; published: number; scope: Semester[] }

const SOURCE_ID = /^[0-9]+:[^:\s]+:[0-9]+$/;

/**
 * The seed's PortalLdapToMoodle_Courses run modes: one course (`--source-id`, a REPROCESS event)
 * or every course of the semesters in scope (`--all`, SNAPSHOT events), under one run id.
 */
export async function coursesSync(cfg: Config, kafka: Kafka, o: CoursesSyncOptions): Promise<CoursesSyncSummary> {
  if (!!o.sourceId === !!o.all) throw new SyncError('say which courses: --source-id institution:code:version, or --all');
  if (o.sourceId && !SOURCE_ID.test(o.sourceId)) throw new SyncError(`--source-id ${o.sourceId} is not institution:code:version`);
  const scope = semestersInScope(o.now ?? new Date(), cfg.courses.nextSemesterFrom);
  const mv = MvReader.fromConfig(cfg.mv, { max: 1, probeMs: false });
  const runId = newRunId();
  const publisher = new CourseEventPublisher(kafka, cfg, `tilgang.courses-sync.${runId}`);
  try {
    const topics = await mv.topics(o.sourceId ? { ids: [o.sourceId] } : { semesters: scope });
    if (o.sourceId && !topics.size) throw new SyncError(`no topic ${o.sourceId} in MV's catalogue (master_topics)`);
    await ensureTopicsOn(kafka, [{ topic: cfg.kafka.topics.courseChanged, partitions: cfg.kafka.partitions }]);
    await publisher.connect();
    const run: CourseRun = {
      runId, mode: o.all ? 'SNAPSHOT' : 'REPROCESS', logOnly: !!o.logOnly, skipUsers: !!o.skipUsers, targets: o.targets?.length ? o.targets : null, source: o.source ?? 'cli',
    };
    const ids = [...topics.keys()];
    for (let i = 0; i < ids.length; i += 500) {
      await publisher.send(ids.slice(i, i + 500).map((id) => courseEvent(id, o.all ? 'SNAPSHOT' : 'REPROCESS', run)));
    }
    return { runId, published: ids.length, scope };
  } finally {
    await publisher.disconnect();
    await mv.close().catch(() => {});
  }
}
