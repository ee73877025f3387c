import { createHash } from 'node:crypto';
import type { Kafka, TopicMessages } from 'kafkajs';
import type { Config } from '../config.js';
import { ensureTopicsOn } from '../lib/kafka.js';
import { child } from '../lib/log.js';
import { readToEnd } from '../lib/read-to-end.js';
import { semestersInScope } from '../lib/semester.js';
import { MvReader, type CatalogueTopic } from '../mv/person.js';
import { sleep } from '../stack/process.js';
import { courseEvent, CourseEventPublisher, type CourseRun } from './course-publisher.js';

/** What of a topic makes its course: a change in any of these is a change to publish (its people are the person stream's). */
export function topicDigest(t: CatalogueTopic): string {
  const fields = [t.sourceId, t.institution, t.code, t.version, t.nameNb, t.nameEn, t.emnetype, t.term, t.year, t.stedkode, t.status];
  return createHash('sha256').update(JSON.stringify(fields)).digest('base64url').slice(0, 22);
}

export interface CoursesProducerOptions {
  /** Names the transactional id and the state's keys: one live producer per name. */
  name?: string;
  /** The clock (tests pick the date): which semesters are in scope. */
  now?: () => Date;
  pollMs?: number;
  /** Called inside each transaction after its sends, before the commit (crash tests use it). */
  inTransaction?: () => Promise<void>;
}

export interface CoursesProducerStats {
  published: number;
  cycles: number;
  errors: number;
  healthy: boolean;
  scope: string[];
  lastError?: string;
}

const CHUNK = 500;

/**
 * Follows MV's course catalogue: every `pollMs` it reads the topics of the semesters in scope
 * (the current one, and the next from `courses.nextSemesterFrom` on) and publishes a
 * CourseChanged for each topic added or changed since it last published it.
 *
 * MV's master_topics has no change column and tilgang does not write triggers into MV: what the
 * producer published is remembered as a digest per topic in the producer state topic (compacted,
 * key `courses:<name>:<sourceId>`), written in the same Kafka transaction as the events. A crash
 * leaves both or neither, so a restart publishes exactly what changed since the last commit, a
 * topic changed while it was down included; and a semester entering scope (the month turned)
 * publishes its topics, which the producer never published.
 */
export class CoursesProducer {
  readonly stats: CoursesProducerStats = { published: 0, cycles: 0, errors: 0, healthy: false, scope: [] };
  private readonly log;
  private publisher: CourseEventPublisher;
  private readonly mv: MvReader;
  private readonly name: string;
  private readonly now: () => Date;
  private readonly pollMs: number;
  private readonly prefix: string;
  private published = new Map<string, string>();
  private stopping = false;
  private running: Promise<void> | undefined;

  constructor(private readonly cfg: Config, private readonly kafka: Kafka, private readonly opts: CoursesProducerOptions = {}) {
    this.name = opts.name ?? 'default';
    this.now = opts.now ?? (() => new Date());
    this.pollMs = opts.pollMs ?? cfg.courses.pollMs;
    this.prefix = `courses:${this.name}:`;
    this.log = child({ component: 'courses-producer', producer: this.name });
    this.publisher = this.newPublisher();
    this.mv = MvReader.fromConfig(cfg.mv, { max: 2 });
  }

  private newPublisher(): CourseEventPublisher {
    return new CourseEventPublisher(this.kafka, this.cfg, `tilgang.courses-producer.${this.name}`);
  }

  async start(): Promise<void> {
    await ensureTopicsOn(this.kafka, [
      { topic: this.cfg.kafka.topics.courseChanged, partitions: this.cfg.kafka.partitions },
      { topic: this.cfg.kafka.topics.producerState, partitions: 1, compact: true },
    ]);
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => {});
    await this.publisher.disconnect();
    await this.mv.close().catch(() => {});
  }

  /**
   * The digests committed so far. Read only after the transactional producer is initialised:
   * that aborts a predecessor's open transaction or waits for its commit, so what is read is final.
   */
  private async loadState(): Promise<void> {
    const m = new Map<string, string>();
    await readToEnd(this.kafka, this.cfg.kafka.topics.producerState, (msg) => {
      const key = msg.key?.toString() ?? '';
      if (!key.startsWith(this.prefix)) return;
      const id = key.slice(this.prefix.length);
      if (msg.value) m.set(id, (JSON.parse(msg.value.toString()) as { digest: string }).digest);
      else m.delete(id);
    });
    this.published = m;
  }

  private async loop(): Promise<void> {
    let fresh = true;
    let backoff = 250;
    while (!this.stopping) {
      try {
        if (fresh) {
          await this.publisher.connect();
          await this.loadState();
          this.log.info({ topics: this.published.size }, 'courses producer: published state read');
          fresh = false;
        }
        await this.cycle();
        this.stats.healthy = true;
        backoff = 250;
        await this.pause(this.pollMs);
      } catch (e) {
        this.stats.errors++;
        this.stats.healthy = false;
        this.stats.lastError = (e as Error).message;
        this.log.warn({ err: (e as Error).message, retryInMs: backoff }, 'courses producer cycle failed; retrying from the committed state');
        // A new transactional producer of the same id aborts whatever the old one left open.
        await this.publisher.disconnect();
        this.publisher = this.newPublisher();
        fresh = true;
        await this.pause(backoff * (0.5 + Math.random()));
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }

  private async pause(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!this.stopping && Date.now() < until) await sleep(Math.min(100, until - Date.now()));
  }

  /** One look at the catalogue: the topics in scope added or changed since last published, one transaction per chunk. */
  async cycle(): Promise<number> {
    const scope = semestersInScope(this.now(), this.cfg.courses.nextSemesterFrom);
    this.stats.scope = scope.map((s) => `${s.year}:${s.term}`);
    const topics = await this.mv.topics({ semesters: scope });
    const changed: { t: CatalogueTopic; digest: string; added: boolean }[] = [];
    for (const t of topics.values()) {
      const digest = topicDigest(t);
      const was = this.published.get(t.sourceId);
      if (was !== digest) changed.push({ t, digest, added: was === undefined });
    }
    const run: CourseRun = { runId: null, mode: 'LIVE', logOnly: false, skipUsers: false, targets: null, source: 'catalogue' };
    for (let i = 0; i < changed.length && !this.stopping; i += CHUNK) {
      const part = changed.slice(i, i + CHUNK);
      const state: TopicMessages = {
        topic: this.cfg.kafka.topics.producerState,
        messages: part.map((c) => ({ key: `${this.prefix}${c.t.sourceId}`, value: JSON.stringify({ digest: c.digest, at: Date.now() }) })),
      };
      await this.publisher.send(part.map((c) => courseEvent(c.t.sourceId, c.added ? 'ADDED' : 'CHANGED', run)), [state], this.opts.inTransaction);
      for (const c of part) this.published.set(c.t.sourceId, c.digest);
      this.stats.published += part.length;
    }
    this.stats.cycles++;
    if (changed.length) this.log.info({ published: changed.length, scope: this.stats.scope }, 'courses published');
    return changed.length;
  }
}

