import { TerminalError, type AnyTarget, type TargetContext } from '../spi/index.js';

/**
 * Runs a target's start check. A TerminalError stops the worker (the client is closed first); any
 * other failure means the system is not reachable now, which the runtime's retries cover.
 */
export async function checkTarget(target: AnyTarget, client: unknown, ctx: TargetContext<unknown>): Promise<void> {
  if (!target.check) return;
  try {
    const report = await target.check(client, ctx);
    for (const w of report.warnings ?? []) ctx.log.warn({ target: target.name }, w);
    ctx.log.info({ target: target.name, ...report.facts }, 'target check passed');
  } catch (e) {
    if (e instanceof TerminalError) {
      await target.close?.(client)?.catch(() => {});
      throw e;
    }
    ctx.log.warn({ target: target.name, err: (e as Error).message }, 'target check could not reach the system; events will be retried');
  }
}
