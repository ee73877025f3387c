import { Command, InvalidArgumentError, Option } from 'commander';
import { ConfigError, type Config } from '../config.js';
import { COURSE_STREAM } from '../spi/index.js';
import type { FaultSettingsInput } from '../lib/faults.js';
import { dlqTopic, readDeadLetters, redrive, WRITEBACK } from '../consumers/dlq.js';
import { MassChangeGuard } from '../consumers/guard.js';
import { makeKafka } from '../lib/kafka.js';
import { log } from '../lib/log.js';
import { MvReader } from '../mv/person.js';
import { ChangelogProducer } from '../producers/changelog-producer.js';
import { newRunId, reprocessForTarget } from '../producers/publisher.js';
import { KEY_FIELDS, sync, type KeyField } from '../producers/sync.js';
import { requireReachable } from '../lib/reachable.js';
import { startRoles, type Role } from '../run.js';
import { down, reset, status, up } from '../stack/index.js';
import { enabledTargets, getTarget, loadSimulator } from '../targets/index.js';
import { explain, formatExplain } from '../consumers/explain.js';
import { canListManaged, formatOrphans, orphans } from '../consumers/orphans.js';
import { checkedConfig, requireTargets, runWasPublished, UsageError } from './checks.js';
import { runDemo } from './demo.js';
import { formatStatus, groupLag, statusSnapshot } from '../consumers/status.js';
import { HistoryStore } from '../history/store.js';
import { formatPlanAll, planAll } from '../consumers/plan-all.js';
import { parseBound, replay } from '../producers/replay.js';
import { followRun, formatRunReport, runReport } from '../history/runs.js';
import { formatHistory, parseSince, personHistory } from '../history/query.js';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('a whole number');
  return n;
};

const program = new Command('tilgang')
  .description('Event-driven identity provisioning from the portal directory to Moodle, AD, Lenel and WISEflow')
  .option('-c, --config <file>', 'configuration file (default: TILGANG_CONFIG, else ./tilgang.yaml, else the example tilgang.example.yaml); a named file must exist')
  .showHelpAfterError();

let loaded: Promise<Config> | undefined;
/** The whole configuration, checked once per command (see checkedConfig). */
const config = (): Promise<Config> => (loaded ??= checkedConfig(program.opts<{ config?: string }>().config));

