import { loadConfig } from '../src/config.js';
import { migrate } from '../src/mv/migrate.js';
import { up } from '../src/stack/index.js';

// Every test talks to real servers; `stack up` is idempotent and quick when they already run.
export default async function setup(): Promise<void> {
  await up();
  const cfg = loadConfig('tilgang.example.yaml');
  await migrate(cfg.mv.url, cfg.mv.schema);
}
