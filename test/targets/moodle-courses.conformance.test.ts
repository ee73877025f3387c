import { MoodleClient } from '../../src/lib/moodle/client.js';
import { target } from '../../src/targets/moodle-courses/index.js';
import { startMoodleSimulator } from '../../src/targets/moodle/simulator/index.js';
import { courseConformance, type TopicSpec } from '../support/course-conformance.js';
import { FaultyProxy } from '../support/http-faults.js';

const TOKEN = 'b1c2d3e4f5a60718293a4b5c6d7e8f90';
const WRITES = ['core_course_create_courses', 'core_course_update_courses', 'core_course_create_categories', 'core_course_import_course'];

/** The Moodle courses target against the Moodle simulator, through a proxy that counts writes and plants 503s. */
courseConformance({
  target,
  async start() {
    const sim = await startMoodleSimulator({ token: TOKEN, seed: 'recorded' });
    const proxy = new FaultyProxy(sim.url, (body) => WRITES.some((f) => body.includes(`wsfunction=${f}&`)));
    const url = await proxy.open();
    const ws = new MoodleClient({ url: sim.url, token: TOKEN });
    process.env.TILGANG_TEST_CONFORMANCE_MOODLE_COURSES_TOKEN = TOKEN;
    const shortname = (t: TopicSpec) => `${t.code}-${t.year}-${t.term}`;
    const idnumber = (t: TopicSpec) => `${t.sourceId}:${t.year}:${t.term}`;
    const courses = (t: TopicSpec) => sim.snapshot().courses.filter((c) => c.idnumber === idnumber(t) || c.shortname === shortname(t));
    return {
      config: { url, token: { env: 'TILGANG_TEST_CONFORMANCE_MOODLE_COURSES_TOKEN' }, template: 'TEMPLATE-101', language: 'nb' },
      async course(t) {
        const s = sim.snapshot();
        const c = s.courses.find((x) => x.idnumber === idnumber(t));
        if (!c) return null;
        return { attributes: { name_nb: c.fullname }, content: s.modules.filter((m) => m.courseid === c.id).length };
      },
      count: async (t) => courses(t).length,
      writes: async () => proxy.writes,
      async plantDuplicate(t) {
        // A course made by hand under the shortname tilgang would give the topic's course.
        await ws.call('core_course_create_courses', { courses: [{ fullname: 'Made by hand', shortname: shortname(t), categoryid: 1, idnumber: `HAND-${t.code}` }] });
        return ['Made by hand', `HAND-${t.code}`];
      },
      async failTransiently(t, times) {
        proxy.failNext((body) => body.includes('wsfunction=core_course_create_courses&') && body.includes(encodeURIComponent(shortname(t))), times);
      },
      mapped: [{ column: 'name_nb', value: (t) => `Nytt navn ${t.code}` }],
      secrets: [TOKEN],
      async stop() {
        await ws.close();
        await proxy.close();
        await sim.close();
      },
    };
  },
});
