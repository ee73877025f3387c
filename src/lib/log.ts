import { pino, type Logger } from 'pino';

// JSON lines for machines; pretty only when a person is watching a terminal.
const pretty = process.stdout.isTTY && !process.env.CI && process.env.TILGANG_LOG_FORMAT !== 'json';

export const log: Logger = pino({
  level: process.env.TILGANG_LOG_LEVEL ?? (process.env.VITEST ? 'warn' : 'info'),
  // Defence in depth: even if a caller passes a whole record, these never reach the log.
  redact: {
    paths: ['password', '*.password', 'token', '*.token', 'wstoken', '*.wstoken', 'fnr', '*.fnr',
      'idautoPersonNationalID', '*.idautoPersonNationalID', 'unicodePwd', '*.unicodePwd'],
    censor: '[redacted]',
  },
  ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss' } } } : {}),
});

export function child(bindings: Record<string, unknown>): Logger {
  return log.child(bindings);
}
