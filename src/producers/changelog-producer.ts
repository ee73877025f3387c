import type { Admin, Kafka, Message } from 'kafkajs';
import type { Entry } from 'ldapts';
import type { Config } from '../config.js';
import { Directory } from '../directory/client.js';
import { ensureTopics, topicSettings } from '../lib/kafka.js';
import { eq } from '../lib/ldap/filter.js';
import { child } from '../lib/log.js';
import { metrics } from '../lib/metrics.js';
import { sleep } from '../stack/process.js';
import { AccesslogReader, cookieAfter, entryCsn, interpret, isSkip, type InterpretOptions, type Skip } from './changelog.js';
import { CookieStore, type ProducerState } from './cookie-store.js';
import { changeEvent, newRunId, PersonEventPublisher, runEvent } from './publisher.js';

/** The wait between looks at the log while changes keep coming. */
const ACTIVE_POLL_MS = 20;

export interface ChangelogProducerOptions {
  /** Names the transactional id and the cookie's key: one live producer per name. */
  name?: string;
  /** Override of directory.peopleDn (tests use a subtree of their own). */
  peopleDn?: string;
  pageSize?: number;
  /** The wait between looks at a quiet log (default 100 ms); while changes keep coming it is 20 ms at most. */
  pollMs?: number;
  /** Called inside each change transaction after its sends, before the commit (crash tests use it). */
  inTransaction?: () => Promise<void>;
}

export interface ProducerStats {
  published: number;
  skipped: Record<Skip['reason'], number>;
  snapshots: number;
  transactions: number;
  errors: number;
  cookie: string | undefined;
  healthy: boolean;
  lastError?: string;
}

/**
 * Reads the portal directory's change log after its cookie and publishes one PersonChanged per
 * change; the cookie is committed in the same Kafka transaction as the events, so a crash at any
 * point neither loses a change nor publishes one twice to read_committed consumers.
 */
export class ChangelogProducer {
  readonly stats: ProducerStats = {
    published: 0, snapshots: 0, transactions: 0, errors: 0, cookie: undefined, healthy: false,
    skipped: { malformed: 0, 'not-a-person': 0, 'no-idautoID': 0, 'own-write': 0, 'status-only': 0, 'unsupported-type': 0 },
  };
  private readonly log;
  private publisher: PersonEventPublisher;
  private readonly store: CookieStore;
  private readonly admin: Admin;
  private directory: Directory | undefined;
  private stopping = false;
  private running: Promise<void> | undefined;
  private readonly name: string;
  private readonly pageSize: number;
  private readonly pollMs: number;
  private readonly interpretOptions: InterpretOptions;
  private lastChangeAt = 0;

  constructor(private readonly cfg: Config, private readonly kafka: Kafka, private readonly opts: ChangelogProducerOptions = {}) {
    this.name = opts.name ?? 'default';
    this.pageSize = opts.pageSize ?? 1000;
    this.interpretOptions = { peopleDn: opts.peopleDn ?? cfg.directory.peopleDn, ownDn: cfg.directory.bindDn, sensitive: cfg.directory.sensitive };
    this.pollMs = opts.pollMs ?? 100;
    this.log = child({ component: 'producer', producer: this.name });
    this.publisher = new PersonEventPublisher(kafka, cfg, `tilgang.producer.${this.name}`);
    this.store = new CookieStore(kafka, cfg.kafka.topics.producerState, this.name, topicSettings(cfg));
    this.admin = kafka.admin();
  }

  private get peopleDn(): string {
    return this.opts.peopleDn ?? this.cfg.directory.peopleDn;
  }


  async start(): Promise<void> {
    await this.admin.connect();
    await ensureTopics(this.admin, [{ topic: this.cfg.kafka.topics.personChanged, partitions: this.cfg.kafka.partitions }], topicSettings(this.cfg));
    await this.store.ensure(this.admin);
    await this.publisher.connect();
    this.running = this.loop();
  }

