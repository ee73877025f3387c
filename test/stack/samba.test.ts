import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Attribute, Change, InsufficientAccessError, type Client } from 'ldapts';
import {
  SAMBA_BASE_DN, SAMBA_DOMAIN, SAMBA_EMPLOYEES_OU, SAMBA_SERVICE_UPN, sambaClient, sambaSecrets, sidToString,
} from '../../src/stack/samba.js';

// The stack's Samba domain controller (`tilgang stack up`), as tilgang's own service account sees it.
const tag = randomBytes(4).toString('hex');
const ou = `OU=test-samba-${tag},${SAMBA_EMPLOYEES_OU}`;
const replace = (type: string, values: (string | Buffer)[]) => new Change({ operation: 'replace', modification: new Attribute({ type, values: values as string[] }) });
let c: Client;

describe('the stack\'s Samba AD domain controller', () => {
  beforeAll(async () => {
    c = sambaClient();
    await c.bind(SAMBA_SERVICE_UPN, sambaSecrets().tilgang);
  });
  afterAll(async () => {
    const { searchEntries } = await c.search(ou, { scope: 'sub', attributes: ['1.1'] }).catch(() => ({ searchEntries: [] as { dn: string }[] }));
    for (const e of searchEntries.sort((a, b) => b.dn.length - a.dn.length)) await c.del(e.dn).catch(() => {});
    await c.unbind();
  });

  it('lets tilgang\'s service account create an OU and an enabled user with a password and extensionAttribute1 over LDAPS', async () => {
    await c.add(ou, { objectClass: ['top', 'organizationalUnit'], ou: `test-samba-${tag}` });
    const dn = `CN=Doe\\, John,${ou}`;
    await c.add(dn, {
      objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: `sb${tag}`, userPrincipalName: `sb${tag}@${SAMBA_DOMAIN}`,
      givenName: 'John', sn: 'Doe', extensionAttribute1: 'ansatt', employeeID: tag,
    });
    await c.modify(dn, replace('unicodePwd', [Buffer.from('"Str0ng-Enough-Pw!"', 'utf16le')]));
    await c.modify(dn, replace('userAccountControl', ['512']));
    const { searchEntries: [u] } = await c.search(dn, { scope: 'base', attributes: ['extensionAttribute1', 'userAccountControl', 'objectSid'], explicitBufferAttributes: ['objectSid'] });
    expect(u).toMatchObject({ extensionAttribute1: 'ansatt', userAccountControl: '512' });
    expect(sidToString(u!.objectSid as Buffer)).toMatch(/^S-1-5-21-\d+-\d+-\d+-\d+$/);
    // The password works: the new account binds.
    const self = sambaClient();
    await self.bind(`sb${tag}@${SAMBA_DOMAIN}`, 'Str0ng-Enough-Pw!');
    await self.unbind();
  });

  it('refuses the service account outside the people subtree', async () => {
    await expect(c.add(`CN=sb${tag},CN=Users,${SAMBA_BASE_DN}`, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: `sx${tag}` }))
      .rejects.toBeInstanceOf(InsufficientAccessError);
  });
});
