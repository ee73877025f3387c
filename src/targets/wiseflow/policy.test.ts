import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WiseflowConfig } from './config.js';
import { Policy, policyRoles } from './policy.js';

const POLICY = Policy.parse({
  managedRoles: ['Assessor', 'Author', 'Invigilator'],
  rules: [{ affiliations: ['employee'], roles: ['Invigilator'] }, { businessRoles: ['iam:teacher'], roles: ['Assessor', 'Author'] }],
  sensor: { affiliations: ['sensor'], roles: ['Assessor'] },
});

describe('WISEflow role policy', () => {
  it.each([
    [['student'], [], { sensor: false, roles: [] }],
    [['employee'], [], { sensor: false, roles: ['Invigilator'] }],
    [['employee'], ['iam:teacher'], { sensor: false, roles: ['Assessor', 'Author', 'Invigilator'] }],
    // An external examiner is given the sensor rule's roles alone, whatever else they are.
    [['sensor', 'employee'], ['iam:teacher'], { sensor: true, roles: ['Assessor'] }],
  ])('affiliations %j, business roles %j → %j', (affiliations, businessRoles, want) => {
    expect(policyRoles(POLICY, { affiliations, businessRoles })).toEqual(want);
  });

  it('reads a policy file with the configuration and names what is wrong in it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wf-policy-'));
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'managedRoles: [Assessor]\nrules:\n  - { affiliations: [employee], roles: [Assessor] }\n');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'managedRoles: [Assessor]\nrules:\n  - { affiliations: [employee], roles: [Manager] }\n');
    const base = { url: 'http://127.0.0.1:1/v1', auth: { apiKey: { env: 'X' } }, userDataTypes: { feideId: 1 } };
    expect(WiseflowConfig.parse({ ...base, policy: good }).policy.rules[0]!.roles).toEqual(['Assessor']);
    const r = WiseflowConfig.safeParse({ ...base, policy: bad });
    expect(r.error?.issues[0]?.message).toBe(`policy file ${bad}: rules.0.roles: role "Manager" is not in managedRoles`);
    expect(WiseflowConfig.safeParse({ ...base, policy: join(dir, 'none.yaml') }).error?.issues[0]?.message).toContain('does not exist');
  });
});