/** Runs until SIGINT/SIGTERM, then lets work in flight finish and commit. */
function untilSignal(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (sig: string) => {
      log.info({ signal: sig }, 'stopping: finishing work in flight');
      stop().then(resolve, (e) => { log.error({ err: (e as Error).message }, 'stop failed'); resolve(); });
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

const stack = program.command('stack').description('the local servers: Kafka, schema registry, OpenLDAP, PostgreSQL, Samba AD DC');
stack.command('up').argument('[services...]').description('install what is missing and start every server').action(async (names: string[]) => {
  await up(names);
  printStatus(await status(names));
});
stack.command('down').argument('[services...]').action(async (names: string[]) => { await down(names); });
stack.command('reset').argument('[services...]').description('stop and drop the data of the servers (not their binaries)').action(async (names: string[]) => { await reset(names); });
stack.command('status').argument('[services...]').action(async (names: string[]) => {
  const st = await status(names);
  printStatus(st);
  if (st.some((s) => !s.healthy)) process.exitCode = 1;
});

function printStatus(st: Awaited<ReturnType<typeof status>>) {
  console.log(`${'service'.padEnd(12)} ${'ports'.padEnd(14)} ${'pid'.padEnd(8)} health`);
  for (const s of st) console.log(`${s.name.padEnd(12)} ${s.ports.join(',').padEnd(14)} ${String(s.pid ?? '-').padEnd(8)} ${s.healthy ? 'up' : 'DOWN'}`);
}

program.command('seed').description('fill the directory and MV with a deterministic sample university (replaces the previous sample)')
  .option('--persons <n>', 'people to generate', int, 2000)
  .option('--seed <n>', 'seed value', int, 1)
  .option('--mv-only', 'load MV only, not the directory')
  .action(async (o: { persons: number; seed: number; mvOnly?: boolean }) => {
    const { runSeed } = await import('../seed/index.js');
    const cfg = await config();
    await requireReachable(cfg, o.mvOnly ? ['mv'] : ['mv', 'directory']);
    const s = await runSeed(cfg, { persons: o.persons, seed: o.seed, directory: !o.mvOnly, progress: process.stderr.isTTY });
    console.log(`seeded ${s.persons} people, ${s.orgUnits} org units, ${s.topics} topics, ${s.enrolments} enrolments; ${s.badRecords.length} bad records planted (${(s.timings.totalMs / 1000).toFixed(1)} s)`);
  });

program.command('produce').description('follow the directory change log and publish person.changed events')
  .action(async () => {
    const cfg = await config();
    await requireReachable(cfg, ['kafka', 'registry', 'directory']);
    const p = new ChangelogProducer(cfg, makeKafka(cfg));
    await p.start();
    await untilSignal(() => p.stop());
  });

program.command('sync').description('publish events for chosen people: one (--key-field/--key-value), a file, or everyone (--all)')
  .addOption(new Option('--key-field <field>', 'which identifier --key-value is').choices(Object.keys(KEY_FIELDS)))
  .option('--key-value <value>', 'the identifier of the one person to reprocess')
  .option('--all', 'a snapshot event for every person: a full reconciliation')
  .option('--limit <n>', 'at most this many people (the seed\'s process_total)', int)
  .option('--persons-file <file>', 'a file of idautoIDs, one per line')
  .option('--log-only', 'consumers plan and report but change nothing')
  .option('--target <name...>', 'address these targets only')
  .option('--wait', 'follow the results per target (rate, ETA) until the run is done, then print its report')
  .action(async (o: { keyField?: KeyField; keyValue?: string; all?: boolean; limit?: number; personsFile?: string; logOnly?: boolean; target?: string[]; wait?: boolean }) => {
    const cfg = await config();
    if (o.target) requireTargets(cfg, o.target, { enabledOnly: true });
    await requireReachable(cfg, ['kafka', 'registry', 'directory']);
    const s = await sync(cfg, makeKafka(cfg), { ...o, targets: o.target, progress: process.stderr.isTTY });
    console.log(`run ${s.runId}: ${s.published} ${s.mode} event(s) published${o.logOnly ? ' (log only)' : ''}`);
    if (s.unknown.length) {
      console.error(`${s.unknown.length} id(s) not in the directory: ${s.unknown.slice(0, 20).join(', ')}${s.unknown.length > 20 ? ', ...' : ''}`);
      process.exitCode = 2;
    }
    if (o.wait) await waitAndReport(cfg, s.runId);
    else console.log(`see the counters with: tilgang report ${s.runId}`);
  });

const courses = program.command('courses').description('MV\'s course catalogue on course.changed (the seed\'s PortalLdapToMoodle_Courses)');
courses.command('sync').description('publish one course (--source-id) or every course of the semesters in scope (--all)')
  .option('--source-id <id>', 'the topic, institution:code:version (whatever its semester)')
  .option('--all', 'every topic of the semesters in scope')
  .option('--log-only', 'consumers plan and report but change nothing')
  .option('--skip-users', 'a course made now does not reprocess its people')
  .option('--target <name...>', 'address these targets only')
  .option('--date <YYYY-MM-DD>', 'take this as today: which semesters are in scope', (v: string) => {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(`${v}T12:00:00Z`))) throw new InvalidArgumentError('a date, YYYY-MM-DD');
    return new Date(`${v}T12:00:00Z`);
  })
  .action(async (o: { sourceId?: string; all?: boolean; logOnly?: boolean; skipUsers?: boolean; target?: string[]; date?: Date }) => {
    const cfg = await config();
    if (o.target) requireTargets(cfg, o.target, { enabledOnly: true });
    const { coursesSync } = await import('../producers/courses-sync.js');
    const s = await coursesSync(cfg, makeKafka(cfg), { ...o, targets: o.target, now: o.date });
    const scope = o.all ? ` of ${s.scope.map((x) => `${x.term} ${x.year}`).join(' and ')}` : '';
    console.log(`run ${s.runId}: ${s.published} course event(s)${scope} published${o.logOnly ? ' (log only)' : ''}${o.skipUsers ? ', people not reprocessed' : ''}`);
    console.log(`see the counters with: tilgang report ${s.runId}`);
  });
