/** The course as the runtime hands it to a target of the course stream: the catalogue's topic, the event. */
import type { CatalogueTopic } from '../mv/person.js';
import type { CourseChanged } from '../schemas/generated.js';
import type { SubjectContext } from './stream.js';

export type { CatalogueTopic } from '../mv/person.js';
export type { CourseChanged } from '../schemas/generated.js';

/** The stream of MV's course catalogue: `course.changed`, keyed by the topic's source id. */
export const COURSE_STREAM = 'course';

export interface CourseContext extends SubjectContext<CourseChanged> {
  /** The topic as MV has it now, with its people of the topic's semester. */
  topic: CatalogueTopic;
}
