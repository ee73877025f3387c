/**
 * The WISEflow role policy (the seed's policy file and its `rolesToProvision`): which licence
 * roles tilgang manages, and rules from a person's affiliations and business roles to them. An
 * external examiner (sensor) has rules of their own, which replace the others: an examiner is
 * given exactly what the sensor rule says, whatever else the directory holds.
 */
import { z } from 'zod';

const Rule = z.object({
  /** The rule holds when the person has any of these affiliations… */
  affiliations: z.array(z.string().min(1)).default([]),
  /** …or any of these business roles (idautoPersonAppRoles). */
  businessRoles: z.array(z.string().min(1)).default([]),
  /** Licence role names given while the rule holds. */
  roles: z.array(z.string().min(1)).min(1),
}).strict().refine((r) => r.affiliations.length + r.businessRoles.length > 0, 'a rule needs affiliations or businessRoles');

export const Policy = z.object({
  /**
   * The licence roles tilgang adds and removes, by name. Any other role on a user (a protected
   * one, or one given by hand in WISEflow) is never touched.
   */
  managedRoles: z.array(z.string().min(1)).min(1),
  rules: z.array(Rule).default([]),
  /** External examiners: who they are, and their roles (replacing every other rule's). */
  sensor: Rule.optional(),
}).strict().superRefine((p, ctx) => {
  const managed = new Set(p.managedRoles);
  const rules = [...p.rules.map((r, i) => ({ r, at: ['rules', i, 'roles'] })), ...(p.sensor ? [{ r: p.sensor, at: ['sensor', 'roles'] }] : [])];
  for (const { r, at } of rules) {
    for (const name of r.roles) if (!managed.has(name)) ctx.addIssue({ code: 'custom', path: at, message: `role "${name}" is not in managedRoles` });
  }
});

export type Policy = z.infer<typeof Policy>;

export interface PolicyInput { affiliations: string[]; businessRoles: string[] }

const holds = (r: { affiliations: string[]; businessRoles: string[] }, p: PolicyInput) =>
  r.affiliations.some((a) => p.affiliations.includes(a)) || r.businessRoles.some((b) => p.businessRoles.includes(b));

/** Pure: whether the person is an external examiner, and the managed roles they should hold (sorted). */
export function policyRoles(policy: Policy, p: PolicyInput): { sensor: boolean; roles: string[] } {
  if (policy.sensor && holds(policy.sensor, p)) return { sensor: true, roles: [...new Set(policy.sensor.roles)].sort() };
  const roles = new Set(policy.rules.filter((r) => holds(r, p)).flatMap((r) => r.roles));
  return { sensor: false, roles: [...roles].sort() };
}
