/**
 * The OpenAccess simulator as `tilgang sim lenel`, `npm start` and the tests start it. Loaded by
 * path only when asked for; the target itself never imports it.
 */
import { randomBytes } from 'node:crypto';
import { readOrMakeSecret, type Secret, type TargetSimulator } from '../../spi/index.js';
import { startLenelSimulator } from './simulator/index.js';

interface Block {
  applicationId?: string;
  username?: string;
  password?: Secret;
  udfs?: Record<string, string>;
}

/** Where the operator's password lives when the configuration names none (the local stack's secrets). */
export const DEFAULT_PASSWORD_FILE = '.tilgang/secrets/lenel-password';

/** The password the simulator's operator has: the one tilgang is configured with. */
export function simulatorPassword(secret: Secret): string {
  return readOrMakeSecret(secret, 'targets.lenel.password', () => randomBytes(18).toString('base64url'));
}

export const simulator: TargetSimulator = {
  async start({ port, stateFile, latency, token, global, faults }) {
    // The simulator accepts the application id and operator tilgang is configured with.
    const block = (global?.targets.lenel ?? {}) as Block;
    const user = block.username ?? 'tilgang';
    const password = token ?? simulatorPassword(block.password ?? { file: DEFAULT_PASSWORD_FILE });
    const sim = await startLenelSimulator({
      port, stateFile, latency, faults,
      applicationIds: [block.applicationId ?? 'TILGANG'],
      users: { [user]: password },
      udfs: Object.keys(block.udfs ?? { IDAUTO_ID: 'idautoID' }),
    });
    return { url: sim.apiUrl, close: () => sim.close(), creates: () => sim.creates(), faults: sim.injector };
  },
};
