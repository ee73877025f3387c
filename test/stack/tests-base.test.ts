import { Attribute, Change, Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, readSecret } from '../../src/config.js';
import { PEOPLE_DN, TESTS_DN } from '../../src/stack/ldap.js';
import { privateDirectory } from '../producer/private-directory.js';

// A slapd started from the stack's configuration: tests keep their people under ou=Tests, out of
// a running demo's sight, and tilgang's writeback must work there as under the people base.
describe('the stack directory\'s access rules', () => {
  let dir: Awaited<ReturnType<typeof privateDirectory>>;
  beforeAll(async () => {
    dir = await privateDirectory(loadConfig('tilgang.example.yaml'), { ageSeconds: 3600, everySeconds: 3600 });
    await dir.admin.add(TESTS_DN, { objectClass: ['top', 'organizationalUnit'], ou: 'Tests' });
  });
  afterAll(async () => dir?.stop());

  it.each([
    [TESTS_DN, 'allowed'],
    [PEOPLE_DN, 'allowed'],
    ['ou=Services,dc=meta', 'InsufficientAccessError'],
  ])('under %s tilgang may write its status: %s; other attributes never', async (base, status) => {
    const id = `person-${base.slice(3, base.indexOf(','))}`;
    const dn = `idautoID=${id},${base}`;
    await dir.admin.add(dn, { objectClass: ['idautoPerson'], idautoID: id, cn: 'Test Person', sn: 'Person' });
    const tilgang = new Client({ url: dir.cfg.directory.url });
    await tilgang.bind(dir.cfg.directory.bindDn, readSecret(dir.cfg.directory.password, 'directory.password'));
    const write = (type: string, value: string, operation: 'add' | 'replace' = 'replace') =>
      tilgang.modify(dn, new Change({ operation, modification: new Attribute({ type, values: [value] }) })).then(() => 'allowed', (e: Error) => e.name);
    try {
      expect(await write('objectClass', 'tilgangStatusHolder', 'add')).toBe(status);
      expect(await write('tilgangTargetStatus', 'moodle|2026-01-01T00:00:00Z|provisioned|')).toBe(status);
      expect(await write('sn', 'Changed')).toBe('InsufficientAccessError');
    } finally {
      await tilgang.unbind();
    }
  });
});
