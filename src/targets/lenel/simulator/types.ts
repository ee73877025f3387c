/**
 * The DataConduIT classes the simulator serves, with their properties in OnGuard's canonical
 * casing (responses use it; requests may use any casing). Only what provisioning touches.
 */
export type PropType = 'int' | 'string' | 'datetime' | 'bool';

export interface PropSpec {
  name: string;
  type: PropType;
  key?: boolean;
  /** Assigned by the server on create (a key or LASTCHANGED); never accepted from a client. */
  server?: boolean;
  required?: boolean;
  /** The class whose key this property holds (a referential check on create and modify). */
  ref?: string;
  maxLength?: number;
  default?: string | number | boolean;
}

export interface ClassSpec {
  name: string;
  props: PropSpec[];
  /** Property sets that must be unique across instances (badge ID, one assignment per badge and level). */
  unique?: string[][];
  /** Read-only for OpenAccess clients (access levels are made in System Administration). */
  readOnly?: boolean;
}

const p = (name: string, type: PropType = 'string', more: Partial<PropSpec> = {}): PropSpec => ({ name, type, ...more });

export function classes(udfs: readonly string[]): ClassSpec[] {
  return [
    {
      name: 'Lnl_Cardholder',
      // SSNO and EMAIL are not unique: OnGuard takes a second cardholder with the same key.
      props: [
        p('ID', 'int', { key: true, server: true }), p('FIRSTNAME', 'string', { maxLength: 32 }), p('MIDNAME', 'string', { maxLength: 32 }),
        p('LASTNAME', 'string', { required: true, maxLength: 32 }), p('SSNO', 'string', { maxLength: 32 }), p('EMAIL', 'string', { maxLength: 128 }),
        p('PHONE'), p('EXT', 'string', { maxLength: 16 }), p('DEPT', 'int', { ref: 'Lnl_DEPT' }), p('TITLE', 'int', { ref: 'Lnl_TITLE' }),
        p('BUILDING', 'int', { ref: 'Lnl_BUILDING' }), p('DIVISION', 'int', { ref: 'Lnl_DIVISION' }), p('FLOOR'), p('ADDR1'), p('CITY'),
        p('LASTCHANGED', 'datetime', { server: true }),
        ...udfs.map((u) => p(u, 'string', { maxLength: 64 })),
      ],
    },
    {
      name: 'Lnl_Badge',
      props: [
        p('BADGEKEY', 'int', { key: true, server: true }), p('ID', 'int'), p('PERSONID', 'int', { required: true, ref: 'Lnl_Cardholder' }),
        p('TYPE', 'int', { required: true, ref: 'Lnl_BadgeType' }), p('STATUS', 'int', { ref: 'Lnl_BadgeStatus', default: 1 }),
        p('ACTIVATE', 'datetime'), p('DEACTIVATE', 'datetime'), p('ISSUECODE', 'int', { default: 0 }), p('USELIMIT', 'int'), p('PIN', 'int'),
        p('LASTCHANGED', 'datetime', { server: true }),
      ],
      unique: [['ID', 'ISSUECODE']],
    },
    {
      name: 'Lnl_AccessLevelAssignment',
      props: [
        p('AccessLevelID', 'int', { key: true, required: true, ref: 'Lnl_AccessLevel' }), p('BadgeKey', 'int', { key: true, required: true, ref: 'Lnl_Badge' }),
        p('ACTIVATE', 'datetime'), p('DEACTIVATE', 'datetime'),
      ],
      unique: [['AccessLevelID', 'BadgeKey']],
    },
    { name: 'Lnl_AccessLevel', props: [p('ID', 'int', { key: true, server: true }), p('Name', 'string', { required: true }), p('SegmentID', 'int', { default: 0 })], readOnly: true },
    ...['Lnl_DEPT', 'Lnl_TITLE', 'Lnl_BUILDING', 'Lnl_DIVISION'].map((name) => ({
      name, props: [p('ID', 'int', { key: true, server: true }), p('Name', 'string', { required: true, maxLength: 64 })], unique: [['Name']],
    })),
    { name: 'Lnl_BadgeType', props: [p('ID', 'int', { key: true, server: true }), p('Name', 'string', { required: true })], readOnly: true },
    { name: 'Lnl_BadgeStatus', props: [p('ID', 'int', { key: true, server: true }), p('Name', 'string', { required: true })], readOnly: true },
  ];
}

/** Where an instance is stored: its class and its own key values joined. */
export type Instance = Record<string, string | number | boolean | null>;
