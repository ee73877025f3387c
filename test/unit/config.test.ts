import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig, readSecret, resolvedSecrets } from '../../src/config.js';
import { scrubMessage } from '../../src/lib/redact.js';

describe('configuration', () => {
  it('the checked-in example is valid and fills the defaults', () => {
    const cfg = loadConfig('tilgang.example.yaml');
    expect(cfg.kafka.partitions).toBe(12);
    expect(cfg.kafka.topics.personChanged).toBe('person.changed');
    expect(cfg.runtime.guard.maxOperations).toBeGreaterThan(0);
  });

  it('a wrong or missing value stops with the field\'s path and what was expected', () => {
    const cfg = structuredClone(loadConfig('tilgang.example.yaml')) as Record<string, any>;
    cfg.kafka.brokers = ['no-port'];
    delete cfg.registry.url;
    cfg.runtime = { concurrency: 0 };
    let message = '';
    try { parseConfig(cfg, 'test.yaml'); } catch (e) { message = (e as Error).message; }
    expect(message).toContain('invalid configuration in test.yaml');
    expect(message).toMatch(/kafka\.brokers\.0: host:port/);
    expect(message).toMatch(/registry\.url: /);
    expect(message).toMatch(/runtime\.concurrency: /);
  });

  it('refuses unknown keys, so a typo is not silently ignored', () => {
    const cfg = structuredClone(loadConfig('tilgang.example.yaml')) as Record<string, any>;
    cfg.kafka.brokerz = ['x:1'];
    expect(() => parseConfig(cfg, 'x')).toThrow(/kafka: Unrecognized key/i);
  });

  it('reads secrets from the environment or a file, and names only the variable when it is missing', () => {
    process.env.TILGANG_TEST_SECRET = 's3cret-value';
    expect(readSecret({ env: 'TILGANG_TEST_SECRET' }, 'x')).toBe('s3cret-value');
    delete process.env.TILGANG_TEST_SECRET;
    expect(() => readSecret({ env: 'TILGANG_TEST_SECRET' }, 'moodle token')).toThrow('moodle token: environment variable TILGANG_TEST_SECRET is not set');
    expect(() => readSecret({ file: 'no/such/file' }, 'x')).toThrow(/no\/such\/file does not exist/);
  });

  it('remembers every secret it resolved, from the environment or a file, so error texts can be scrubbed of them', () => {
    const live = resolvedSecrets();
    process.env.TILGANG_TEST_SECRET_2 = 'env-secret-4711';
    const file = join(mkdtempSync(join(tmpdir(), 'tilgang-secret-')), 'token');
    writeFileSync(file, 'file-secret-0815\n');
    readSecret({ env: 'TILGANG_TEST_SECRET_2' }, 'x');
    readSecret({ file }, 'y');
    readSecret({ file }, 'y');
    delete process.env.TILGANG_TEST_SECRET_2;
    expect(live).toEqual(expect.arrayContaining(['env-secret-4711', 'file-secret-0815']));
    expect(live.filter((s) => s === 'file-secret-0815')).toHaveLength(1);
    expect(scrubMessage('401: env-secret-4711 and file-secret-0815 refused', resolvedSecrets())).toBe('401: [redacted] and [redacted] refused');
  });
});
