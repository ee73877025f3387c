/**
 * The WISEflow simulator as `tilgang sim wiseflow`, `npm start` and the tests start it. Loaded by
 * path only when asked for; the target itself never imports it.
 */
import { readSecret, type GlobalConfig, type Secret, type TargetSimulator } from '../../spi/index.js';
import { startWiseflowSimulator } from './simulator/index.js';

/** The credentials tilgang is configured with, so tilgang and the simulator agree. */
function configuredCredentials(global: GlobalConfig | undefined): { clients: { id: string; secret: string }[]; apiKeys: string[] } {
  const auth = (global?.targets.wiseflow as { auth?: { clientId?: string; clientSecret?: Secret; apiKey?: Secret } } | undefined)?.auth;
  if (auth?.apiKey) return { clients: [], apiKeys: [readSecret(auth.apiKey, 'targets.wiseflow.auth.apiKey')] };
  if (auth?.clientId && auth.clientSecret) return { clients: [{ id: auth.clientId, secret: readSecret(auth.clientSecret, 'targets.wiseflow.auth.clientSecret') }], apiKeys: [] };
  return { clients: [], apiKeys: [] };
}

export const simulator: TargetSimulator = {
  async start({ port, stateFile, latency, token, global }) {
    const creds = configuredCredentials(global);
    if (token) creds.apiKeys.push(token);
    const sim = await startWiseflowSimulator({ port, ...(stateFile ? { stateFile } : {}), latency, ...creds });
    return { url: sim.url, close: () => sim.close() };
  },
};
