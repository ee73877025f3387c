import type { CourseChanged } from '../schemas/generated.js';
import { COURSE_STREAM, type CourseContext, type Loaded, type StreamDescriptor } from '../spi/index.js';

/**
 * The course stream: `course.changed`, keyed by the topic's source id (institution:code:version).
 * A wave of courses is read from MV's catalogue with one query, each topic with its people of
 * the topic's semester (who the courses target reprocesses once it has made the course).
 */
export const courseStream: StreamDescriptor<CourseChanged, CourseContext> = {
  name: COURSE_STREAM,
  topic: (global) => global.kafka.topics.courseChanged,
  schema: 'CourseChanged',
  key: (e) => e.sourceId,
  undecodable: (key, offset) => ({ eventId: `undecodable:${offset}`, sourceId: key, changeType: 'REPROCESS', changeTime: Date.now() }),

  async loadWave(events, _target, _ctx, sources) {
    const ids = [...new Set(events.map((e) => e.sourceId))];
    // MV out of reach is an MvUnavailableError, which the runtime retries and waits out.
    const topics = await sources.mv.topics({ ids });
    return events.map((event): Loaded<CourseContext> => {
      const topic = topics.get(event.sourceId);
      if (!topic) return { skip: 'topic not in the catalogue' };
      return { subject: { id: event.sourceId, event, topic, entitled: topic.status === 'active' } };
    });
  },
};
