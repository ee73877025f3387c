import { describe, expect, it } from 'vitest';
import { cookieTime, interpret, isSkip, modifiedAttributes } from '../../src/producers/changelog.js';

const opts = { peopleDn: 'ou=Accounts,dc=meta', ownDn: 'cn=tilgang,ou=Services,dc=meta', sensitive: ['idautoPersonNationalID', 'userPassword'] };
const id = '3f1c1f3e-8f8a-4c1e-9a55-0d6f1b2c3d4e';
const dn = `idautoID=${id},ou=Accounts,dc=meta`;
const entry = (e: Record<string, string | string[]>) => ({ dn: `reqStart=${e.reqStart ?? 'x'},cn=accesslog`, ...e });

describe('interpret: one change log entry', () => {
  it.each([
    ['add', { reqStart: '20261126120000.000002Z', reqType: 'add', reqDN: dn, reqMod: ['objectClass:+ idautoPerson', `idautoID:+ ${id}`, 'givenName:+ Åse', 'idautoPersonNationalID:+ 01810012345', 'entryCSN:+ x'] },
      { type: 'ADD', changedAttributes: ['objectClass', 'idautoID', 'givenName'], newDn: dn }],
    ['modify', { reqStart: '20261126120000.000004Z', reqType: 'modify', reqDN: dn, reqMod: ['mail:= a@b.no', 'modifiersName:= cn=admin,dc=meta'] },
      { type: 'MODIFY', changedAttributes: ['mail'], newDn: dn }],
    ['modrdn (move)', { reqStart: '20261126120000.000006Z', reqType: 'modrdn', reqDN: dn, reqNewRDN: `idautoID=${id}`, reqNewSuperior: 'ou=Staff,ou=Accounts,dc=meta' },
      { type: 'MODRDN', newDn: `idautoID=${id},ou=Staff,ou=Accounts,dc=meta` }],
    ['delete', { reqStart: '20261126120000.000008Z', reqType: 'delete', reqDN: dn }, { type: 'DELETE', newDn: null }],
  ])('%s', (_n, e, want) => {
    const c = interpret(entry(e), opts);
    expect(isSkip(c)).toBe(false);
    expect(c).toMatchObject({ personId: id, oldDn: dn, cookie: e.reqStart, ...want });
  });

  it.each([
    ['malformed: no reqType', { reqStart: '20261126120000.000002Z', reqDN: dn }, 'malformed'],
    ['malformed: bad cookie', { reqStart: 'yesterday', reqType: 'add', reqDN: dn }, 'malformed'],
    ['outside the people base', { reqStart: '20261126120000.000002Z', reqType: 'add', reqDN: 'cn=x,ou=Services,dc=meta' }, 'not-a-person'],
    ['an ou under the people base', { reqStart: '20261126120000.000002Z', reqType: 'add', reqDN: 'ou=test,ou=Accounts,dc=meta' }, 'not-a-person'],
    ['a person entry without idautoID', { reqStart: '20261126120000.000002Z', reqType: 'add', reqDN: 'cn=Kari,ou=Accounts,dc=meta', reqMod: ['cn:+ Kari'] }, 'no-idautoID'],
    ['tilgang\'s own write', { reqStart: '20261126120000.000002Z', reqType: 'modify', reqDN: dn, reqMod: ['tilgangTargetStatus:= x'], reqAuthzID: 'dn:cn=tilgang,ou=services,dc=meta' }, 'own-write'],
    ['a status-only change by someone else', { reqStart: '20261126120000.000002Z', reqType: 'modify', reqDN: dn, reqMod: ['tilgangProvisionedTo:+ moodle'], reqAuthzID: 'dn:cn=admin,dc=meta' }, 'status-only'],
    ['an extended operation', { reqStart: '20261126120000.000002Z', reqType: 'extended', reqDN: dn }, 'unsupported-type'],
  ])('skips %s', (_n, e, reason) => {
    const c = interpret(entry(e as Record<string, string>), opts);
    expect(isSkip(c) && c.reason).toBe(reason);
  });

  it('never names a sensitive attribute among the changed ones', () => {
    const c = interpret(entry({ reqStart: '20261126120000.000010Z', reqType: 'modify', reqDN: dn, reqMod: ['idautoPersonNationalID:= 01810012345', 'sn:= Ås'] }), opts);
    expect(isSkip(c)).toBe(false);
    expect(JSON.stringify(c)).not.toContain('01810012345');
    expect(!isSkip(c) && c.changedAttributes).toEqual(['sn']);
  });

  it('reads the cookie as a time and the reqMod attribute names', () => {
    expect(cookieTime('20261126120000.123456Z')).toBe(Date.UTC(2026, 10, 26, 12, 0, 0, 123));
    expect(modifiedAttributes(['mail:+ a', 'mail:- b', 'sn:=', 'cn:-'])).toEqual(['mail', 'sn', 'cn']);
  });
});
