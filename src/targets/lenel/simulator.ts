/**
 * The OpenAccess simulator as `tilgang sim lenel`, `npm start` and the tests start it. Loaded by
 * path only when asked for; the target itself never imports it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { readSecret, type Secret, type TargetSimulator } from '../../spi/index.js';
import { startLenelSimulator } from './simulator/index.js';

interface Block {
  applicationId?: string;
  username?: string;
  password?: Secret;
  udfs?: Record<string, string>;
}

/** Where the operator's password lives when the configuration names none (the local stack's secrets). */
export const DEFAULT_PASSWORD_FILE = '.tilgang/secrets/lenel-password';

/**
 * The password the simulator's operator has: the one tilgang is configured with. A password file
 * that does not exist yet is created with a random password, so `npm start` works on a fresh
 * checkout and tilgang and the simulator agree.
 */
export function simulatorPassword(secret: Secret): string {
  if ('env' in secret) return readSecret(secret, 'targets.lenel.password');
  const p = resolve(secret.file);
  if (!existsSync(p)) {
    mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(p, randomBytes(18).toString('base64url'), { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  return readFileSync(p, 'utf8').trim();
}

export const simulator: TargetSimulator = {
  async start({ port, stateFile, latency, token, global }) {
    // The simulator accepts the application id and operator tilgang is configured with.
    const block = (global?.targets.lenel ?? {}) as Block;
    const user = block.username ?? 'tilgang';
    const password = token ?? simulatorPassword(block.password ?? { file: DEFAULT_PASSWORD_FILE });
    const sim = await startLenelSimulator({
      port, stateFile, latency,
      applicationIds: [block.applicationId ?? 'TILGANG'],
      users: { [user]: password },
      udfs: Object.keys(block.udfs ?? { IDAUTO_ID: 'idautoID' }),
    });
    return { url: sim.apiUrl, close: () => sim.close() };
  },
};
