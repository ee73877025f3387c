import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ensureBaseEntries, ensureSecrets } from './ldap.js';
import { adminAnswers, ensureDomain, sambaSecrets } from './samba.js';
import { waitFor } from './process.js';
import type { Service } from './service.js';

const repoRoot = join(import.meta.dirname, '..', '..');

/** True when a Docker engine answers (not merely a docker client on PATH). */
export function dockerEngineAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 5000 }, (err, out) => resolve(!err && out.trim().length > 0));
  });
}

/**
 * The stack from docker-compose.yml through testcontainers, for users with Docker. Health is
 * checked by the same protocol checks as the native stack, on the same ports.
 */
export async function upContainers(services: Service[]): Promise<void> {
  const { DockerComposeEnvironment } = await import('testcontainers');
  // The directory's passwords made here first, so the ldap container (which would make them itself) uses these.
  const secrets = await ensureSecrets();
  sambaSecrets(); // the samba service mounts the Administrator's password file
  await new DockerComposeEnvironment(repoRoot, 'docker-compose.yml').withBuild().up();
  for (const s of services.filter((x) => x.name !== 'ldap' && x.name !== 'samba')) await waitFor(s.name, () => s.healthy(), 180_000);
  await waitFor('ldap admin bind', async () => { await ensureBaseEntries(secrets); return true; }, 60_000);
  if (services.some((s) => s.name === 'samba')) {
    await waitFor('samba admin bind', adminAnswers, 180_000);
    await ensureDomain('containers');
  }
}

export async function downContainers(): Promise<void> {
  await new Promise<void>((resolve, reject) => execFile('docker', ['compose', '-f', join(repoRoot, 'docker-compose.yml'), 'down'], (e) => (e ? reject(e) : resolve())));
}
