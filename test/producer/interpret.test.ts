import { describe, expect, it } from 'vitest';
import { cookieTime, interpret, isSkip, modifiedAttributes, normDn } from '../../src/producers/changelog.js';

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
    const c = interpret(entry({ ...e, entryCSN: '20261126120000.123456Z#000000#000#000000' }), opts);
    expect(isSkip(c)).toBe(false);
    expect(c).toMatchObject({ personId: id, oldDn: dn, position: e.reqStart, csn: '20261126120000.123456Z#000000#000#000000', ...want });
  });

  // A move is judged by the new DN as well as the old one.
  const outside = `idautoID=${id},ou=Incoming,dc=meta`;
  it.each([
    ['into the people tree: a new person to the targets', outside, { reqNewRDN: `idautoID=${id}`, reqNewSuperior: 'ou=Accounts,dc=meta' }, { type: 'ADD', oldDn: outside, newDn: dn }],
    ['out of the people tree: a person who left', dn, { reqNewRDN: `idautoID=${id}`, reqNewSuperior: 'ou=Incoming,dc=meta' }, { type: 'DELETE', oldDn: dn, newDn: outside }],
    ['within the people tree: a move', dn, { reqNewRDN: `idautoID=${id}`, reqNewSuperior: 'ou=Staff,ou=Accounts,dc=meta' }, { type: 'MODRDN', oldDn: dn, newDn: `idautoID=${id},ou=Staff,ou=Accounts,dc=meta` }],
    ['renamed into the tree from another RDN: the new RDN names the person', `cn=Kari,ou=Incoming,dc=meta`, { reqNewRDN: `idautoID=${id}`, reqNewSuperior: 'ou=Accounts,dc=meta' }, { type: 'ADD', newDn: dn }],
  ])('modrdn %s', (_n, from, move, want) => {
    const c = interpret(entry({ reqStart: '20261126120000.000012Z', reqType: 'modrdn', reqDN: from, ...move }), opts);
    expect(isSkip(c)).toBe(false);
    expect(c).toMatchObject({ personId: id, ...want });
  });

  it('a move between two places outside the people tree is not a person', () => {
    const c = interpret(entry({ reqStart: '20261126120000.000012Z', reqType: 'modrdn', reqDN: `idautoID=${id},ou=Incoming,dc=meta`, reqNewRDN: `idautoID=${id}`, reqNewSuperior: 'ou=Elsewhere,dc=meta' }), opts);
    expect(isSkip(c) && c.reason).toBe('not-a-person');
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

  it('compares DNs without case, a dn: prefix or spaces around commas', () => {
    expect(normDn('dn:idautoID=X, ou=Accounts ,dc=meta')).toBe('idautoid=x,ou=accounts,dc=meta');
    expect(normDn('idautoID=X,ou=Accounts,dc=meta')).toBe('idautoid=x,ou=accounts,dc=meta');
  });

  it('reads the cookie as a time and the reqMod attribute names', () => {
    expect(cookieTime('20261126120000.123456Z')).toBe(Date.UTC(2026, 10, 26, 12, 0, 0, 123));
    expect(modifiedAttributes(['mail:+ a', 'mail:- b', 'sn:=', 'cn:-', Buffer.from('givenName:: w4VzZQ==')])).toEqual(['mail', 'sn', 'cn', 'givenName']);
  });
});
