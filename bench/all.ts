/**
 * `npm run bench`: every benchmark in one command, one after another, each in a process of its own
 * (run together they would measure each other), and a report of the run kept in bench/results/:
 * Markdown for people and JSON for scripts. Both carry the machine it ran on, a summary table of
 * every figure the parts printed (`BENCH-FIGURE {json}` lines, see support.ts), and per part its
 * command, size, wall time, exit code, load average at its start and end, and everything it printed.
 *
 *   npm run bench                          every part; the per-target reconciliations at a reduced size
 *   npm run bench -- --full                every part at its bench's own default size (the sizes)
 *   npm run bench -- --only runtime        one part (repeat --only for more)
 *   npm run bench -- --list                the parts, in the order they run
 *   npm run bench -- --only runtime --args runtime="--events 2000 --people 500"
 *
 * The parts are the package's bench:* scripts, found in package.json: a new one is in the report
 * without changing this file (after the known ones, in name order).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Figure } from './support.js';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

/** Cheap and foundational first, the long end-to-end parts last: a failure early costs little. */
const ORDER = ['producer', 'runtime', 'latency', 'moodle', 'ad', 'lenel', 'wiseflow', 'nochange', 'term', 'scaleout'];
const rank = (p: string) => (ORDER.includes(p) ? ORDER.indexOf(p) : ORDER.length);
const parts = Object.keys(pkg.scripts).filter((s) => s.startsWith('bench:')).map((s) => s.slice('bench:'.length))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));

/**
 * The sizes the issue names take well over an hour on 2 cores: 10,000 people per target's full
 * reconciliation (Samba and the Lenel latency model dominate), latency's steady phase for 5
 * minutes, 100,000 people unchanged, 20,000 students at the start of term. By default each part
 * runs at a size that keeps the whole report under 25 minutes; the seed's one-at-a-time way is
 * measured on a sample and scaled, as each bench says in its output. --full runs the benches' own
 * defaults (the issue's sizes where a bench can run them).
 */
const REDUCED: Record<string, { size: string; args: string[] }> = {
  latency: { size: 'steady phase 120 s (reduced; --full: 300 s)', args: ['--seconds', '120'] },
  moodle: { size: '2,000 people (reduced; --full: 10,000)', args: ['--persons', '2000', '--seed-sample', '100'] },
  ad: { size: '500 people (reduced; --full: 10,000)', args: ['--persons', '500', '--seed-sample', '100'] },
  lenel: { size: '500 people (reduced; --full: 10,000)', args: ['--persons', '500', '--seed-sample', '100', '--chunk', '100'] },
  wiseflow: { size: '2,000 people (reduced; --full: 10,000)', args: ['--people', '2000', '--seed-sample', '100'] },
  nochange: { size: '10,000 people, AD 1,000 (reduced; --full: 20,000, AD 2,000)', args: ['--persons', '10000', '--ad', '1000'] },
  term: { size: '3,000 students over 60 s (reduced; --full: 20,000)', args: ['--students', '3000', '--seconds', '60', '--minutes', '4'] },
  scaleout: { size: '1,000 people per round (reduced; --full: 3,000)', args: ['--persons', '1000'] },
};

const { values: o } = parseArgs({
  options: { only: { type: 'string', multiple: true }, list: { type: 'boolean' }, args: { type: 'string', multiple: true }, out: { type: 'string' }, full: { type: 'boolean' } },
});
if (o.list) {
  console.log(parts.join('\n'));
  process.exit(0);
}
const unknown = (o.only ?? []).filter((p) => !parts.includes(p));
if (unknown.length) {
  console.error(`no benchmark ${unknown.join(', ')} (there are: ${parts.join(', ')})`);
  process.exit(2);
}
const chosen = o.only?.length ? parts.filter((p) => o.only!.includes(p)) : parts;
const extra = new Map((o.args ?? []).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1).split(/\s+/).filter(Boolean)]));

