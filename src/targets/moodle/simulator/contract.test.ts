/**
 * Contract test: replays every recorded request of a real Moodle 4.5 (test/data/moodle-recorded/cases.jsonl
 * and cases-2.jsonl, each file in order, over real HTTP) against a fresh simulator seeded with the
 * site that file was recorded against, and compares status, content type and body. Settings the
 * recording changed between calls (transcript.md, "How the settings were changed") are changed on
 * the simulator before the same call.
 *
 * Only generated values are normalised: the site URL (the simulator listens on a random port),
 * the theme revision in picture URLs, and timestamps (timecreated, timemodified, firstaccess,
 * lastaccess, cacherev), where a recorded 0 must stay 0 and any other value must be a positive
 * integer, also inside an error's debuginfo (the INSERT's values). Ids are compared exactly. Error
 * bodies are otherwise compared byte for byte.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMoodleSimulator, type MoodleSimulator, type MoodleSimulatorOptions } from './index.js';

interface RecordedCase {
  id: string;
  title: string;
  debug: 'off' | 'developer';
  function: string;
  method: 'GET' | 'POST';
  path: string;
  params: [string, string][];
  http_status: number;
  content_type: string;
  time_s: number;
  body: string;
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(resolve(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the contract test');
    dir = up;
  }
  return dir;
}

const RECORDINGS_DIR = process.env.TILGANG_MOODLE_RECORDINGS ?? resolve(repoRoot(), 'test', 'data', 'moodle-recorded');
const RECORDED_SITE = 'http://127.0.0.1:8765';
const RECORDED_TOKEN = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const TIMESTAMP_KEYS = ['timecreated', 'timemodified', 'firstaccess', 'lastaccess', 'cacherev'];

/** One recording file, the site it was made against, and what was changed on that site between calls. */
interface Recording {
  file: string;
  minimumCases: number;
  site: Omit<MoodleSimulatorOptions, 'token'>;
  before?: Record<string, (sim: MoodleSimulator) => void>;
  after?: Record<string, (sim: MoodleSimulator) => void>;
}

const RECORDINGS: Recording[] = [
  {
    file: 'cases.jsonl',
    minimumCases: 82,
    // transcript.md sections A-D: the recorded site, its `provisioning` service as it was then.
    site: {
      seed: 'recorded',
      serviceFunctions: [
        'core_webservice_get_site_info', 'core_user_get_users_by_field', 'core_user_get_users', 'core_user_create_users',
        'core_user_update_users', 'core_enrol_get_users_courses', 'enrol_manual_enrol_users',
        'enrol_manual_unenrol_users', 'core_course_get_courses_by_field', 'core_course_create_courses',
        'core_course_get_categories', 'core_course_create_categories', 'core_course_import_course',
      ],
    },
  },
  {
    file: 'cases-2.jsonl',
    minimumCases: 39,
    // transcript.md section E: a freshly reset site, another service, auth_saml2 installed.
    site: {
      seed: 'minimal',
      serviceFunctions: [
        'core_webservice_get_site_info', 'core_user_get_users_by_field', 'core_user_get_users', 'core_user_create_users',
        'core_user_update_users', 'core_enrol_get_users_courses', 'core_enrol_get_enrolled_users',
        'enrol_manual_enrol_users', 'enrol_manual_unenrol_users', 'core_course_get_courses_by_field',
        'core_course_create_courses',
      ],
    },
    before: {
      B04: (sim) => sim.setCapability('moodle/course:update', false),
      B29: (sim) => sim.addServiceFunction('core_role_unassign_roles'),
    },
    after: {
      B05: (sim) => sim.setCapability('moodle/course:update', true),
    },
  },
];

