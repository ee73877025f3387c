/**
 * The portal directory's person attributes (the vendor's `idautoPerson` schema, plus tilgang's
 * status attributes). Names are defaults: configuration may map them.
 */
export const PERSON_OBJECT_CLASS = 'idautoPerson';
/** Auxiliary class carrying the provisioning status that tilgang writes back. */
export const STATUS_OBJECT_CLASS = 'tilgangStatusHolder';

export const A = {
  id: 'idautoID',                          // immutable UUID; the DN's RDN and every event's key
  usernames: 'idautoPersonUserNameMV',     // multi-valued; the first value is the primary username
  uhUsername: 'idautoPersonUHUserName',    // the legacy institutional username (key_field uh-username)
  givenName: 'givenName',
  sn: 'sn',
  displayName: 'displayName',
  mail: 'mail',
  emails: 'idautoPersonEmailAddresses',    // multi-valued, all known addresses
  employeeType: 'employeeType',
  affiliation: 'idautoPersonAffiliation',  // primary: employee | student | affiliate | sensor
  affiliations: 'idautoPersonAffiliations',// multi-valued
  studentId: 'idautoPersonStuID',
  hrId: 'idautoPersonHRID',
  nationalId: 'idautoPersonNationalID',    // fnr: sensitive, never in events, logs or errors
  feideId: 'idautoPersonFeideID',          // eduPersonPrincipalName style, user@uni.example.no
  deptCode: 'idautoPersonDeptCode',        // stedkode of the org unit
  jobTitle: 'idautoPersonJobTitle',
  manager: 'manager',                      // DN of the manager's person entry
  preferredLanguage: 'idautoPersonPreferredLanguage', // nb | nn | en
  appRoles: 'idautoPersonAppRoles',        // business roles, e.g. iam:employee, iam:student
  disabled: 'idautoDisabled',              // TRUE | FALSE
  requests: 'idautoRequestAssociations',   // granted requests, one value per target, e.g. moodle
  provisionedTo: 'tilgangProvisionedTo',   // written by tilgang: targets the person is provisioned to
  targetStatus: 'tilgangTargetStatus',     // written by tilgang: "<target>|<ISO time>|<outcome>|<last error>[|<name>=<value>...]"
} as const;

export type AttributeName = (typeof A)[keyof typeof A];

/** The attributes tilgang's service account may write; the producer ignores changes to only these. */
export const STATUS_ATTRIBUTES: readonly string[] = [A.provisionedTo, A.targetStatus];
