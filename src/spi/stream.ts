/**
 * What a stream of events is about. The runtime is generic over streams: it reads the topic a
 * stream names, keys and orders by the stream's subject, and asks the stream to load a wave of
 * subjects (a person from the directory and MV; a course from the catalogue). A target says which
 * stream it consumes (`Target.stream`, the person stream by default) and gets that stream's
 * subject context.
 */
import type { MvFacet } from '../mv/facets.js';
import type { RunMode } from '../schemas/generated.js';
import type { CatalogueTopic } from '../mv/person.js';
import type { MvPerson, PersonRecord } from './person.js';
import type { AnyTarget, GlobalConfig, TargetContext } from './target.js';

export { MV_FACETS, type MvFacet } from '../mv/facets.js';

/** The stream every target consumes unless it says otherwise. */
export const PERSON_STREAM = 'person';

/** The fields of an event the runtime reads, whatever the stream: which run, how, for which targets. */
export interface StreamEvent {
  eventId: string;
  runId?: string | null;
  mode?: RunMode;
  /** Plan and publish the plan, change nothing. */
  logOnly?: boolean;
  /** Only these targets act on the event; null or absent means all. */
  targets?: string[] | null;
}

/** What every stream's subject context tells the runtime (a target gets the stream's own, richer one). */
export interface SubjectContext<E extends StreamEvent = StreamEvent> {
  /** The subject's key (the Kafka key; the result's personId). */
  id: string;
  /** The event that brought the subject here; targets act on the subject's current state, not on it. */
  event: E;
  /** Whether the target's rules grant this subject an account (reported in the result). */
  entitled: boolean;
}

/** Per event of a wave: the subject for the target, a skip decided before the target is asked, or this subject's own failure. */
export type Loaded<S> = { subject: S } | { skip: string } | { error: unknown };

/**
 * The systems a stream loads its subjects from, each read once per wave: one directory search
 * with an OR of the ids, one MV query with `= ANY($1)`.
 */
export interface StreamSources {
  directory: {
    /** Found people by id; an id two entries share maps to an error naming them. */
    readMany(ids: readonly string[], attributes?: string[]): Promise<Map<string, PersonRecord | Error>>;
  };
  mv: {
    /** Found people by id, with the facets asked for. */
    readMany(ids: readonly string[], facets?: readonly MvFacet[]): Promise<Map<string, MvPerson>>;
    /** Topics of the course catalogue by source id, each with its people (one query). */
    topics(sel: { ids: readonly string[] }): Promise<Map<string, CatalogueTopic>>;
  };
}

export interface StreamDescriptor<E extends StreamEvent = StreamEvent, S extends SubjectContext<E> = SubjectContext<E>> {
  /** What a target names in `Target.stream`. */
  name: string;
  /** The topic its events are on. */
  topic(global: GlobalConfig): string;
  /** The Avro record its events are (the producer registers it under `<topic>-value`). */
  schema: string;
  /** The subject an event is about: the Kafka key, the unit of ordering, the result's personId. */
  key(event: E): string;
  /** A stand-in for a message that cannot be decoded, so it still gets a result and a dead letter. */
  undecodable(key: string, offset: string): E;
  /**
   * One wave: one event per subject, all different subjects. Reads them batched (one round trip
   * per source, however many subjects) and returns one Loaded per event, in order. Throws when a
   * source fails for the whole wave (a TransientError is retried).
   */
  loadWave(events: E[], target: AnyTarget, ctx: TargetContext<any>, sources: StreamSources): Promise<Loaded<S>[]>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStream = StreamDescriptor<any, any>;
