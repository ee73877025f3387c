import client from 'prom-client';
import { log } from './log.js';
import { registry } from './metrics.js';

const up = new client.Gauge({
  name: 'tilgang_dependency_up', help: '1 while a server the process depends on answers, 0 while it does not', labelNames: ['dependency'], registers: [registry],
});

/**
 * Whether one server the process reads from (the directory, MV) answers, and since when.
 * Calls and a background probe report to it; `/readyz` reads it. Transitions are logged once.
 */
export class DependencyHealth {
  private isUp = true;
  private changedAt = Date.now();
  private error: string | undefined;

  constructor(readonly name: string) {
    up.set({ dependency: name }, 1);
  }

  get ready(): boolean {
    return this.isUp;
  }

  /** When it last went up or down (ms since the epoch). */
  get since(): number {
    return this.changedAt;
  }

  get lastError(): string | undefined {
    return this.error;
  }

  markUp(): void {
    if (this.isUp) return;
    log.info({ dependency: this.name, downMs: Date.now() - this.changedAt }, `${this.name} answers again`);
    this.isUp = true;
    this.changedAt = Date.now();
    this.error = undefined;
    up.set({ dependency: this.name }, 1);
  }

  markDown(error: string): void {
    this.error = error;
    if (!this.isUp) return;
    log.warn({ dependency: this.name, err: error }, `${this.name} does not answer`);
    this.isUp = false;
    this.changedAt = Date.now();
    up.set({ dependency: this.name }, 0);
  }
}

/** Runs `probe` every `intervalMs` (one at a time) until stopped; the probe reports to a DependencyHealth itself. */
export function every(intervalMs: number, probe: () => Promise<unknown>): { stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    await probe().catch(() => {});
    if (!stopped) { timer = setTimeout(tick, intervalMs); timer.unref(); }
  };
  timer = setTimeout(tick, intervalMs);
  timer.unref();
  return { stop() { stopped = true; clearTimeout(timer); } };
}

/** Rejects with `onTimeout()` when `work` has not settled within `ms`: a deadline no library state can outlive. */
export function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  work.catch(() => {}); // settled after the deadline: nobody is waiting for it any more
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(onTimeout()), ms); });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