courses.command('produce').description('follow the catalogue (master_topics) and publish course.changed for topics added or changed')
  .action(async () => {
    const cfg = await config();
    const { CoursesProducer } = await import('../producers/courses-producer.js');
    const p = new CoursesProducer(cfg, makeKafka(cfg));
    await p.start();
    await untilSignal(() => p.stop());
  });

program.command('replay').argument('<target>').description('reprocess through one target the people of a slice of person.changed (the live groups\' positions are not touched)')
  .requiredOption('--from <when>', 'an ISO time, an offset (every partition) or offsets per partition (0:1200,1:980)')
  .option('--to <when>', 'where the slice ends (not included); default: the topic\'s end now')
  .option('--persons-file <file>', 'only these idautoIDs (one a line) among the people in the slice')
  .option('--log-only', 'the target plans and reports but changes nothing')
  .option('--no-wait', 'publish and return; do not follow the run to its report')
  .action(async (target: string, o: { from: string; to?: string; personsFile?: string; logOnly?: boolean; wait: boolean }) => {
    const cfg = await config();
    requireTargets(cfg, [target], { enabledOnly: true });
    try {
      parseBound(o.from);
      if (o.to) parseBound(o.to);
    } catch (e) {
      throw new UsageError(`--from/--to: ${(e as Error).message}`);
    }
    await requireReachable(cfg, ['kafka', 'registry', 'mv']);
    const r = await replay(cfg, makeKafka(cfg), target, { ...o, progress: process.stderr.isTTY });
    const slice = r.ranges.map((x) => `${x.partition}:${x.start}-${x.end - 1}`).join(', ') || 'empty';
    console.log(`read ${r.read} event(s) of ${cfg.kafka.topics.personChanged} (partition:offsets ${slice})${r.undecodable ? `, ${r.undecodable} undecodable` : ''}`);
    if (!r.people.length) return console.log('nobody to reprocess in that slice');
    console.log(`run ${r.runId}: ${r.people.length} person(s) sent to ${target}${o.logOnly ? ' (log only)' : ''}`);
    if (o.wait) await waitAndReport(cfg, r.runId);
    else console.log(`see the counters with: tilgang report ${r.runId}`);
  });

program.command('plan').description('what every enabled target would do for everyone now: counts per operation and a list (changes nothing, publishes nothing)')
  .requiredOption('--all', 'the whole population (for one person: tilgang explain)')
  .option('--target <name...>', 'these targets only')
  .option('--limit <n>', 'the first N people only', int)
  .option('--list <n>', 'list at most this many people per target', int, 50)
  .option('--json', 'everything as JSON')
  .action(async (o: { target?: string[]; limit?: number; list: number; json?: boolean }) => {
    const cfg = await config();
    if (o.target) requireTargets(cfg, o.target, { enabledOnly: true });
    await requireReachable(cfg, ['directory', 'mv']);
    const targets = (await enabledTargets(cfg.targets)).filter((t) => !o.target || o.target.includes(t.name));
    const plans = await planAll(cfg, targets, { limit: o.limit, progress: process.stderr.isTTY });
    console.log(o.json ? JSON.stringify(plans, null, 2) : formatPlanAll(plans, { list: o.list }));
  });

program.command('run').description('run the producer, every enabled target group and the writeback (or one role)')
  .option('--role <role...>', 'producer | writeback | history | schedule | target:<name>')
  .option('--metrics-port <port>', '/metrics, /healthz, /readyz', int)
  .action(async (o: { role?: Role[]; metricsPort?: number }) => {
    const cfg = await config();
    const bad = (o.role ?? []).filter((r) => r !== 'producer' && r !== 'courses-producer' && r !== 'writeback' && r !== 'history' && r !== 'schedule' && !r.startsWith('target:'));
    if (bad.length) throw new UsageError(`unknown role ${bad.join(', ')} (producer, courses-producer, writeback, history, schedule or target:<name>)`);
    const named = (o.role ?? []).filter((r) => r.startsWith('target:')).map((r) => r.slice('target:'.length));
    requireTargets(cfg, named, { enabledOnly: true });
    const r = await startRoles(cfg, o.role ?? 'all', { metricsPort: o.metricsPort });
    log.info({ roles: o.role ?? 'all' }, 'running');
    await untilSignal(async () => {
      const { unfinished, outage } = await r.stop();
      // 3: stopped cleanly, but work was left: events in flight uncommitted, or a target's events waiting out an outage.
      if (unfinished || outage) {
        log.warn({ unfinished, outage }, 'stopped with work left: the next worker of the group does it');
        process.exitCode = 3;
      }
    });
  });