  /** Finishes the transaction in flight, then stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => {});
    await this.directory?.close();
    await this.publisher.disconnect();
    await this.admin.disconnect().catch(() => {});
  }

  private async connectDirectory(): Promise<{ dir: Directory; reader: AccesslogReader }> {
    if (!this.directory) this.directory = await Directory.connect(this.cfg, { peopleDn: this.peopleDn });
    return { dir: this.directory, reader: new AccesslogReader(this.directory.client, this.cfg.directory.accesslogDn) };
  }

  private async loop(): Promise<void> {
    let state: ProducerState | undefined;
    let backoff = 250;
    let fresh = true;
    while (!this.stopping) {
      try {
        if (fresh) {
          // After any failure the committed cookie is the truth: a commit whose answer was lost
          // may have happened or not, and only reading the state topic back can tell. It can tell
          // only once the transactional id is initialised again (that finishes the lost commit or
          // aborts it): read before, the cookie may be older than events already committed.
          await this.publisher.connect();
          state = await this.store.load();
          this.log.debug({ cookie: state?.cookie }, 'committed cookie read');
          const { dir, reader } = await this.connectDirectory();
          state = await this.resolveStart(state, dir, reader);
          this.stats.cookie = state.cookie;
          fresh = false;
        }
        const { reader } = await this.connectDirectory();
        state = await this.follow(reader, state);
        this.stats.healthy = true;
        backoff = 250;
        if (!this.stopping) await sleep(this.pollWait());
      } catch (e) {
        // The directory or Kafka is away: say so, and come back to the committed cookie.
        this.stats.errors++;
        this.stats.healthy = false;
        this.stats.lastError = (e as Error).message;
        this.log.warn({ err: (e as Error).message, retryInMs: backoff }, 'producer cycle failed; retrying from the committed cookie');
        await this.directory?.close();
        this.directory = undefined;
        await this.renewPublisher();
        fresh = true;
        await sleep(backoff * (0.5 + Math.random()));
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }

  /**
   * How long to wait before looking at the log again: briefly while changes keep coming (a change
   * is published within tens of milliseconds), up to pollMs once the directory is quiet.
   */
  private pollWait(): number {
    return Date.now() - this.lastChangeAt < 2000 ? Math.min(ACTIVE_POLL_MS, this.pollMs) : this.pollMs;
  }

  /**
   * A new transactional producer with the same id: initialising it aborts whatever transaction
   * the old one left open, so nothing half-sent survives a broker restart or a lost commit answer.
   */
  private async renewPublisher(): Promise<void> {
    await this.publisher.disconnect();
    // Connected (and its id initialised) by the next cycle, before it reads the cookie.
    this.publisher = new PersonEventPublisher(this.kafka, this.cfg, `tilgang.producer.${this.name}`);
  }

  /**
   * No cookie, or a cookie the log no longer holds while it may have held changes after it (it was
   * purged while tilgang was down, possibly to nothing): changes may have been lost, so take a full
   * snapshot of every person instead of silently going on from the oldest entry.
   */
  private async resolveStart(state: ProducerState | undefined, dir: Directory, reader: AccesslogReader): Promise<ProducerState> {
    let cookie = state?.cookie;
    if (cookie && !cookie.includes('#')) cookie = await this.fromReqStart(reader, cookie);
    if (cookie) {
      if (await reader.exists(cookie)) return { ...state!, cookie };
      const oldest = await reader.oldest();
      // Entries are purged oldest first: one at or before the cookie left means none after it went.
      if (oldest && oldest <= cookie) return { ...state!, cookie };
      // An empty log whose last write is the cookie has lost nothing (a snapshot taken on an empty log).
      if (!oldest && (await reader.contextCsn()) === cookie) return { ...state!, cookie };
      this.log.warn({ cookie, oldest: oldest ?? 'none: the log is empty' }, 'the change log was purged past the cookie: changes may be missing, taking a full snapshot');
    } else {
      this.log.info('no cookie yet: taking a full snapshot, then following the change log');
    }
    return this.snapshot(dir, reader);
  }

  /** A cookie written before cookies were CSNs names an entry by its reqStart: go on from that entry's CSN. */
  private async fromReqStart(reader: AccesslogReader, reqStart: string): Promise<string | undefined> {
    const { searchEntries } = await reader.client.search(reader.base, { scope: 'one', filter: eq('reqStart', reqStart), attributes: ['entryCSN'] });
    return searchEntries[0] ? entryCsn(searchEntries[0]) : undefined;
  }

