import type { Logger } from 'pino';
import { backoffDelay } from '../lib/backoff.js';
import { metrics } from '../lib/metrics.js';

export interface Outage {
  /** What is unreachable: the target itself, or a dependency of the runtime (directory, registry). */
  dependency: string;
  since: Date;
  error: string;
  /** Probes that found it still down. */
  probes: number;
}

/**
 * Whether a target group can work. When a dependency keeps failing transiently beyond the
 * retries, the group stops taking events (its partitions paused, nothing dead-lettered), probes
 * with capped, jittered backoff, and resumes where it stopped once a probe gets through.
 * The probe is the next batch itself (or the target's `check`, when it has one).
 */
export class Availability {
  private down: Outage | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** A probe round is under way: the first failure ends it and schedules the next. */
  private probing = false;

  constructor(
    private readonly target: string,
    private readonly log: Logger,
    private readonly flow: { pause(): void; resume(): void },
    private readonly backoff: { baseMs: number; maxMs: number },
    /** Whether the target answers now; false when it cannot tell (then the next batch is the probe). */
    private readonly check?: () => Promise<boolean>,
  ) {}

  get outage(): Outage | undefined {
    return this.down;
  }

  /** For /readyz: why the group does not work now, or undefined. */
  reason(): string | undefined {
    const d = this.down;
    return d && `${d.dependency === 'target' ? `target ${this.target}` : d.dependency} unavailable since ${d.since.toISOString()}: ${d.error}`;
  }

  /** Retries ran out on a transient failure: pause, and probe later. */
  unavailable(dependency: string, error: string): void {
    if (this.stopped) return;
    if (!this.down) {
      this.down = { dependency, since: new Date(), error, probes: 0 };
      metrics.unavailableSince.set({ target: this.target, dependency }, Math.floor(this.down.since.getTime() / 1000));
      this.log.warn({ dependency, err: error }, 'unavailable: pausing the group\'s partitions, nothing is dead-lettered; probing until it answers');
    } else {
      this.down.error = error;
      // Batches already in flight report the same outage: the probe round they are not is scheduled already.
      if (!this.probing) {
        this.flow.pause();
        return;
      }
      this.probing = false;
      this.down.probes++;
    }
    this.flow.pause();
    this.schedule();
  }

  /** Work got through: resume. */
  available(): void {
    const d = this.down;
    if (!d) return;
    this.down = undefined;
    this.probing = false;
    clearTimeout(this.timer);
    metrics.unavailableSince.set({ target: this.target, dependency: d.dependency }, 0);
    this.log.warn({ dependency: d.dependency, downSeconds: Math.round((Date.now() - d.since.getTime()) / 1000), probes: d.probes }, 'available again: resuming');
    this.flow.resume();
  }

  /** After a new assignment: newly given partitions stay paused while the outage lasts. */
  reassert(): void {
    if (this.down) this.flow.pause();
  }

  /** Capped exponential backoff with full jitter, never below the base. */
  nextProbeMs(probes = this.down?.probes ?? 0): number {
    const { baseMs, maxMs } = this.backoff;
    return Math.max(baseMs, backoffDelay({ baseMs, capMs: Math.max(baseMs, maxMs), jitter: 'full' }, probes + 1));
  }

  private schedule(): void {
    clearTimeout(this.timer);
    const wait = this.nextProbeMs();
    this.log.info({ probeInMs: Math.round(wait) }, 'next probe');
    this.timer = setTimeout(() => { void this.probe(); }, wait);
  }

  private async probe(): Promise<void> {
    if (!this.down || this.stopped) return;
    if (this.check) {
      const ok = await this.check().catch(() => false);
      if (!ok) {
        this.down.probes++;
        this.schedule();
        return;
      }
    }
    // Let one round of batches through: their success calls available(), their failure unavailable().
    this.probing = true;
    this.flow.resume();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
