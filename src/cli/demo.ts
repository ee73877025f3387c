import type { Config } from '../config.js';
import { Directory } from '../directory/client.js';
import { log } from '../lib/log.js';
import { startRoles, type Running } from '../run.js';
import { up } from '../stack/index.js';
import { dir } from '../stack/process.js';
import { simulatorSettings } from '../spi/index.js';
import { enabledTargets, loadSimulator } from '../targets/index.js';

const SimulatorSettings = simulatorSettings.optional();

async function hasPeople(cfg: Config): Promise<boolean> {
  const d = await Directory.connect(cfg);
  try {
    for await (const ids of d.personIds(1)) return ids.length > 0;
    return false;
  } finally {
    await d.close();
  }
}

/**
 * What the demo reports: the producer's events, each target's results and dead letters, the
 * writeback's writes. Not the cookie: it moves with every write to the directory, also the ones
 * the producer passes over (the writeback's own, other subtrees), and would reprint the line.
 */
export function statusLine(r: Pick<Running, 'producer' | 'groups' | 'writeback'> & Partial<Pick<Running, 'coursesProducer' | 'history'>>): string {
  const p = r.producer?.stats;
  const groups = r.groups.map((g) => `${g.target.name}: ${g.counts.results} results, ${g.counts.dlq} dead-lettered`).join('; ');
  const courses = r.coursesProducer ? `courses producer: ${r.coursesProducer.stats.published} events; ` : '';
  const stored = r.history ? `; results store: ${r.history.counts.inserted} recorded` : '';
  return `producer: ${p?.published ?? 0} events; ${courses}${groups || 'no target groups'}; writeback: ${r.writeback?.counts.writes ?? 0} status writes${stored}`;
}

/** A check to call as often as wanted: it prints the line only when it differs from the last one printed. */
export function onChange(line: () => string, print: (line: string) => void): () => void {
  let last: string | undefined;
  return () => {
    const now = line();
    if (now === last) return;
    last = now;
    print(now);
  };
}

/**
 * `npm start`: the real stack, the sample university, the simulators of the systems that cannot
 * run here, and tilgang provisioning live, printing what happens until Ctrl-C.
 */
export async function runDemo(cfg: Config, o: { persons: number; reseed?: boolean; exitAfter?: number }): Promise<void> {
  const t0 = Date.now();
  console.log('tilgang demo: starting the stack (first time: installs Kafka, the schema registry and OpenLDAP)...');
  await up();
  console.log(`stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  if (o.reseed || !(await hasPeople(cfg))) {
    const { runSeed } = await import('../seed/index.js');
    console.log(`seeding a sample university of ${o.persons} people...`);
    const s = await runSeed(cfg, { persons: o.persons, seed: 1, progress: process.stderr.isTTY });
    console.log(`seeded ${s.persons} people, ${s.topics} topics, ${s.enrolments} enrolments in ${(s.timings.totalMs / 1000).toFixed(1)} s; ${s.badRecords.length} bad records planted on purpose`);
  } else {
    console.log('sample university already in the directory (use --reseed to replace it)');
  }

  const sims: { close(): Promise<void> }[] = [];
  const targets = await enabledTargets(cfg.targets);
  for (const t of targets) {
    const settings = SimulatorSettings.parse((cfg.targets[t.name] as { simulator?: unknown } | undefined)?.simulator);
    const sim = settings && await loadSimulator(t.name);
    if (!sim || !settings) continue;
    const s = await sim.start({ port: settings.port, latency: settings.latency, stateFile: settings.state ?? `${dir('sim')}/${t.name}.json`, global: cfg, faults: settings.faults });
    sims.push(s);
    console.log(`${t.name} simulator on ${s.url}`);
  }
  if (!targets.length) console.log('no targets enabled in the configuration: the producer and the writeback run alone');

  const r = await startRoles(cfg, 'all');
  console.log(`running: producer, ${r.coursesProducer ? 'courses producer, ' : ''}${targets.map((t) => `target ${t.name}`).join(', ') || 'no targets'}, writeback, results store; metrics on :${cfg.runtime.metricsPort}/metrics. Ctrl-C stops.`);
  console.log('in another terminal: tilgang status, tilgang history <username>, tilgang plan --all, tilgang sync --all --wait');
  const status = onChange(() => statusLine(r), (line) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`));
  const tick = setInterval(status, 1000);

  const stop = async () => {
    clearInterval(tick);
    await r.stop();
    for (const s of sims) await s.close();
  };
  await new Promise<void>((resolve) => {
    const finish = () => { stop().finally(resolve); };
    process.once('SIGINT', finish);
    process.once('SIGTERM', finish);
    if (o.exitAfter) setTimeout(finish, o.exitAfter * 1000);
  });
  log.info('demo stopped');
}
