import { loadConfig } from '../src/config.js';
import { migrate } from '../src/mv/migrate.js';
import { up } from '../src/stack/index.js';
import { assertDemoBaseUntouched, logTime } from './support/demo-base-guard.js';

// Every test talks to real servers; `stack up` is idempotent and quick when they already run.
// Afterwards: no test wrote under the people base a running demo watches (support/demo-base-guard.ts).
export default async function setup(): Promise<() => Promise<void>> {
  await up();
  const cfg = loadConfig('tilgang.example.yaml');
  await migrate(cfg.mv.url, cfg.mv.schema);
  const since = logTime(new Date());
  return () => assertDemoBaseUntouched(cfg, since);
}