function readCases(file: string): RecordedCase[] {
  const path = resolve(RECORDINGS_DIR, file);
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as RecordedCase);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Textual normalisation of a body (JSON with PHP's escaped slashes, or XML). */
function normaliseText(body: string, site: string): string {
  let out = body
    .replace(new RegExp(escapeRe(site.replace(/\//g, '\\/')), 'g'), '<site>')
    .replace(new RegExp(escapeRe(site), 'g'), '<site>')
    .replace(/(theme(?:\\\/|\/)image\.php(?:\\\/|\/)boost(?:\\\/|\/)core(?:\\\/|\/))\d+/g, '$1<rev>');
  for (const k of TIMESTAMP_KEYS) {
    out = out
      .replace(new RegExp(`"${k}":([1-9]\\d*)`, 'g'), `"${k}":"<ts>"`)
      // var_export() of an INSERT's values inside a developer-mode debuginfo.
      .replace(new RegExp(`'${k}' => [1-9]\\d*`, 'g'), `'${k}' => <ts>`)
      .replace(new RegExp(`<KEY name="${k}"><VALUE>[1-9]\\d*</VALUE>`, 'g'), `<KEY name="${k}"><VALUE><ts></VALUE>`);
  }
  return out;
}

/** Structural normalisation of parsed JSON: same rules, applied to values. */
function normaliseJson(v: unknown, site: string, key?: string): unknown {
  if (Array.isArray(v)) return v.map((x) => normaliseJson(x, site));
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normaliseJson(x, site, k)]));
  }
  if (typeof v === 'number' && key !== undefined && TIMESTAMP_KEYS.includes(key) && v !== 0) {
    return Number.isInteger(v) && v > 0 ? '<ts>' : `<bad timestamp ${v}>`;
  }
  if (typeof v === 'string') {
    return v.split(site).join('<site>').replace(/(theme\/image\.php\/boost\/core\/)\d+/g, '$1<rev>');
  }
  return v;
}

function isErrorBody(body: string): boolean {
  return body.startsWith('{"exception"') || body.includes('<EXCEPTION');
}

for (const recording of RECORDINGS) {
  const cases = readCases(recording.file);

  describe(`Moodle simulator replays the recorded Moodle 4.5 traffic of ${recording.file}`, () => {
    if (cases.length === 0) {
      it('finds the recordings', () => {
        throw new Error(`Recorded Moodle traffic not found at ${resolve(RECORDINGS_DIR, recording.file)} (expected in `
          + 'test/data/moodle-recorded/, or set TILGANG_MOODLE_RECORDINGS to the directory). The contract cannot be checked without it.');
      });
      return;
    }

    let sim: MoodleSimulator;
    let agent: Agent;

    beforeAll(async () => {
      sim = await startMoodleSimulator({ port: 0, token: RECORDED_TOKEN, ...recording.site });
      agent = new Agent({ connections: 1 });
    });

    afterAll(async () => {
      await agent?.close();
      await sim?.close();
    });

    it('has the full recording', () => {
      expect(cases.length).toBeGreaterThanOrEqual(recording.minimumCases);
      expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
    });

    for (const c of cases) {
      it(`${c.id}: ${c.title}`, async () => {
        recording.before?.[c.id]?.(sim);
        try {
          await replay(sim, agent, c);
        } finally {
          recording.after?.[c.id]?.(sim);
        }
      });
    }
  });
}

async function replay(sim: MoodleSimulator, agent: Agent, c: RecordedCase): Promise<void> {
  sim.setDebug(c.debug === 'developer' ? 'developer' : 'off');
  const form = new URLSearchParams(c.params).toString();
  const res = await request(c.method === 'GET' ? `${sim.url}${c.path}?${form}` : `${sim.url}${c.path}`, {
    method: c.method,
    dispatcher: agent,
    ...(c.method === 'POST'
      ? { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form }
      : {}),
  });
  const body = await res.body.text();

  expect(res.statusCode, 'HTTP status').toBe(c.http_status);
  expect(res.headers['content-type'], 'content type').toBe(c.content_type);

  if (isErrorBody(c.body)) {
    // Errors carry no generated values beyond the timestamps of a developer-mode INSERT.
    expect(normaliseText(body, sim.url)).toBe(normaliseText(c.body, RECORDED_SITE));
    return;
  }
  if (c.content_type.startsWith('application/json')) {
    const got = normaliseJson(JSON.parse(body), sim.url);
    const want = normaliseJson(JSON.parse(c.body), RECORDED_SITE);
    expect(got).toStrictEqual(want);
    // Same keys in the same order, same value types.
    expect(JSON.stringify(got)).toBe(JSON.stringify(want));
  }
  // And the exact bytes once generated values are masked (PHP's json_encode escaping, XML layout).
  expect(normaliseText(body, sim.url)).toBe(normaliseText(c.body, RECORDED_SITE));
}
