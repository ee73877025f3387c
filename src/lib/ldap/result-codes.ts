import { ResultCodeError } from 'ldapts';

/** LDAP result codes by their names in RFC 4511 (and RFC 4370, 3909, 6171 for the later ones). */
const NAMES: Record<number, string> = {
  0: 'success', 1: 'operationsError', 2: 'protocolError', 3: 'timeLimitExceeded', 4: 'sizeLimitExceeded',
  5: 'compareFalse', 6: 'compareTrue', 7: 'authMethodNotSupported', 8: 'strongerAuthRequired', 10: 'referral',
  11: 'adminLimitExceeded', 12: 'unavailableCriticalExtension', 13: 'confidentialityRequired', 14: 'saslBindInProgress',
  16: 'noSuchAttribute', 17: 'undefinedAttributeType', 18: 'inappropriateMatching', 19: 'constraintViolation',
  20: 'attributeOrValueExists', 21: 'invalidAttributeSyntax', 32: 'noSuchObject', 33: 'aliasProblem',
  34: 'invalidDNSyntax', 36: 'aliasDereferencingProblem', 48: 'inappropriateAuthentication', 49: 'invalidCredentials',
  50: 'insufficientAccessRights', 51: 'busy', 52: 'unavailable', 53: 'unwillingToPerform', 54: 'loopDetect',
  64: 'namingViolation', 65: 'objectClassViolation', 66: 'notAllowedOnNonLeaf', 67: 'notAllowedOnRDN',
  68: 'entryAlreadyExists', 69: 'objectClassModsProhibited', 71: 'affectsMultipleDSAs', 80: 'other',
  118: 'canceled', 119: 'noSuchOperation', 120: 'tooLate', 121: 'cannotCancel', 122: 'assertionFailed', 123: 'authorizationDenied',
};

/** `invalidCredentials (49)` for a result code. */
export function resultCodeName(code: number): string {
  return `${NAMES[code] ?? 'unknown result code'} (${code})`;
}

/**
 * An LDAP error's text with the result code by name: `invalidCredentials (49): <the server's
 * message>` instead of ldapts's `<message> Code: 0x31`. Other errors are returned as they are.
 */
export function describeLdapError(e: unknown): string {
  if (!(e instanceof ResultCodeError)) return e instanceof Error ? e.message : String(e);
  const text = e.message.replace(/\s*Code: 0x[0-9a-f]+\s*$/i, '').trim();
  return text ? `${resultCodeName(e.code)}: ${text}` : resultCodeName(e.code);
}

/** Rewrites an ldapts error's message in place (its class, which callers test, stays). */
export function nameResultCode<T>(e: T): T {
  if (e instanceof ResultCodeError && !/\(\d+\)/.test(e.message.split(':')[0] ?? '')) e.message = describeLdapError(e);
  return e;
}
