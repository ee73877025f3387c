import { PERSON_STREAM, type AnyStream, type AnyTarget } from '../spi/index.js';
import { courseStream } from './course.js';
import { personStream } from './person.js';

/** The streams tilgang ships; a target names one in `Target.stream`. */
export const STREAMS: Readonly<Record<string, AnyStream>> = { [personStream.name]: personStream, [courseStream.name]: courseStream };

/** The stream a target consumes, among the shipped ones and any `more` (tests plug their own). */
export function streamFor(target: AnyTarget, more: readonly AnyStream[] = []): AnyStream {
  const name = target.stream ?? PERSON_STREAM;
  const found = more.find((s) => s.name === name) ?? STREAMS[name];
  if (!found) throw new Error(`target ${target.name} consumes stream "${name}", which does not exist (known: ${[...new Set([...Object.keys(STREAMS), ...more.map((s) => s.name)])].join(', ')})`);
  return found;
}
