/**
 * Node's error codes for a peer that could not be reached or went away mid-call: they say nothing
 * about the request, so a client that sees one reports its server unavailable, not the request wrong.
 */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);

export function isNetworkCode(code: unknown): code is string {
  return typeof code === 'string' && NETWORK_CODES.has(code);
}
