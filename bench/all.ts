/**
 * `npm run bench`: every benchmark in one command, one after another (they would measure each
 * other if run together), and a report of the run kept in bench/results/: Markdown for people and
 * JSON for scripts, each with the machine it ran on, each part's command, wall time, exit code and
 * everything it printed (the numbers are the benchmarks' own lines).
 *
 *   npm run bench                          every part
 *   npm run bench -- --only runtime        one part (repeat --only for more)
 *   npm run bench -- --list                the parts
 *   npm run bench -- --only runtime --args runtime="--events 2000 --people 500"
 *
 * The parts are the package's bench:* scripts, found in package.json: a new one is in the report
 * without changing this file.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
const parts = Object.keys(pkg.scripts).filter((s) => s.startsWith('bench:')).map((s) => s.slice('bench:'.length));

const { values: o } = parseArgs({ options: { only: { type: 'string', multiple: true }, list: { type: 'boolean' }, args: { type: 'string', multiple: true }, out: { type: 'string' } } });
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

interface PartResult { part: string; command: string; exitCode: number | null; seconds: number; output: string }

function run(part: string): Promise<PartResult> {
  const args = ['run', '--silent', `bench:${part}`, ...(extra.has(part) ? ['--', ...extra.get(part)!] : [])];
  const command = `npm ${args.join(' ')}`;
  console.error(`bench: ${command}`);
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn('npm', args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); process.stdout.write(d); });
    child.on('close', (code) => resolve({ part, command, exitCode: code, seconds: (Date.now() - t0) / 1000, output }));
  });
}

const machine = {
  host: hostname(), platform: `${platform()} ${release()}`, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length,
  memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10, node: process.version, loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
};
const startedAt = new Date();
const results: PartResult[] = [];
for (const p of chosen) results.push(await run(p));

const stamp = startedAt.toISOString().replace(/[:]/g, '-').replace(/\..*/, '');
const dir = o.out ?? join(root, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const report = { startedAt: startedAt.toISOString(), seconds: (Date.now() - startedAt.getTime()) / 1000, machine, parts: results };
const base = join(dir, `${stamp}-${chosen.length === parts.length ? 'all' : chosen.join('+')}`);
writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
const md = [
  `# Benchmarks, ${startedAt.toISOString()}`,
  '',
  `Machine: ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB, ${machine.platform}, Node ${machine.node}; load average at start ${machine.loadAverageAtStart.join(' ')}.`,
  '',
  '| part | command | exit | wall time |',
  '|---|---|---|---|',
  ...results.map((r) => `| ${r.part} | \`${r.command}\` | ${r.exitCode} | ${r.seconds.toFixed(0)} s |`),
  '',
  ...results.flatMap((r) => [`## ${r.part}`, '', '```', r.output.trimEnd(), '```', '']),
].join('\n');
writeFileSync(`${base}.md`, md);
console.error(`bench: report in ${base}.md and ${base}.json`);
process.exit(results.every((r) => r.exitCode === 0) ? 0 : 1);
