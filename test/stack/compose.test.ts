import { existsSync, readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REGISTRY_DATABASE } from '../../src/stack/registry.js';

// Docker cannot run where this repository is developed: the compose file and the Dockerfiles are
// checked here instead, the compose file against the Compose Specification's JSON schema (vendored
// in test/data/compose-spec/, from the compose-spec repository), the rest by what they must hold.
// Draft-07, which Ajv's default class is; the file names the meta-schema by its https address, Ajv by http.
const { $schema: _draft07, ...schema } = JSON.parse(readFileSync('test/data/compose-spec/compose-spec.json', 'utf8')) as Record<string, unknown>;
const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as { services: Record<string, any> };
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    const ok = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('the validator refuses what the specification does not allow (a misspelt key, a wrong type)', () => {
    const typo = structuredClone(compose);
    typo.services.ldap.helthcheck = typo.services.ldap.healthcheck;
    expect(validate(typo)).toBe(false);
    const wrong = structuredClone(compose);
    wrong.services.kafka.ports = '19092:19092';
    expect(validate(wrong)).toBe(false);
  });

  it('every service has a health check', () => {
    const without = Object.entries(compose.services).filter(([, s]) => !Array.isArray(s.healthcheck?.test) || s.healthcheck.test.length < 2).map(([n]) => n);
    expect(without).toEqual([]);
  });

  it('the registry uses the database the native stack uses, which the PostgreSQL service creates', () => {
    expect(compose.services.registry.environment.REGISTRY_DATASOURCE_URL).toMatch(new RegExp(`/${REGISTRY_DATABASE}$`));
    const init = (compose.services.postgres.volumes as string[]).map((v) => v.split(':')[0]!).filter((f) => f.endsWith('.sql'));
    expect(init.map((f) => readFileSync(f, 'utf8')).join('\n')).toMatch(new RegExp(`CREATE DATABASE ${REGISTRY_DATABASE};`));
  });

  it('slapd configures itself from the template: every placeholder of slapd.conf.in is filled by its entrypoint, and nothing rendered by `stack up` is mounted', () => {
    const placeholders = new Set(readFileSync('stack/ldap/slapd.conf.in', 'utf8').match(/@[A-Z_]+@/g));
    const entrypoint = readFileSync('stack/docker/openldap/entrypoint.sh', 'utf8');
    const filled = new Set(entrypoint.match(/s\|@[A-Z_]+@\|/g)!.map((s) => s.slice(2, -1)));
    expect([...placeholders].filter((p) => !filled.has(p))).toEqual([]);
    expect(JSON.stringify(compose.services.ldap.volumes ?? [])).not.toContain('slapd.conf');
    const dockerfile = readFileSync('stack/docker/openldap/Dockerfile', 'utf8');
    expect(dockerfile).toContain('COPY stack/ldap/slapd.conf.in');
    expect(dockerfile).toContain('COPY stack/docker/openldap/entrypoint.sh');
  });

  it('every file a build copies or a service mounts from the repository exists', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      if (s.build) expect(existsSync(s.build.dockerfile), `${name}: ${s.build.dockerfile}`).toBe(true);
      for (const v of (s.volumes ?? []) as string[]) {
        const src = v.split(':')[0]!;
        if (src.startsWith('./stack/')) expect(existsSync(src), `${name}: ${src}`).toBe(true);
      }
    }
    for (const f of ['Dockerfile', 'stack/docker/openldap/Dockerfile', 'stack/docker/samba/Dockerfile']) {
      for (const [, from] of readFileSync(f, 'utf8').matchAll(/^COPY (?!--from)(?:--\S+ )*(\S+) /gm)) {
        expect(existsSync(from!), `${f}: COPY ${from}`).toBe(true);
      }
    }
  });
});

describe('Dockerfile (tilgang\'s image)', () => {
  const text = readFileSync('Dockerfile', 'utf8');
  const stages = text.split(/^FROM /m).slice(1);

  it('is multi-stage: the image keeps only the runtime stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages.at(-1)).toMatch(/COPY --from=build/);
    expect(stages.at(-1)).not.toMatch(/npm (ci|install)/);
  });

  it('runs as a user that is not root', () => {
    const users = [...stages.at(-1)!.matchAll(/^USER (\S+)/gm)].map((m) => m[1]);
    expect(users.length).toBeGreaterThan(0);
    expect(['root', '0', '0:0']).not.toContain(users.at(-1));
  });

  it('starts the command line, with a health check on /healthz', () => {
    // With the node options of bin/tilgang.js's first line (test/cli/node-options.test.ts keeps them equal).
    expect(text).toMatch(/^ENTRYPOINT \["node", (?:"--[^"]+", )*"bin\/tilgang\.js"\]/m);
    expect(text).toMatch(/^HEALTHCHECK .*\n?.*\/healthz/m);
  });
});
