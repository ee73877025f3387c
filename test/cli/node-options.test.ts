import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const BIN = resolve('bin/tilgang.js');

/** The node options on the executable's first line (`#!/usr/bin/env -S node …`). */
function shebangOptions(): string[] {
  const words = readFileSync(BIN, 'utf8').split('\n', 1)[0]!.split(/\s+/);
  return words.slice(words.indexOf('node') + 1);
}

describe('the node options tilgang runs with', () => {
  it('bound the old generation below 2 GB (where V8 lets a heap grow to 4 times what is live)', () => {
    const opt = shebangOptions().find((o) => o.startsWith('--max-old-space-size='));
    expect(opt).toBeDefined();
    const mb = Number(opt!.split('=')[1]);
    expect(mb).toBeGreaterThanOrEqual(512);
    expect(mb).toBeLessThan(2048);
  });

  it('are the same in the container image as on the executable', () => {
    const entry = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(resolve('Dockerfile'), 'utf8'));
    expect(entry).not.toBeNull();
    expect(JSON.parse(entry![1]!)).toEqual(['node', ...shebangOptions(), 'bin/tilgang.js']);
  });

  it('are the same in the npm scripts that run tilgang (npm start, npm run tilgang)', () => {
    const { scripts } = JSON.parse(readFileSync(resolve('package.json'), 'utf8')) as { scripts: Record<string, string> };
    for (const name of ['start', 'tilgang']) {
      expect(scripts[name], name).toContain(`node ${shebangOptions().join(' ')} bin/tilgang.js`);
    }
  });

  it('let the executable start when run directly (env -S passes them to node)', async () => {
    const { stdout } = await promisify(execFile)(BIN, ['--help']);
    expect(stdout).toMatch(/^Usage: tilgang/);
  });
});
