import { isEntitled, isProvisioned, missingEssential } from '../consumers/entitlement.js';
import type { PersonChanged } from '../schemas/generated.js';
import { isTransient, TransientError, type Loaded, type PersonContext, type PersonRecord, type StreamDescriptor } from '../spi/index.js';

/**
 * The person stream: `person.changed`, keyed by idautoID. A wave of people is read with one
 * directory search and one MV query (the facets the target declared), however many people.
 */
export const personStream: StreamDescriptor<PersonChanged, PersonContext> = {
  name: 'person',
  topic: (global) => global.kafka.topics.personChanged,
  schema: 'PersonChanged',
  key: (e) => e.personId,
  undecodable: (key, offset) => ({ eventId: `undecodable:${offset}`, personId: key, changeType: 'REPROCESS', changeTime: Date.now() }),

  async loadWave(events, target, ctx, sources) {
    const name = target.name;
    // Deprovisioning happens by losing entitlement (disable), never by deleting the account.
    const live = events.filter((e) => e.changeType !== 'DELETE');
    const ids = [...new Set(live.map((e) => e.personId))];
    let records = new Map<string, PersonRecord | Error>();
    if (ids.length) {
      try {
        records = await sources.directory.readMany(ids);
      } catch (e) {
        if (isTransient(e) || /connect|socket|timeout/i.test((e as Error).message)) {
          throw new TransientError(`reading ${ids.length} ${ids.length === 1 ? 'person' : 'people'} from the directory: ${(e as Error).message}`, 'directory');
        }
        throw e;
      }
    }
    const essential = target.essential(ctx.config);
    const complete = (r: PersonRecord | Error | undefined): r is PersonRecord => !!r && !(r instanceof Error) && !missingEssential(r, essential).length;
    const mvIds = ids.filter((id) => complete(records.get(id)));
    const mv = mvIds.length ? await sources.mv.readMany(mvIds, target.mv?.(ctx.config) ?? []) : new Map();
    return events.map((event): Loaded<PersonContext> => {
      if (event.changeType === 'DELETE') return { skip: 'directory delete: accounts are disabled through entitlement, never deleted' };
      const record = records.get(event.personId);
      if (record instanceof Error) return { error: record };
      if (!record) return { skip: 'person not in the directory' };
      const missing = missingEssential(record, essential);
      if (missing.length) {
        ctx.log.warn({ person: event.personId, target: name, missing }, 'record lacks essential attributes: skipped');
        return { skip: `missing essential attribute${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}` };
      }
      return {
        subject: {
          id: event.personId, event, record, mv: mv.get(event.personId),
          entitled: isEntitled(record, ctx.config.entitlement),
          provisioned: isProvisioned(record, name),
        },
      };
    });
  },
};
