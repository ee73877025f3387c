import type { Kafka } from 'kafkajs';
import { isEnabled, parseWholeConfig, readConfigFile, type Config } from '../config.js';
import { readToEnd } from '../lib/read-to-end.js';
import type { RegistrySettings } from '../lib/tls.js';
import { EventCodec } from '../schemas/codec.js';
import { loadTargets } from '../targets/index.js';

/** A command-line argument that names nothing the configuration knows: refused before any work. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * The configuration every command starts from, checked whole: the core schema, each target
 * name, and each enabled target's block, so a mistake stops the command before it does anything.
 */
export async function checkedConfig(path?: string): Promise<Config> {
  const { raw, file } = readConfigFile(path);
  return parseWholeConfig(raw, file, await loadTargets());
}

/**
 * Refuses target names the configuration does not have. `enabledOnly` for commands that send
 * work to a target (only an enabled target's group would ever read it); `also` for names that
 * are not targets but are accepted (the writeback's dead letters).
 */
export function requireTargets(cfg: Config, names: readonly string[], opts: { enabledOnly?: boolean; also?: readonly string[] } = {}): void {
  const configured = Object.entries(cfg.targets).filter(([, b]) => !opts.enabledOnly || isEnabled(b)).map(([n]) => n);
  const accepted = [...configured, ...(opts.also ?? [])];
  const unknown = names.filter((n) => !accepted.includes(n));
  if (!unknown.length) return;
  const disabled = unknown.filter((n) => n in cfg.targets);
  const what = disabled.length === unknown.length ? `target${unknown.length > 1 ? 's' : ''} not enabled` : `unknown target${unknown.length > 1 ? 's' : ''}`;
  throw new UsageError(`${what}: ${unknown.join(', ')} (${opts.enabledOnly ? 'enabled' : 'configured'}: ${accepted.join(', ') || 'none'})`);
}

/** Whether any person.changed event carries this run id: a run with events but no results yet is known, only not done. */
export async function runWasPublished(kafka: Kafka, registry: RegistrySettings, topic: string, runId: string): Promise<boolean> {
  const candidates: Buffer[] = [];
  // The run id is a plain string inside the Avro bytes: match the bytes first, decode only those.
  await readToEnd(kafka, topic, (m) => { if (m.value && m.value.includes(runId)) candidates.push(m.value); });
  if (!candidates.length) return false;
  const codec = new EventCodec(registry);
  for (const b of candidates) if ((await codec.decode('PersonChanged', b)).runId === runId) return true;
  return false;
}
