import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configReference } from '../../src/cli/config-reference.js';

describe('the configuration reference', () => {
  it('docs/configuration.md is what the schemas generate now (regenerate: tilgang config reference > docs/configuration.md)', async () => {
    expect(readFileSync('docs/configuration.md', 'utf8')).toBe(await configReference());
  });

  it('names every key of the core and of each target, secrets as secrets, with defaults', async () => {
    const ref = await configReference();
    for (const key of ['kafka.brokers', 'kafka.sasl.password', 'registry.auth.token', 'directory.startTls', 'mv.sslmode', 'runtime.guard.targets.<name>.maxShare', 'targets.moodle.token']) {
      expect(ref).toContain(`| \`${key}\` |`);
    }
    expect(ref).toMatch(/\| `mv\.sslmode` \| `disable` \\\| `prefer`.*\| `"disable"` \|/);
    expect(ref).toMatch(/\| `directory\.password` \| secret: /);
  });
});
