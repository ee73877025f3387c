/**
 * The Moodle simulator as `tilgang sim moodle`, `npm start` and the tests start it. Loaded by
 * path only when asked for; the target itself never imports it.
 */
import { randomBytes } from 'node:crypto';
import { readOrMakeSecret, type GlobalConfig, type Secret, type TargetSimulator } from '../../spi/index.js';
import { startMoodleSimulator } from './simulator/index.js';

/** Where the token lives when the configuration names none (the local stack's secrets directory). */
export const DEFAULT_TOKEN_FILE = '.tilgang/secrets/moodle-token';

/** The moodle block of the configuration tilgang runs with, if any. */
function configuredBlock(global: GlobalConfig | undefined): { token: Secret; profileField: string | null } {
  const block = global?.targets.moodle as { token?: Secret; heldBy?: { studentIdField?: string | null } } | undefined;
  return { token: block?.token ?? { file: DEFAULT_TOKEN_FILE }, profileField: block?.heldBy?.studentIdField ?? null };
}

/** The token the simulator must accept: the one tilgang is configured with (32 hex digits, as Moodle makes them). */
export function simulatorToken(secret: Secret): string {
  return readOrMakeSecret(secret, 'targets.moodle.token', () => randomBytes(16).toString('hex'));
}

export const simulator: TargetSimulator = {
  async start({ port, stateFile, latency, token, global, faults }) {
    const block = configuredBlock(global);
    const sim = await startMoodleSimulator({
      port, stateFile, latency, faults, token: token ?? simulatorToken(block.token),
      // The site defines the profile field tilgang sends the student id in.
      profileFields: block.profileField ? [{ shortname: block.profileField, name: 'Student id', datatype: 'text', visible: true }] : [],
    });
    return { url: sim.url, close: () => sim.close(), creates: () => sim.creates(), faults: sim.faults };
  },
};
