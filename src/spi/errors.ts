/**
 * The two kinds of failure the runtime tells apart by type (controller-runtime's distinction):
 * a TransientError is retried with backoff; a TerminalError is recorded, counted and dead-lettered.
 * Messages name the person, the target and the field, never a sensitive value.
 */
export class TransientError extends Error {
  override name = 'TransientError';
  constructor(message: string, readonly code = 'transient', readonly retryAfterMs?: number) {
    super(message);
  }
}

export class TerminalError extends Error {
  override name = 'TerminalError';
  constructor(message: string, readonly code = 'terminal', readonly field?: string) {
    super(message);
  }
}

/**
 * A server that asked to be called less (429, or an answer with Retry-After): it says nothing about
 * the person whose call it refused, so that person is never dead-lettered for it.
 */
export function isThrottled(e: unknown): boolean {
  return e instanceof TransientError && (e.retryAfterMs !== undefined || (e as { status?: number }).status === 429);
}

/** A network-level failure (reset, refused, timeout) is worth another try; a bug is not. */
export function isTransient(e: unknown): boolean {
  if (e instanceof TransientError) return true;
  if (e instanceof TerminalError) return false;
  const code = (e as { code?: string })?.code ?? '';
  return ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT',
    'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'].includes(code);
}
