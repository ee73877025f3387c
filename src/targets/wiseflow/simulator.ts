/**
 * The WISEflow simulator as `tilgang sim wiseflow`, `npm start` and the tests start it. Loaded by
 * path only when asked for; the target itself never imports it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { readSecret, type GlobalConfig, type Secret, type TargetSimulator } from '../../spi/index.js';
import { startWiseflowSimulator } from './simulator/index.js';

/** A secret file that does not exist yet is made with a random value, so `npm start` works on a fresh checkout. */
function secretValue(s: Secret, what: string): string {
  if ('file' in s && !existsSync(resolve(s.file))) {
    mkdirSync(dirname(resolve(s.file)), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(resolve(s.file), randomBytes(24).toString('base64url'), { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  return readSecret(s, what);
}

/** The credentials tilgang is configured with, so tilgang and the simulator agree. */
function configuredCredentials(global: GlobalConfig | undefined): { clients: { id: string; secret: string }[]; apiKeys: string[] } {
  const auth = (global?.targets.wiseflow as { auth?: { clientId?: string; clientSecret?: Secret; apiKey?: Secret } } | undefined)?.auth;
  if (auth?.apiKey) return { clients: [], apiKeys: [secretValue(auth.apiKey, 'targets.wiseflow.auth.apiKey')] };
  if (auth?.clientId && auth.clientSecret) return { clients: [{ id: auth.clientId, secret: secretValue(auth.clientSecret, 'targets.wiseflow.auth.clientSecret') }], apiKeys: [] };
  return { clients: [], apiKeys: [] };
}

export const simulator: TargetSimulator = {
  async start({ port, stateFile, latency, token, global, faults }) {
    const creds = configuredCredentials(global);
    if (token) creds.apiKeys.push(token);
    const sim = await startWiseflowSimulator({ port, ...(stateFile ? { stateFile } : {}), latency, faults, ...creds });
    return { url: sim.url, close: () => sim.close(), creates: () => sim.creates(), faults: sim.injector };
  },
};
