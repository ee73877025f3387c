/**
 * Fault injection for the simulators: a share of requests is answered 5xx, 429 with Retry-After,
 * never answered (a timeout, the request not run), run but its answer lost (the write happened,
 * the client cannot know), or answered late. Rates are per request and drawn from a seeded
 * generator, so a seed replays the same sequence of faults for the same sequence of requests.
 * Used by the simulators only; production code never loads it.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { z } from 'zod';
import { mulberry32 } from './mulberry32.js';

const rate = z.number().min(0).max(1).default(0);


export const faultSettings = z.object({
  seed: z.number().int().default(1).describe('the generator\'s seed: the same seed and requests give the same faults'),
  error5xx: rate.describe('share of requests answered 503 without being run'),
  tooMany: rate.describe('share of requests answered 429 with Retry-After, without being run'),
  retryAfterSeconds: z.number().int().min(0).default(1).describe('the Retry-After of a 429'),
  timeout: rate.describe('share of requests never answered and not run: the connection is dropped after holdMs'),
  lostAnswer: rate.describe('share of requests run whose answer is lost: the connection is dropped after holdMs'),
  holdMs: z.number().int().min(0).default(5_000).describe('how long an unanswered request holds its connection'),
  slow: rate.describe('share of requests answered slowMs late (run after the wait)'),
  slowMs: z.number().int().min(0).default(2_000).describe('the delay of a slow answer'),
}).strict().refine((f) => f.error5xx + f.tooMany + f.timeout + f.lostAnswer + f.slow <= 1, 'the fault rates add up to more than 1');

export type FaultSettings = z.infer<typeof faultSettings>;
export type FaultSettingsInput = z.input<typeof faultSettings>;
export type FaultKind = 'error5xx' | 'tooMany' | 'timeout' | 'lostAnswer' | 'slow';
export const FAULT_KINDS: readonly FaultKind[] = ['error5xx', 'tooMany', 'timeout', 'lostAnswer', 'slow'];

export interface FaultInjector {
  /** Requests seen, and the faults injected by kind. */
  readonly counts: Record<FaultKind | 'requests', number>;
  /** Turns injection on (with new settings) or off (null) while the simulator runs. */
  set(settings: FaultSettingsInput | null): void;
  /** The fault for the next request, if any (draws one number). */
  next(): FaultKind | undefined;
  /** A request listener that injects faults before the simulator's own; `error` writes the system's error body. */
  wrap(listener: RequestListener, error: (res: ServerResponse, status: number, headers: Record<string, string>) => void, skip?: (req: IncomingMessage) => boolean): RequestListener;
}

export function faultInjector(initial?: FaultSettingsInput | null): FaultInjector {
  let s: FaultSettings | null = null;
  let draw = mulberry32(1);
  const counts: Record<FaultKind | 'requests', number> = { requests: 0, error5xx: 0, tooMany: 0, timeout: 0, lostAnswer: 0, slow: 0 };
  const self: FaultInjector = {
    counts,
    set(settings) {
      s = settings ? faultSettings.parse(settings) : null;
      draw = mulberry32(s?.seed ?? 1);
    },
    next() {
      counts.requests++;
      if (!s) return undefined;
      let x = draw();
      for (const k of FAULT_KINDS) {
        if (x < s[k]) {
          counts[k]++;
          return k;
        }
        x -= s[k];
      }
      return undefined;
    },
    wrap(listener, error, skip) {
      return (req, res) => {
        const kind = skip?.(req) ? undefined : self.next();
        const cfg = s!;
        const drop = () => { const t = setTimeout(() => { req.socket.destroy(); }, cfg.holdMs); t.unref(); };
        switch (kind) {
          case undefined: return listener(req, res);
          case 'error5xx': return error(res, 503, {});
          case 'tooMany': return error(res, 429, { 'retry-after': String(cfg.retryAfterSeconds) });
          case 'timeout': return drop();
          case 'slow': {
            const t = setTimeout(() => listener(req, res), cfg.slowMs);
            t.unref();
            return;
          }
          case 'lostAnswer': {
            // Run it; whatever it answers never leaves.
            res.writeHead = (() => res) as never;
            res.setHeader = (() => res) as never;
            res.write = (() => true) as never;
            res.end = (() => { drop(); return res; }) as never;
            return listener(req, res);
          }
        }
      };
    },
  };
  self.set(initial ?? null);
  return self;
}
