import { z } from 'zod';

/** The `reconcile:` schedule's configuration (imported by the configuration schema, so it imports nothing of the runtime). */

const DURATION = /^(\d+)\s*(s|m|h|d|w)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** `90m`, `6h`, `24h`, `7d`: milliseconds. */
export function parseDuration(v: string): number {
  const m = DURATION.exec(v.trim());
  if (!m) throw new Error(`${JSON.stringify(v)} is not a duration (30m, 6h, 24h, 7d)`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** The `reconcile:` block: a full reconciliation and the orphan check, run by `tilgang run` on a schedule. */
export const ReconcileSchedule = z.object({
  every: z.string().regex(DURATION, 'a duration: 30m, 6h, 24h, 7d').refine((v) => !DURATION.test(v) || parseDuration(v) >= 60_000, 'at least a minute')
    .describe('How often: 24h, 6h, 7d.'),
  at: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day, HH:MM').optional()
    .describe('The time of day (HH:MM, the process\'s time zone) the runs are counted from; without it, from midnight UTC.'),
  orphans: z.enum(['off', 'list', 'apply']).default('list')
    .describe('The orphan check of every target that can list its accounts: off, list (log them), or apply (disable them through the guard).'),
  logOnly: z.boolean().default(false).describe('The scheduled sync --all plans and reports but changes nothing.'),
  leaseSeconds: z.number().int().min(10).default(300)
    .describe('A running job renews its lease this often (a third of it); a worker that dies lets another take the next run after this long.'),
}).strict();
export type ReconcileScheduleConfig = z.infer<typeof ReconcileSchedule>;