program.command('demo').description('the whole stack with the sample university, provisioning live (npm start)')
  .option('--persons <n>', 'people in the sample university', int, 2000)
  .option('--reseed', 'replace the sample university even when one is there')
  .option('--exit-after <seconds>', 'stop after this long (default: run until Ctrl-C)', int)
  .action(async (o: { persons: number; reseed?: boolean; exitAfter?: number }) => {
    await runDemo(await config(), o);
  });

program.command('sim').description('serve a simulator of a target system\'s API').argument('<target>')
  .option('--port <port>', 'port', int, 0)
  .option('--state <file>', 'keep the simulated system\'s state in this file')
  .option('--latency', 'add the real system\'s measured latency and worker pool')
  .action(async (name: string, o: { port: number; state?: string; latency?: boolean }) => {
    await getTarget(name);
    const sim = await loadSimulator(name);
    if (!sim) throw new Error(`target ${name} has no simulator`);
    // The simulator accepts the token tilgang is configured with; without a configuration, its defaults.
    let global: Config | undefined;
    try {
      global = await config();
    } catch (e) {
      // Only the absence of any configuration is tolerated; a named file that is missing or wrong is not.
      if (!(e instanceof ConfigError) || program.opts<{ config?: string }>().config || process.env.TILGANG_CONFIG) throw e;
    }
    // Fault injection as the configuration's simulator block sets it (targets.<name>.simulator.faults).
    const faults = (global?.targets[name] as { simulator?: { faults?: FaultSettingsInput } } | undefined)?.simulator?.faults;
    const s = await sim.start({ port: o.port, stateFile: o.state, latency: !!o.latency, global, faults });
    console.log(`${name} simulator listening on ${s.url}`);
    await untilSignal(() => s.close());
  });

const dlq = program.command('dlq').description('the dead-letter topic of a target, or of the writeback (`writeback`)');
dlq.command('list').argument('<target>', 'a target name, or writeback').action(async (target: string) => {
  const cfg = await config();
  requireTargets(cfg, [target], { also: [WRITEBACK] });
  await requireReachable(cfg, ['kafka']);
  const { letters } = await readDeadLetters(makeKafka(cfg), target, undefined, cfg.kafka.prefix);
  if (!letters.length) return console.log(`${dlqTopic(target, cfg.kafka.prefix)}: empty`);
  for (const l of letters) {
    const who = l.personId || `(no person; key ${l.key ?? 'none'})`;
    const of = l.resultTarget ? `  [${l.resultTarget}]` : '';
    console.log(`${l.offset.padStart(6)}  ${l.failedAt}  ${who}${of}  ${l.error?.code ?? ''}: ${l.error?.message ?? ''}  (attempts ${l.attempts})`);
  }
  console.log(`${letters.length} dead letter(s); redrive with: tilgang dlq redrive ${target}`);
});
dlq.command('redrive').argument('<target>', 'a target name, or writeback').action(async (target: string) => {
  const cfg = await config();
  requireTargets(cfg, [target], { also: [WRITEBACK] });
  await requireReachable(cfg, ['kafka', 'registry']);
  const stream = target === WRITEBACK ? undefined : (await getTarget(target)).stream;
  const r = await redrive(cfg, makeKafka(cfg), target, { stream });
  const to = target === WRITEBACK ? 'their targets (the new results are written back)' : target;
  const what = stream === COURSE_STREAM ? 'course(s)' : 'person(s)';
  console.log(r.people ? `run ${r.runId}: ${r.people} ${what} sent back to ${to}` : 'nothing to redrive');
  if (r.unaddressed) console.log(`${r.unaddressed} letter(s) name no person or no target (bytes that were not an event): marked done, nothing to send back`);
});

