/**
 * The OpenAccess simulator as `tilgang sim lenel`, `npm start` and the tests start it. Loaded by
 * path only when asked for; the target itself never imports it.
 */
import { readSecret, type GlobalConfig, type Secret, type TargetSimulator } from '../../spi/index.js';
import { startLenelSimulator } from './simulator/index.js';

interface Block {
  applicationId?: string;
  username?: string;
  password?: Secret;
  udfs?: Record<string, string>;
}

export const simulator: TargetSimulator = {
  async start({ port, stateFile, latency, token, global }) {
    // The simulator accepts the application id and operator tilgang is configured with.
    const block = (global?.targets.lenel ?? {}) as Block;
    const user = block.username ?? 'tilgang';
    let password = token ?? 'tilgang';
    if (!token && block.password) {
      try {
        password = readSecret(block.password, 'targets.lenel.password');
      } catch {
        // No secret yet: the default operator.
      }
    }
    const sim = await startLenelSimulator({
      port, stateFile, latency,
      applicationIds: [block.applicationId ?? 'TILGANG'],
      users: { [user]: password },
      udfs: Object.keys(block.udfs ?? { IDAUTO_ID: 'idautoID' }),
    });
    return { url: sim.apiUrl, close: () => sim.close() };
  },
};
