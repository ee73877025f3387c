/**
 * Runs the seed from a shell, for loading and timing:
 *   npx tsx src/seed/main.ts --persons 100000 --seed 1 [--now 2026-03-15] [--no-directory] [--connections 8]
 *     [--schema mv_other] [--people-dn ou=test-mine,ou=Accounts,dc=meta]   (instead of the configured ones)
 * Prints the SeedSummary as JSON on stdout; the progress bars go to stderr.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { runSeed } from './index.js';

const { values } = parseArgs({
  options: {
    persons: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    now: { type: 'string' },
    'no-directory': { type: 'boolean', default: false },
    connections: { type: 'string' },
    config: { type: 'string' },
    schema: { type: 'string' },
    'people-dn': { type: 'string' },
  },
});

const cfg = loadConfig(values.config);
if (values.schema) cfg.mv.schema = values.schema;
if (values['people-dn']) cfg.directory.peopleDn = values['people-dn'];
const summary = await runSeed(cfg, {
  persons: Number(values.persons),
  seed: Number(values.seed),
  now: values.now ? new Date(values.now) : undefined,
  directory: !values['no-directory'],
  connections: values.connections ? Number(values.connections) : undefined,
  progress: process.stderr.isTTY,
});
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
