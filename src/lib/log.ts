import { pino, type Logger } from 'pino';
import { resolvedSecrets } from '../config.js';

// JSON lines for machines; pretty only when a person is watching a terminal.
const pretty = process.stderr.isTTY && !process.env.CI && process.env.TILGANG_LOG_FORMAT !== 'json';

/** Secrets shorter than this are not scrubbed: they would blank out ordinary words. */
const MIN_SECRET = 4;

/** Replaces every resolved secret in strings, however deep in what is logged (an error text may echo a token). */
export function scrubSecrets<T>(v: T, secrets: readonly string[] = resolvedSecrets(), depth = 0): T {
  if (typeof v === 'string') {
    let out: string = v;
    for (const s of secrets) if (s.length >= MIN_SECRET && out.includes(s)) out = out.split(s).join('[redacted]');
    return out as T;
  }
  if (!v || typeof v !== 'object' || depth > 5) return v;
  if (v instanceof Error) {
    const e = v as Error & { code?: unknown };
    return { type: e.name, message: scrubSecrets(e.message, secrets), stack: scrubSecrets(e.stack, secrets), ...(e.code === undefined ? {} : { code: e.code }) } as T;
  }
  if (Array.isArray(v)) return v.map((x) => scrubSecrets(x, secrets, depth + 1)) as T;
  if (Object.getPrototypeOf(v) !== Object.prototype) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrubSecrets(x, secrets, depth + 1)])) as T;
}

export const log: Logger = pino({
  level: process.env.TILGANG_LOG_LEVEL ?? (process.env.VITEST ? 'warn' : 'info'),
  // Defence in depth: even if a caller passes a whole record, these never reach the log.
  redact: {
    paths: ['password', '*.password', 'token', '*.token', 'wstoken', '*.wstoken', 'fnr', '*.fnr',
      'idautoPersonNationalID', '*.idautoPersonNationalID', 'unicodePwd', '*.unicodePwd'],
    censor: '[redacted]',
  },
  hooks: {
    logMethod(args, method) {
      if (resolvedSecrets().length) for (let i = 0; i < args.length; i++) args[i] = scrubSecrets(args[i]);
      return method.apply(this, args);
    },
  },
  // Logs go to stderr: stdout is what a command prints for its user.
  ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss', destination: 2 } } } : {}),
}, pretty ? undefined : pino.destination({ dest: 2, sync: true }));

export function child(bindings: Record<string, unknown>): Logger {
  return log.child(bindings);
}
