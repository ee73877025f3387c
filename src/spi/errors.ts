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

/** A network-level failure (reset, refused, timeout) is worth another try; a bug is not. */
export function isTransient(e: unknown): boolean {
  if (e instanceof TransientError) return true;
  if (e instanceof TerminalError) return false;
  const code = (e as { code?: string })?.code ?? '';
  return ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT',
    'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'].includes(code);
}
