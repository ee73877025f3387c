/**
 * The Moodle simulator as `tilgang sim moodle`, `npm start` and the tests start it. Loaded by
 * path only when asked for; the target itself never imports it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { readSecret, type GlobalConfig, type Secret, type TargetSimulator } from '../../spi/index.js';
import { startMoodleSimulator } from './simulator/index.js';

/** Where the token lives when the configuration names none (the local stack's secrets directory). */
export const DEFAULT_TOKEN_FILE = '.tilgang/secrets/moodle-token';

/** The moodle block of the configuration tilgang runs with, if any. */
function configuredBlock(global: GlobalConfig | undefined): { token: Secret; profileField: string | null } {
  const block = global?.targets.moodle as { token?: Secret; heldBy?: { studentIdField?: string | null } } | undefined;
  return { token: block?.token ?? { file: DEFAULT_TOKEN_FILE }, profileField: block?.heldBy?.studentIdField ?? null };
}

/**
 * The token the simulator must accept: the one tilgang is configured with. A token file that does
 * not exist yet is created with a random token (32 hex digits, as Moodle makes them), so
 * `npm start` works on a fresh checkout and tilgang and the simulator agree.
 */
export function simulatorToken(secret: Secret): string {
  if ('env' in secret) return readSecret(secret, 'targets.moodle.token');
  const p = resolve(secret.file);
  if (!existsSync(p)) {
    mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
    try {
      // 'wx': if tilgang or another simulator wrote it first, keep theirs.
      writeFileSync(p, randomBytes(16).toString('hex'), { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  return readFileSync(p, 'utf8').trim();
}

export const simulator: TargetSimulator = {
  async start({ port, stateFile, latency, token, global }) {
    const block = configuredBlock(global);
    const sim = await startMoodleSimulator({
      port, stateFile, latency, token: token ?? simulatorToken(block.token),
      // The site defines the profile field tilgang sends the student id in.
      profileFields: block.profileField ? [{ shortname: block.profileField, name: 'Student id', datatype: 'text', visible: true }] : [],
    });
    return { url: sim.url, close: () => sim.close() };
  },
};
