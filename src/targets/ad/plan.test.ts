import { describe, expect, it } from 'vitest';
import { AdConfig } from './config.js';
import type { Desired } from './desired.js';
import { planAd } from './plan.js';
import type { Actual, AdAccount } from './read.js';

const cfg = AdConfig.parse({
  url: 'ldaps://dc.example.org', bindDn: 'svc@example.org', password: { env: 'UNUSED' }, baseDn: 'DC=example,DC=org',
  upnSuffix: 'example.org', mailDomain: 'example.org',
  ous: { employee: 'OU=Staff,DC=example,DC=org', student: 'OU=Students,DC=example,DC=org', disabled: 'OU=Disabled,DC=example,DC=org' },
});
const OU = 'OU=Informatikk,OU=MN,OU=Staff,DC=example,DC=org';
const ID = '7d1c0c2e-5d7a-4f7e-9a51-0b6f8d1e2a3b';

function want(over: Partial<Desired> = {}): Desired {
  return {
    anchor: ID, username: 'kno001', fullName: 'Doe, John', parentDn: OU, ouChain: ['OU=Staff,DC=example,DC=org', 'OU=MN,OU=Staff,DC=example,DC=org', OU],
    attributes: { sAMAccountName: ['kno001'], userPrincipalName: ['kno001@example.org'], givenName: ['John'], sn: ['Doe'], employeeNumber: [ID], title: ['Rådgiver'] },
    addressCandidates: ['john.doe', 'john.doe2'], usernameAddress: 'kno001@example.org', managerId: null, managerRecordDn: null, ...over,
  };
}
function acc(over: Partial<AdAccount> = {}, attrs: Record<string, string[]> = {}): AdAccount {
  const dn = over.dn ?? `CN=Doe\\, John,${OU}`;
  return {
    dn, cn: 'Doe, John', parentDn: OU, userAccountControl: 512, anchor: ID, ...over,
    attributes: {
      sAMAccountName: ['kno001'], userPrincipalName: ['kno001@example.org'], givenName: ['John'], sn: ['Doe'], employeeNumber: [ID], title: ['Rådgiver'],
      proxyAddresses: ['SMTP:john.doe@example.org', 'smtp:kno001@example.org'], manager: [], ...attrs,
    },
  };
}
const actual = (account: AdAccount | null, over: Partial<Actual> = {}): Actual => ({ account, cnTaken: [], addressesTaken: [], existingOus: [], reports: [], ...over });
const kinds = (p: ReturnType<typeof planAd>) => p.operations.map((o) => o.kind);