  private async snapshot(dir: Directory, reader: AccesslogReader): Promise<ProducerState> {
    const runId = newRunId();
    // Taken before reading people: a change made during the snapshot is published again after it, never lost.
    const latest = await reader.latest();
    const run = { runId, mode: 'SNAPSHOT' as const, logOnly: false, targets: null, source: 'accesslog-gap' };
    let n = 0;
    for await (const ids of dir.personIds(this.pageSize)) {
      await this.publisher.send(ids.map((id) => runEvent(id, run)));
      this.stats.transactions++;
      n += ids.length;
    }
    const state: ProducerState = { cookie: latest, snapshotRunId: runId, updatedAt: Date.now() };
    await this.publisher.send([], (txn) => this.store.save(txn, state));
    this.stats.snapshots++;
    this.stats.published += n;
    metrics.published.inc(n);
    this.stats.cookie = latest;
    this.log.info({ runId, persons: n, cookie: latest }, 'snapshot published');
    return state;
  }

  /**
   * Publishes the log after the cookie, one transaction a page, as a pipeline: while one page's
   * transaction commits, the next page is interpreted and encoded, and the one after it is being
   * read by the directory. Transactions still commit one after the other, in log order.
   */
  private async follow(reader: AccesslogReader, state: ProducerState | undefined): Promise<ProducerState | undefined> {
    const pages = reader.pages(state?.cookie, this.pageSize);
    // A page read ahead may fail (the connection dropped) while a commit is awaited: that failure is
    // taken when the page is awaited, and must not count as unhandled meanwhile, which ends the process.
    const readAhead = () => { const p = pages.next(); p.catch(() => {}); return p; };
    let next: Promise<IteratorResult<Entry[]>> | undefined = readAhead();
    let sending: Promise<ProducerState> | undefined;
    let cookie = state?.cookie;
    try {
      while (next) {
        const r: IteratorResult<Entry[]> = await next;
        next = r.done || this.stopping ? undefined : readAhead();
        if (r.done) break;
        if (!r.value.length) continue;
        this.lastChangeAt = Date.now();
        const batch = this.prepare(r.value, cookie);
        cookie = batch.cookie;
        if (sending) state = await sending;
        sending = this.commit(batch, state);
        sending.catch(() => {}); // awaited on the next round; a failure must not go unhandled meanwhile
        if (this.stopping) break;
      }
      if (sending) state = await sending;
      sending = undefined;
      return state;
    } finally {
      // Left early (stopping, or a failed send): a page still being read is of no use any more.
      if (next) next.then(() => pages.return(undefined), () => {}).catch(() => {});
    }
  }

  /** A page's events, encoded, and the cookie once they are published. */
  private prepare(page: Entry[], cookie: string | undefined): { messages: Message[]; cookie: string | undefined } {
    const events = [];
    const opts = this.interpretOptions;
    for (const entry of page) {
      const c = interpret(entry, opts);
      if (isSkip(c)) {
        this.stats.skipped[c.reason]++;
        metrics.skipped.inc({ reason: c.reason });
        const level = c.reason === 'malformed' || c.reason === 'no-idautoID' ? 'warn' : 'debug';
        this.log[level]({ dn: c.dn, position: c.position, reason: c.reason }, 'change log entry skipped');
        continue;
      }
      events.push(changeEvent(c));
    }
    return { messages: this.publisher.encode(events), cookie: cookieAfter(cookie, page) };
  }

  /** One transaction: the page's events and the cookie after them. */
  private async commit(batch: { messages: Message[]; cookie: string | undefined }, state: ProducerState | undefined): Promise<ProducerState> {
    const next: ProducerState = { ...state, cookie: batch.cookie, updatedAt: Date.now() };
    await this.publisher.commit(batch.messages, this.opts.inTransaction && (async () => this.opts.inTransaction!()), [this.store.message(next)]);
    this.stats.transactions++;
    this.stats.published += batch.messages.length;
    metrics.published.inc(batch.messages.length);
    this.stats.cookie = batch.cookie;
    return next;
  }
}