/** A part's own arguments: --args for it if given (they replace the reduced size), else the reduced size unless --full. */
function argsOf(part: string): { args: string[]; size: string } {
  if (extra.has(part)) return { args: extra.get(part)!, size: 'as given' };
  const r = REDUCED[part];
  if (r && !o.full) return { args: r.args, size: r.size };
  return { args: [], size: r ? 'its default (--full)' : 'its default' };
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const load = () => loadavg().map(round2) as [number, number, number];

interface PartResult {
  part: string; command: string; size: string; exitCode: number | null; seconds: number;
  loadAverage: { start: number[]; end: number[] }; figures: Figure[]; output: string;
}

const FIGURE = 'BENCH-FIGURE ';

/** The figures a part printed; a line that does not parse is kept as a figure saying so, not dropped. */
function figuresIn(part: string, output: string): Figure[] {
  return output.split('\n').filter((l) => l.startsWith(FIGURE)).map((l) => {
    try {
      const f = JSON.parse(l.slice(FIGURE.length)) as Figure;
      return { ...f, part: f.part || part };
    } catch {
      return { part, name: `unreadable figure line: ${l.slice(FIGURE.length, FIGURE.length + 80)}`, value: NaN, unit: '' };
    }
  });
}

function run(part: string): Promise<PartResult> {
  const { args: own, size } = argsOf(part);
  const args = ['run', '--silent', `bench:${part}`, ...(own.length ? ['--', ...own] : [])];
  const command = `npm ${args.join(' ')}`;
  console.error(`bench: ${command}`);
  const start = load();
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn('npm', args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); process.stdout.write(d); });
    child.on('close', (code) => resolve({
      part, command, size, exitCode: code, seconds: (Date.now() - t0) / 1000, loadAverage: { start, end: load() }, figures: figuresIn(part, output), output,
    }));
  });
}

const machine = {
  cores: cpus().length, cpu: cpus()[0]?.model.trim() ?? 'unknown', memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  os: `${type()} ${release()} (${platform()})`, node: process.version,
};

/** 1234567 → "1,234,567"; 0.1234 → "0.123": whole numbers for large values, three significant digits for small. */
function number(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString('en');
  return String(Number(x.toPrecision(3)));
}
const cell = (s: string | undefined) => (s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
const loads = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');

function markdown(startedAt: Date, seconds: number, results: PartResult[], finished: boolean): string {
  const figures = results.flatMap((r) => r.figures);
  const failed = results.filter((r) => r.exitCode !== 0);
  return [
    `# Benchmarks, ${startedAt.toISOString()}${finished ? '' : ' (partial: still running or interrupted)'}`,
    '',
    `Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}. `
      + `Wall time ${(seconds / 60).toFixed(1)} min${o.full ? ', full size (--full)' : ''}.`,
    '',
    '## Summary',
    '',
    '| part | figure | value | goal | met | note |',
    '|---|---|---|---|---|---|',
    ...figures.map((f) => `| ${cell(f.part)} | ${cell(f.name)} | ${number(f.value)} ${cell(f.unit)} | ${cell(f.goal)} | ${f.met === undefined ? '' : f.met ? '✓' : '✗'} | ${cell(f.note)} |`),
    ...failed.map((r) => `| ${r.part} | the part failed (exit ${r.exitCode}) | | | ✗ | its output below |`),
    ...(figures.length || failed.length ? [] : ['| | no figures printed | | | | |']),
    '',
    '## Parts',
    '',
    '| part | command | size | exit | wall time | load average at start → end (1, 5, 15 min) |',
    '|---|---|---|---|---|---|',
    ...results.map((r) => `| ${r.part} | \`${r.command}\` | ${r.size} | ${r.exitCode} | ${r.seconds.toFixed(0)} s | ${loads(r.loadAverage.start)} → ${loads(r.loadAverage.end)} |`),
    '',
    // The figure lines are in the table above; the rest is each part's own account of its run.
    ...results.flatMap((r) => [`## ${r.part}`, '', '```', r.output.split('\n').filter((l) => !l.startsWith(FIGURE)).join('\n').trimEnd(), '```', '']),
  ].join('\n');
}

const startedAt = new Date();
const stamp = startedAt.toISOString().replace(/[:]/g, '-').replace(/\..*/, '');
const dir = o.out ?? join(root, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const base = join(dir, `${stamp}-${chosen.length === parts.length ? 'all' : chosen.join('+')}${o.full ? '-full' : ''}`);

/** Written after every part: a run that is interrupted still leaves what it measured. */
function write(results: PartResult[], finished: boolean): void {
  const seconds = (Date.now() - startedAt.getTime()) / 1000;
  const report = {
    startedAt: startedAt.toISOString(), seconds, finished, full: !!o.full, machine,
    figures: results.flatMap((r) => r.figures), parts: results,
  };
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${base}.md`, `${markdown(startedAt, seconds, results, finished)}\n`);
}

const results: PartResult[] = [];
for (const p of chosen) {
  results.push(await run(p));
  write(results, results.length === chosen.length);
}
console.error(`bench: report in ${base}.md and ${base}.json`);
process.exit(results.every((r) => r.exitCode === 0) ? 0 : 1);
