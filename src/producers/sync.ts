import { readFileSync } from 'node:fs';
import type { Kafka } from 'kafkajs';
import cliProgress from 'cli-progress';
import { isEnabled, type Config } from '../config.js';
import { RunLedger } from '../history/runs.js';
import { A } from '../directory/attributes.js';
import { Directory, type PersonRecord } from '../directory/client.js';
import { and, anyOf, eq } from '../lib/ldap/filter.js';
import { ensureTopics, topicSettings } from '../lib/kafka.js';
import { newRunId, PersonEventPublisher, runEvent, type RunInfo } from './publisher.js';

/** The seed's key_field values, and the directory attribute each one names. */
export const KEY_FIELDS = { username: A.usernames, 'uh-username': A.uhUsername, idautoID: A.id, uhid: A.id } as const;
export type KeyField = keyof typeof KEY_FIELDS;

export class SyncError extends Error {
  override name = 'SyncError';
}

export interface SyncOptions {
  keyField?: KeyField;
  keyValue?: string;
  all?: boolean;
  limit?: number;
  personsFile?: string;
  logOnly?: boolean;
  targets?: string[];
  progress?: boolean;
  peopleDn?: string;
  topic?: string;
  /** Who published the run (the result's run source): cli, schedule. */
  source?: string;
}

export interface SyncSummary { runId: string; mode: RunInfo['mode']; published: number; unknown: string[] }

const CHUNK = 1000;

/** The one person a key names (the seed's key_field/key_value): none or several is an error. */
export async function findOnePerson(dir: Directory, keyField: KeyField, keyValue: string, attributes: string[]): Promise<PersonRecord> {
  const attr = KEY_FIELDS[keyField];
  if (!attr) throw new SyncError(`--key-field must be one of ${Object.keys(KEY_FIELDS).join(', ')}`);
  const found = await dir.findPeople(attr, keyValue, attributes);
  if (!found.length) throw new SyncError(`no person in the directory has ${keyField}=${keyValue}`);
  if (found.length > 1) throw new SyncError(`${found.length} people have ${keyField}=${keyValue} (duplicate): ${found.map((f) => f.dn).join('; ')}`);
  return found[0]!;
}

/** Which people a run addresses, resolved against the directory before anything is published. */
async function selectPeople(dir: Directory, o: SyncOptions): Promise<{ ids: string[]; unknown: string[] }> {
  if (o.keyField || o.keyValue !== undefined) {
    if (!o.keyField || !o.keyValue) throw new SyncError('--key-field and --key-value go together');
    const found = await findOnePerson(dir, o.keyField, o.keyValue, [A.id]);
    return { ids: [found.attrs[A.id]![0]!], unknown: [] };
  }
  if (o.personsFile) {
    const wanted = [...new Set(readFileSync(o.personsFile, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#')))];
    const known = new Set<string>();
    for (let i = 0; i < wanted.length; i += 100) {
      const part = wanted.slice(i, i + 100);
      const { searchEntries } = await dir.client.search(dir.peopleDn, {
        scope: 'sub', filter: and(eq('objectClass', 'idautoPerson'), anyOf(A.id, part)), attributes: [A.id],
      });
      for (const e of searchEntries) known.add(String(e[A.id]).toLowerCase());
    }
    const ids = wanted.filter((id) => known.has(id.toLowerCase()));
    return { ids: o.limit ? ids.slice(0, o.limit) : ids, unknown: wanted.filter((id) => !known.has(id.toLowerCase())) };
  }
  if (o.all) {
    const ids: string[] = [];
    for await (const page of dir.personIds(CHUNK)) {
      ids.push(...page);
      if (o.limit && ids.length >= o.limit) break;
    }
    return { ids: o.limit ? ids.slice(0, o.limit) : ids, unknown: [] };
  }
  throw new SyncError('say which people: --key-field/--key-value, --persons-file or --all');
}

/**
 * The seed's run modes as one command: publish REPROCESS events for chosen people, or SNAPSHOT
 * events for everyone (a reconciliation), under one run id that the run report groups by.
 */
export async function sync(cfg: Config, kafka: Kafka, o: SyncOptions): Promise<SyncSummary> {
  const dir = await Directory.connect(cfg, { peopleDn: o.peopleDn });
  const runId = newRunId();
  const run: RunInfo = { runId, mode: o.all ? 'SNAPSHOT' : 'REPROCESS', logOnly: !!o.logOnly, targets: o.targets?.length ? o.targets : null, source: o.source ?? 'cli' };
  const topic = o.topic ?? cfg.kafka.topics.personChanged;
  const admin = kafka.admin();
  const publisher = new PersonEventPublisher(kafka, cfg, `tilgang.sync.${runId}`, topic);
  const ledger = new RunLedger(cfg);
  // The targets that act on the events: those named, else every enabled one.
  const addressed = run.targets ?? Object.entries(cfg.targets).filter(([, b]) => isEnabled(b)).map(([n]) => n);
  try {
    const { ids, unknown } = await selectPeople(dir, o);
    await admin.connect();
    await ensureTopics(admin, [{ topic, partitions: cfg.kafka.partitions }], topicSettings(cfg));
    await publisher.connect();
    const bar = o.progress ? new cliProgress.SingleBar({ format: `${runId} [{bar}] {value}/{total} people` }, cliProgress.Presets.shades_classic) : undefined;
    bar?.start(ids.length, 0);
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      await publisher.send(chunk.map((id) => runEvent(id, run)));
      await ledger.add(run, chunk.length, addressed, false);
      bar?.update(Math.min(i + CHUNK, ids.length));
    }
    await ledger.add(run, 0, addressed, true);
    bar?.stop();
    return { runId, mode: run.mode, published: ids.length, unknown };
  } finally {
    await publisher.disconnect();
    await ledger.close();
    await admin.disconnect().catch(() => {});
    await dir.close();
  }
}
