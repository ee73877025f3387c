import cliProgress from 'cli-progress';
import type { Config } from '../config.js';
import { countResults, formatReport, type Counters } from '../consumers/report.js';
import { child } from '../lib/log.js';
import { HistoryStore, type RunRecord } from './store.js';

const log = child({ component: 'runs' });

/**
 * Records what a command publishes under a run id, so the report knows how many results to wait
 * for. A store that cannot be reached costs the report its expected counts, never the run: the
 * events are published all the same (the report then says how many results came, not how many
 * are missing).
 */
export class RunLedger {
  private store: HistoryStore | undefined;
  private failed = false;

  constructor(private readonly cfg: Config) {}

  async add(run: { runId: string; mode: string; source: string; logOnly: boolean }, n: number, targets: readonly string[], done: boolean): Promise<void> {
    if (this.failed) return;
    try {
      if (!this.store) {
        this.store = new HistoryStore(this.cfg, { max: 1 });
        await this.store.ensure();
      }
      await this.store.addToRun(run, n, targets, done);
    } catch (e) {
      this.failed = true;
      log.warn({ run: run.runId, err: (e as Error).message }, 'the run is published but not recorded in the results store: its report cannot say what is missing');
    }
  }

  async close(): Promise<void> {
    await this.store?.close();
  }
}

export type RunState = 'publishing' | 'in flight' | 'done';

export interface TargetProgress {
  target: string;
  /** Events of the run addressed to the target; undefined when the run was not recorded. */
  expected?: number;
  results: number;
  /** Failed results: their events are dead-lettered. */
  deadLettered: number;
  inFlight: number;
  state: Exclude<RunState, 'publishing'>;
}

export interface RunReport {
  runId: string;
  run?: RunRecord;
  state: RunState;
  targets: TargetProgress[];
  counters: Map<string, Counters>;
}

/** The run from the results store: what was published, per target what came back, the seed's counters. Undefined for a run nobody knows. */
export async function runReport(store: HistoryStore, runId: string): Promise<RunReport | undefined> {
  const [run, progress, results] = await Promise.all([store.run(runId), store.runProgress(runId), store.runResults(runId)]);
  if (!run && !progress.length) return undefined;
  const names = [...new Set([...Object.keys(run?.expected ?? {}), ...progress.map((p) => p.target)])].sort();
  const targets = names.map((target): TargetProgress => {
    const p = progress.find((x) => x.target === target);
    const expected = run?.expected[target];
    const got = p?.results ?? 0;
    const inFlight = expected === undefined ? 0 : Math.max(0, expected - got);
    return { target, expected, results: got, deadLettered: p?.failed ?? 0, inFlight, state: inFlight ? 'in flight' : 'done' };
  });
  const state: RunState = run && !run.publishedAt ? 'publishing' : targets.some((t) => t.state !== 'done') ? 'in flight' : 'done';
  return { runId, run, state, targets, counters: countResults(results) };
}

export function formatRunReport(r: RunReport): string {
  const lines: string[] = [];
  const run = r.run;
  const about = run ? ` (${[run.mode.toLowerCase(), run.source, run.logOnly ? 'log only' : ''].filter(Boolean).join(', ')})` : '';
  const published = run ? `${run.published} event(s) published${run.publishedAt ? ` ${run.publishedAt.toISOString()}` : ' so far'}` : 'published events not recorded';
  lines.push(`run ${r.runId}${about}: ${published}; ${r.state.toUpperCase()}`);
  for (const t of r.targets) {
    const of = t.expected === undefined ? `${t.results} result(s)` : `${t.results}/${t.expected} result(s)`;
    lines.push(`  ${t.target.padEnd(10)} ${of}; ${t.state}${t.inFlight ? ` (${t.inFlight} in flight)` : ''}${t.deadLettered ? `; ${t.deadLettered} dead-lettered` : ''}`);
  }
  lines.push(formatReport(r.runId, r.counters).split('\n').slice(1).join('\n') || '  no results yet');
  return lines.join('\n');
}

/**
 * Follows a run's results as the store records them: per target a bar with rate and ETA (on a
 * terminal; otherwise a line every few seconds), until every target has answered every event.
 * Warns once when nothing arrives for `stallMs` (is the `history` role running?). Returns the
 * report at the end, or when `signal` aborts.
 */
export async function followRun(store: HistoryStore, runId: string, o: { tty?: boolean; pollMs?: number; stallMs?: number; signal?: AbortSignal; out?: NodeJS.WritableStream } = {}): Promise<RunReport | undefined> {
  const out = o.out ?? process.stderr;
  const pollMs = o.pollMs ?? 1000;
  const multi = o.tty ? new cliProgress.MultiBar({
    format: '{target} [{bar}] {value}/{total} {speed}/s ETA {eta_formatted}', hideCursor: true, clearOnComplete: false, etaBuffer: 30, stream: out as NodeJS.WriteStream,
  }, cliProgress.Presets.shades_classic) : undefined;
  const bars = new Map<string, cliProgress.SingleBar>();
  const started = Date.now();
  let lastChange = Date.now();
  let lastTotal = -1;
  let lastLine = 0;
  let warned = false;
  try {
    for (;;) {
      const r = await runReport(store, runId);
      const total = r?.targets.reduce((n, t) => n + t.results, 0) ?? 0;
      if (total !== lastTotal) { lastTotal = total; lastChange = Date.now(); }
      const secs = Math.max(1, (Date.now() - started) / 1000);
      for (const t of r?.targets ?? []) {
        const speed = (t.results / secs).toFixed(1);
        let bar = bars.get(t.target);
        if (multi && !bar) bars.set(t.target, (bar = multi.create(t.expected ?? t.results, t.results, { target: t.target.padEnd(10), speed })));
        bar?.setTotal(t.expected ?? t.results);
        bar?.update(t.results, { target: t.target.padEnd(10), speed });
      }
      if (!multi && r && Date.now() - lastLine >= 5000) {
        lastLine = Date.now();
        out.write(`${r.targets.map((t) => {
          const rate = t.results / secs;
          const eta = t.inFlight && rate > 0 ? ` ETA ${Math.ceil(t.inFlight / rate)} s` : '';
          return `${t.target} ${t.results}/${t.expected ?? '?'} (${rate.toFixed(1)}/s${eta})`;
        }).join('; ') || 'waiting for results'}\n`);
      }
      if (r && r.state === 'done') return r;
      if (!warned && Date.now() - lastChange > (o.stallMs ?? 60_000)) {
        warned = true;
        out.write(`no result of run ${runId} recorded for ${Math.round((Date.now() - lastChange) / 1000)} s: are the target groups and the history role running (tilgang run)?\n`);
      }
      if (o.signal?.aborted) return r;
      await new Promise((res) => setTimeout(res, pollMs));
    }
  } finally {
    multi?.stop();
  }
}
