import { up } from '../src/stack/index.js';

// Every test talks to real servers; `stack up` is idempotent and quick when they already run.
export default async function setup(): Promise<void> {
  await up();
}
