import type { Kafka } from 'kafkajs';
import { resolvedSecrets, type Config } from '../config.js';
import { A } from '../directory/attributes.js';
import { Directory } from '../directory/client.js';
import { eq } from '../lib/ldap/filter.js';
import { child } from '../lib/log.js';
import { MvReader } from '../mv/person.js';
import { newRunId, runEvent } from '../producers/publisher.js';
import { EventCodec } from '../schemas/codec.js';
import type { ProvisioningResult } from '../schemas/generated.js';
import { TerminalError, type AnyTarget, type ManagedAccount, type PersonContext, type PersonRecord, type TargetContext } from '../spi/index.js';
import { entitlementDecision } from './entitlement.js';
import { MassChangeGuard } from './guard.js';
import { appliedResult, failedResult, planned, settleGuard, type ReconcileDeps } from './reconcile.js';
import { guardSettingsFor, TargetGroup } from './target-group.js';

/** An enabled account with tilgang's anchor whose person is gone from the directory or no longer entitled. */
export interface Orphan {
  account: ManagedAccount;
  /** The person is not in the directory at all (else: not entitled any more). */
  gone: boolean;
  reason: string;
}

export interface OrphanReport {
  target: string;
  /** Accounts with tilgang's anchor the target listed. */
  scanned: number;
  orphans: Orphan[];
  /** With --apply: each orphan's result (APPLIED: disabled; HELD by the guard; FAILED; UNCHANGED). */
  results?: ProvisioningResult[];
  runId?: string;
}

export class OrphanCapabilityError extends Error {}

/** The targets that can list their managed accounts (the optional capability). */
export function canListManaged(t: AnyTarget): boolean {
  return typeof t.listManaged === 'function';
}

/**
 * The two-way check: every account the target says carries tilgang's anchor is looked up in the
 * directory (in chunks, one search each); an enabled account whose person is gone or no longer
 * entitled is an orphan. With `apply`, each orphan goes through the normal path: the target's
 * actual and plan for a person without entitlement (a disable, never a delete), the mass-change
 * guard's admission, apply, and a provisioning.result published like any other.
 */
