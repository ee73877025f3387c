import type { Desired, ExternalId } from './desired.js';

/** A user as POST /users/search shows it (emails: the primary first). */
export interface WiseflowUser {
  id: number;
  firstName: string;
  lastName: string;
  phone: string;
  language: string;
  emails: string[];
  roles: { name: string; id: number }[];
  dataTypes: { id: number; name: string; value: string }[];
  deactivated: boolean;
}

export interface LicenseRole { roleId: number; name: string; isProtected: boolean }

/** What WISEflow holds for a person, read before planning. */
export interface Actual {
  user: WiseflowUser | null;
  /** The licence's roles by name (read once per session). */
  roles: Record<string, LicenseRole>;
}

/** PUT /users/{id}: all five fields, always. */
export interface BasicInfo { firstName: string; lastName: string; phone: string; language: string; loginDeactivated: boolean }

export interface UserChanges {
  basic?: BasicInfo;
  /** The primary to end with; addresses to add as secondary; addresses to remove (never the primary). */
  emails?: { primary: string; add: string[]; remove: string[] };
  /** Licence role ids. */
  roles?: { add: number[]; remove: number[] };
  externalIds?: { set: ExternalId[]; remove: number[] };
}

/** What apply needs for one operation (not published). */
export type Payload =
  | { action: 'create'; user: Desired; roleIds: number[] }
  | { action: 'update'; userId: number; changes: UserChanges }
  | { action: 'login'; userId: number; basic: BasicInfo };