const guard = program.command('guard').description('the mass-change guard of a target');
async function withGuard<T>(target: string, fn: (g: MassChangeGuard, cfg: Config) => Promise<T>): Promise<T> {
  const cfg = await config();
  requireTargets(cfg, [target]);
  await requireReachable(cfg, ['mv']);
  const mv = MvReader.fromConfig(cfg.mv, { max: 2 });
  try {
    const g = new MassChangeGuard(mv.pool, cfg.runtime.stateSchema);
    await g.ensure();
    return await fn(g, cfg);
  } finally {
    await mv.close();
  }
}
guard.command('status').argument('<target>').action((target: string) => withGuard(target, async (g, cfg) => {
  const window = cfg.runtime.guard.targets[target]?.windowMinutes ?? cfg.runtime.guard.windowMinutes;
  const s = await g.state(target, window);
  const counted = `${s.counted} applied destructive operation(s) count toward the limit (last ${window} min, since the last release)`;
  console.log(s.tripped ? `${target}: HOLDING since ${s.trippedAt?.toISOString()}: ${s.reason}; ${s.held} person(s) held` : `${target}: open${s.held ? ` (${s.held} held)` : ''}; ${counted}`);
}));
guard.command('release').argument('<target>').description('let the held operations through: the held people are reprocessed').action((target: string) => withGuard(target, async (g, cfg) => {
  const runId = newRunId();
  const ids = await g.release(target, runId);
  await reprocessForTarget(makeKafka(cfg), cfg, ids, target, { runId, source: 'guard-release' });
  console.log(`${target}: released; ${ids.length} held person(s) reprocessed in run ${runId}`);
}));

program.command('config').description('the configuration').command('reference').description('every configuration key with its type and default, in Markdown (docs/configuration.md)')
  .action(async () => {
    const { configReference } = await import('./config-reference.js');
    process.stdout.write(await configReference());
  });

program.command('explain').description('what each enabled target would do for one person now, and why (changes nothing)')
  .argument('[key]', 'the person\'s identifier (or --key-value)')
  .addOption(new Option('--key-field <field>', 'which identifier the key is').choices(Object.keys(KEY_FIELDS)).default('username'))
  .option('--key-value <value>', 'the person\'s identifier')
  .option('--target <name...>', 'these targets only')
  .option('--json', 'the whole explanation as JSON, for scripts')
  .action(async (key: string | undefined, o: { keyField: KeyField; keyValue?: string; target?: string[]; json?: boolean }) => {
    const value = key ?? o.keyValue;
    if (!value) throw new UsageError('explain needs the person\'s identifier: tilgang explain <key> [--key-field username|uh-username|idautoID]');
    const cfg = await config();
    if (o.target) requireTargets(cfg, o.target, { enabledOnly: true });
    const targets = (await enabledTargets(cfg.targets)).filter((t) => !o.target || o.target.includes(t.name));
    await requireReachable(cfg, ['directory', 'mv']);
    const store = new HistoryStore(cfg, { max: 2 });
    try {
      await store.ensure();
      const x = await explain(cfg, targets, o.keyField, value, { lastResults: (personId, target) => store.history({ personId, target, limit: 5 }) });
      console.log(o.json ? JSON.stringify(x, null, 2) : formatExplain(x));
      if (x.duplicate) process.exitCode = 2;
    } finally {
      await store.close();
    }
  });

program.command('history').argument('<key>', 'the person: a username, or what --key-field names').description('what happened to one person, when, why and with what error (the results store)')
  .addOption(new Option('--key-field <field>', 'which identifier <key> is').choices(Object.keys(KEY_FIELDS)).default('username'))
  .option('--target <name>', 'this target only')
  .option('--since <when>', 'an ISO time, or a duration back from now (90m, 12h, 7d)')
  .option('--limit <n>', 'at most this many results, newest first', int, 200)
  .option('--json', 'the results as JSON')
  .action(async (key: string, o: { keyField: KeyField; target?: string; since?: string; limit: number; json?: boolean }) => {
    const cfg = await config();
    if (o.target) requireTargets(cfg, [o.target]);
    await requireReachable(cfg, ['mv']);
    let since: Date | undefined;
    try {
      since = o.since ? parseSince(o.since) : undefined;
    } catch (e) {
      throw new UsageError(`--since: ${(e as Error).message}`);
    }
    const store = new HistoryStore(cfg, { max: 2 });
    try {
      const h = await personHistory(cfg, store, o.keyField, key, { target: o.target, since, limit: o.limit });
      console.log(o.json ? JSON.stringify(h, null, 2) : formatHistory(h));
    } finally {
      await store.close();
    }
  });