export async function orphans(cfg: Config, kafka: Kafka | undefined, target: AnyTarget, opts: { apply?: boolean; peopleDn?: string; resultsTopic?: string } = {}): Promise<OrphanReport> {
  if (!target.listManaged) throw new OrphanCapabilityError(`target ${target.name} cannot list the accounts it manages: no orphan check for it`);
  const log = child({ component: 'orphans', target: target.name });
  const ctx: TargetContext<any> = { config: TargetGroup.targetConfig(cfg, target), global: cfg, log };
  const dir = await Directory.connect(cfg, { peopleDn: opts.peopleDn });
  const mv = MvReader.fromConfig(cfg.mv, { max: 2 });
  const client = await target.connect(ctx);
  try {
    const found: { orphan: Orphan; record?: PersonRecord }[] = [];
    let scanned = 0;
    for await (const page of target.listManaged(client, ctx)) {
      scanned += page.length;
      const enabled = page.filter((a) => a.enabled);
      for (let i = 0; i < enabled.length; i += 200) {
        const chunk = enabled.slice(i, i + 200);
        const records = await dir.readMany(chunk.map((a) => a.key));
        for (const account of chunk) {
          const r = records.get(account.key);
          if (r instanceof Error) {
            log.warn({ person: account.key, err: r.message }, 'account skipped by the orphan check: the directory is ambiguous about its person');
            continue;
          }
          if (!r) {
            found.push({ orphan: { account, gone: true, reason: `person ${account.key} is not in the directory` } });
            continue;
          }
          const d = entitlementDecision(r, ctx.config.entitlement);
          if (!d.entitled) found.push({ orphan: { account, gone: false, reason: `no longer entitled: ${d.rule}` }, record: r });
        }
      }
    }
    const report: OrphanReport = { target: target.name, scanned, orphans: found.map((f) => f.orphan) };
    if (!opts.apply || !found.length) return report;

    // Disable through the normal plan/guard path, and publish each result.
    const runId = newRunId();
    const guard = new MassChangeGuard(mv.pool, cfg.runtime.stateSchema);
    await guard.ensure();
    let total: number | undefined;
    const deps: ReconcileDeps = {
      target, ctx, client, directory: dir, mv, guard, guardSettings: guardSettingsFor(cfg, target.name),
      totalAccounts: async () => (total ??= await countProvisioned(dir, target.name)),
      sensitive: cfg.directory.sensitive, secrets: resolvedSecrets(),
    };
    const results: ProvisioningResult[] = [];
    for (const { orphan, record } of found) {
      const key = orphan.account.key;
      const event = runEvent(key, { runId, mode: 'REPROCESS', logOnly: false, targets: [target.name], source: 'orphans' });
      const started = Date.now();
      const person: PersonContext = {
        id: key, event, mv: undefined, entitled: false, provisioned: true,
        record: record ?? { dn: '', attrs: { [A.id]: [key], ...orphan.account.match } },
      };
      try {
        const desired = target.desired(person, ctx);
        if (desired !== null) throw new TerminalError(`target ${target.name} wants an account for ${key}, who is not entitled: left alone`, 'not-orphan');
        const actual = await target.actual(person, null, client, ctx);
        const p = await planned(event, key, person, null, actual, deps, started);
        if (p.kind === 'done') {
          results.push(p.result);
          continue;
        }
        let applied: Awaited<ReturnType<AnyTarget['apply']>> | undefined;
        try {
          applied = await target.apply(p.plan, client, ctx, person);
        } finally {
          await settleGuard([p], [applied ? { ok: applied } : { err: new Error('apply failed') }], deps);
        }
        results.push(appliedResult(p, applied!, deps));
      } catch (e) {
        results.push({ ...failedResult(event, key, target.name, started, e, deps.secrets), entitled: false });
      }
    }
    if (kafka) await publishResults(cfg, kafka, results, opts.resultsTopic ?? cfg.kafka.topics.provisioningResult);
    for (const r of results) log.info({ person: r.personId, outcome: r.outcome, runId }, 'orphan handled');
    return { ...report, results, runId };
  } finally {
    await target.close?.(client);
    await mv.close();
    await dir.close();
  }
}

/** The target's provisioned accounts as the directory records them (for the guard's share). */
async function countProvisioned(dir: Directory, target: string): Promise<number> {
  let n = 0;
  for await (const page of dir.client.searchPaginated(dir.peopleDn, { scope: 'sub', filter: eq(A.provisionedTo, target), attributes: ['1.1'], paged: { pageSize: 1000 } })) {
    n += page.searchEntries.length;
  }
  return n;
}

async function publishResults(cfg: Config, kafka: Kafka, results: ProvisioningResult[], topic: string): Promise<void> {
  if (!results.length) return;
  const codec = new EventCodec(cfg.registry);
  // Once, before the encodes: concurrent first registrations of a subject race in the registry.
  await codec.register('ProvisioningResult', topic);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const messages = await Promise.all(results.map(async (r) => ({ key: r.personId, value: await codec.encode('ProvisioningResult', topic, r) })));
    await producer.send({ topic, messages });
  } finally {
    await producer.disconnect().catch(() => {});
  }
}

export function formatOrphans(r: OrphanReport): string {
  const lines = [`${r.target}: ${r.scanned} account(s) carry tilgang's anchor; ${r.orphans.length} orphan(s)`];
  const byKey = new Map((r.results ?? []).map((x) => [x.personId, x]));
  for (const o of r.orphans) {
    const res = byKey.get(o.account.key);
    const done = res ? `  → ${res.outcome === 'APPLIED' ? 'disabled' : res.outcome.toLowerCase()}${res.skipReason ? `: ${res.skipReason}` : res.error ? `: ${res.error.message}` : ''}` : '';
    lines.push(`  ${o.account.name ?? o.account.accountId}  (account ${o.account.accountId}, person ${o.account.key})  ${o.reason}${done}`);
  }
  if (r.runId) lines.push(`run ${r.runId}: see the counters with: tilgang report ${r.runId}`);
  else if (r.orphans.length) lines.push(`disable them (through the mass-change guard) with: tilgang orphans ${r.target} --apply`);
  return lines.join('\n');
}