describe('AD plan', () => {
  it('creates with a free cn, a free address, the missing OUs, and no password anywhere', () => {
    const p = planAd(want(), actual(null, { cnTaken: ['doe, john'], addressesTaken: ['john.doe'], existingOus: ['ou=staff,dc=example,dc=org'] }), cfg);
    expect(kinds(p)).toEqual(['create']);
    const payload = p.operations[0]!.payload as Extract<typeof p.operations[0]['payload'], { kind: 'create' }>;
    expect(payload.dn).toBe(`CN=Doe\\, John 2,${OU}`);
    expect(payload.ous).toEqual(['OU=MN,OU=Staff,DC=example,DC=org', OU]);
    expect(payload.attributes.proxyAddresses).toEqual(['SMTP:john.doe2@example.org', 'smtp:kno001@example.org']);
    expect(JSON.stringify(p)).not.toMatch(/unicodePwd|password/i);
  });

  it('reports a manager without an account and does not touch the manager attribute', () => {
    const d = want({ managerId: 'm-1', managerRecordDn: 'idautoID=m-1,ou=Accounts,dc=meta' });
    const p = planAd(d, actual(acc(), { managerDn: null }), cfg);
    expect(p.operations).toEqual([]);
    const c = planAd(d, actual(null, { managerDn: null }), cfg);
    expect(c.operations[0]!.detail).toContain('manager idautoID=m-1,ou=Accounts,dc=meta has no AD account yet');
    expect((c.operations[0]!.payload as { attributes: Record<string, string[]> }).attributes.manager).toBeUndefined();
  });

  it('updates only the attributes that differ, keeping the assigned primary address', () => {
    const d = want({ attributes: { ...want().attributes, title: ['Seniorrådgiver'] }, addressCandidates: ['jon.doe'] });
    const p = planAd(d, actual(acc()), cfg);
    expect(p.operations.map((o) => [o.kind, o.changes])).toEqual([
      ['update', [{ attribute: 'title', from: 'Rådgiver', to: 'Seniorrådgiver' }]],
    ]);
    // The directory names no manager: AD's is cleared.
    const cleared = planAd(want(), actual(acc({}, { manager: ['CN=Old,DC=example,DC=org'] })), cfg);
    expect(cleared.operations[0]!.changes).toEqual([{ attribute: 'manager', from: 'CN=Old,DC=example,DC=org', to: null }]);
    const m = planAd(want({ managerId: 'b', managerRecordDn: 'idautoID=b,dc=meta' }), actual(acc(), { managerDn: 'CN=Boss,DC=example,DC=org' }), cfg);
    expect(m.operations[0]!.changes).toEqual([{ attribute: 'manager', from: null, to: 'CN=Boss,DC=example,DC=org' }]);
  });

  it('renames in place, then moves, then enables a disabled account', () => {
    const p = planAd(want({ fullName: 'Doe, Johnny', parentDn: 'OU=Staff,DC=example,DC=org', ouChain: ['OU=Staff,DC=example,DC=org'] }),
      actual(acc({ userAccountControl: 514 }), { existingOus: ['ou=staff,dc=example,dc=org'] }), cfg);
    expect(kinds(p)).toEqual(['rename', 'move', 'enable']);
    expect(p.operations.map((o) => o.payload)).toEqual([
      { kind: 'rename', dn: `CN=Doe\\, John,${OU}`, newDn: `CN=Doe\\, Johnny,${OU}`, ous: [] },
      { kind: 'move', dn: `CN=Doe\\, Johnny,${OU}`, newDn: 'CN=Doe\\, Johnny,OU=Staff,DC=example,DC=org', ous: [] },
      { kind: 'enable', dn: 'CN=Doe\\, Johnny,OU=Staff,DC=example,DC=org', userAccountControl: 512 },
    ]);
    expect(p.accountId).toBe('CN=Doe\\, Johnny,OU=Staff,DC=example,DC=org');
  });

  it('keeps a numbered cn of the same name: no rename', () => {
    expect(planAd(want(), actual(acc({ cn: 'Doe, John 2', dn: `CN=Doe\\, John 2,${OU}` })), cfg).operations).toEqual([]);
  });

  it('disables (keeping the other flags) and moves to the disabled OU when no longer entitled', () => {
    const p = planAd(null, actual(acc({ userAccountControl: 512 | 0x10000 })), cfg);
    expect(p.operations.map((o) => [o.kind, o.destructive ?? false, o.payload])).toEqual([
      ['disable', true, { kind: 'disable', dn: `CN=Doe\\, John,${OU}`, userAccountControl: 512 | 0x10000 | 2 }],
      ['move', false, { kind: 'move', dn: `CN=Doe\\, John,${OU}`, newDn: 'CN=Doe\\, John,OU=Disabled,DC=example,DC=org', ous: ['OU=Disabled,DC=example,DC=org'] }],
    ]);
    expect(planAd(null, actual(acc({ userAccountControl: 514, parentDn: 'OU=Disabled,DC=example,DC=org', dn: 'CN=Doe\\, John,OU=Disabled,DC=example,DC=org' })), cfg).operations).toEqual([]);
  });

  it('leaves an account it did not link alone when the person is not entitled, and skips when there is nothing', () => {
    expect(planAd(null, actual(acc({ anchor: null })), cfg)).toMatchObject({ operations: [], skipReason: expect.stringContaining('not linked') });
    expect(planAd(null, actual(null), cfg)).toEqual({ operations: [], skipReason: 'not entitled and no account' });
  });

  it('links an account found by sAMAccountName by writing the anchor', () => {
    const p = planAd(want(), actual(acc({ anchor: null }, { employeeNumber: [] })), cfg);
    expect(p.operations.map((o) => [o.kind, o.changes])).toEqual([['update', [{ attribute: 'employeeNumber', from: null, to: ID }]]]);
  });
});