program.command('orphans').argument('<target>').description('accounts with tilgang\'s anchor whose person is gone from the directory or no longer entitled')
  .option('--apply', 'disable them through the normal plan and the mass-change guard (never deleted)')
  .option('--json', 'the report as JSON')
  .action(async (name: string, o: { apply?: boolean; json?: boolean }) => {
    const cfg = await config();
    requireTargets(cfg, [name], { enabledOnly: true });
    const target = await getTarget(name);
    if (!canListManaged(target)) throw new UsageError(`target ${name} cannot list the accounts it manages: it has no orphan check`);
    await requireReachable(cfg, o.apply ? ['kafka', 'registry', 'directory', 'mv'] : ['directory', 'mv']);
    const r = await orphans(cfg, makeKafka(cfg), target, { apply: o.apply });
    console.log(o.json ? JSON.stringify(r, null, 2) : formatOrphans(r));
    if (r.results?.some((x) => x.outcome === 'FAILED' || x.outcome === 'HELD')) process.exitCode = 2;
  });

program.command('status').description('per target: lag, events/s, outcomes of the last hour, dead letters, guard; the producer behind the change log; the writeback\'s and the results store\'s lag')
  .option('--json', 'the figures as JSON')
  .action(async (o: { json?: boolean }) => {
    const cfg = await config();
    const s = await statusSnapshot(cfg, makeKafka(cfg), { targets: await enabledTargets(cfg.targets) });
    console.log(o.json ? JSON.stringify(s, null, 2) : formatStatus(s));
  });

program.command('report').argument('<run-id>').description('a run from the results store: events published, done / in flight / dead-lettered per target, the seed\'s counters')
  .option('--json', 'the report as JSON')
  .action(async (runId: string, o: { json?: boolean }) => {
    const cfg = await config();
    await requireReachable(cfg, ['mv']);
    const store = new HistoryStore(cfg, { max: 2 });
    try {
      await store.ensure();
      const r = await runReport(store, runId);
      if (r && o.json) return console.log(JSON.stringify({ ...r, counters: Object.fromEntries(r.counters) }, null, 2));
      if (r) {
        console.log(formatRunReport(r));
        // In flight may be the store behind the results topic, not the targets behind their events: say which.
        if (r.state !== 'done') {
          const lag = await storeLag(cfg).catch(() => undefined);
          if (lag) console.log(`  the results store is ${lag} result(s) behind the results topic: some of these may be done`);
        }
        return;
      }
      // Not recorded (published while the store could not be reached, or by an older version): the topic says whether it exists.
      await requireReachable(cfg, ['kafka', 'registry']);
      const kafka = makeKafka(cfg);
      if (!(await runWasPublished(kafka, cfg.registry, cfg.kafka.topics.personChanged, runId))) {
        throw new UsageError(`no run ${runId}: no event or result carries this run id`);
      }
      console.log(`run ${runId}: published, but not recorded in the results store and no result recorded yet`);
    } finally {
      await store.close();
    }
  });

/** How many results the results store has not yet recorded (its group's lag). */
async function storeLag(cfg: Config): Promise<number> {
  const admin = makeKafka(cfg).admin();
  await admin.connect();
  try {
    return (await groupLag(admin, cfg.history.groupId, cfg.kafka.topics.provisioningResult)).lag;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Follows a run until every target answered every event (Ctrl-C stops following, not the run), then prints its report. */
async function waitAndReport(cfg: Config, runId: string): Promise<void> {
  const store = new HistoryStore(cfg, { max: 2 });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  try {
    await store.ensure();
    const r = await followRun(store, runId, { tty: process.stderr.isTTY, signal: stop.signal });
    if (r) console.log(formatRunReport(r));
    if (r?.state !== 'done') process.exitCode = 3;
  } finally {
    process.off('SIGINT', onSignal);
    await store.close();
  }
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  const err = e as Error;
  console.error(err instanceof ConfigError ? err.message : `tilgang: ${err.message}`);
  if (process.env.TILGANG_DEBUG) console.error(err.stack);
  process.exitCode = 1;
}
// Long-running commands return only when stopped; after any command, idle Kafka/LDAP sockets must not keep the process.
setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
