import type { Service } from './service.js';
import { postgresService } from './postgres.js';
import { kafkaService } from './kafka.js';
import { registryService } from './registry.js';
import { ldapService } from './ldap.js';
import { sambaService } from './samba.js';
import { portOpen } from './process.js';
import { dockerEngineAnswers, upContainers } from './containers.js';
import { log } from '../lib/log.js';

/**
 * The local stack in start order: the registry stores its schemas in PostgreSQL; the rest are
 * independent (samba is the Active Directory domain controller targets write to). Every server is a real one, started as a local process (no Docker engine needed).
 */
export const services: Service[] = [postgresService, kafkaService, registryService, ldapService, sambaService];

export class StackError extends Error {
  override name = 'StackError';
}

function pick(names?: string[]): Service[] {
  if (!names?.length) return services;
  const unknown = names.filter((n) => !services.some((s) => s.name === n));
  if (unknown.length) throw new StackError(`unknown service ${unknown.join(', ')} (known: ${services.map((s) => s.name).join(', ')})`);
  return services.filter((s) => names.includes(s.name));
}

/**
 * native: local processes (no Docker needed; what these machines use). containers: the same
 * servers from docker-compose.yml through testcontainers, chosen when a Docker engine answers.
 */
export async function provider(): Promise<'native' | 'containers'> {
  const want = process.env.TILGANG_STACK ?? 'auto';
  if (want === 'native' || want === 'containers') return want;
  if (want !== 'auto') throw new StackError(`TILGANG_STACK must be native, containers or auto, not ${want}`);
  return (await dockerEngineAnswers()) ? 'containers' : 'native';
}

/** Installs what is missing and starts what is not running; on failure stops what this call started. */
export async function up(names?: string[]): Promise<void> {
  const all = pick(names);
  if ((await Promise.all(all.map((s) => s.healthy()))).every(Boolean)) return;
  if ((await provider()) === 'containers') return upContainers(all);
  return upNative(names);
}

async function upNative(names?: string[]): Promise<void> {
  const startedHere: Service[] = [];
  try {
    for (const s of pick(names)) {
      if (await s.healthy()) continue;
      for (const port of s.ports) {
        if (await portOpen(port)) {
          const ours = s.pid();
          if (!ours) throw new StackError(`${s.name}: port ${port} is already taken by another program; free it or change the port`);
        }
      }
      const t0 = Date.now();
      log.info({ service: s.name }, 'installing');
      await s.install();
      log.info({ service: s.name }, 'starting');
      startedHere.push(s);
      await s.start();
      log.info({ service: s.name, ms: Date.now() - t0 }, 'ready');
    }
  } catch (e) {
    for (const s of startedHere.reverse()) await s.stop().catch(() => {});
    throw e;
  }
}

export async function down(names?: string[]): Promise<void> {
  for (const s of [...pick(names)].reverse()) await s.stop();
}

export async function reset(names?: string[]): Promise<void> {
  for (const s of [...pick(names)].reverse()) await s.reset();
}

export interface ServiceStatus { name: string; ports: number[]; pid?: number; healthy: boolean }

export async function status(names?: string[]): Promise<ServiceStatus[]> {
  return Promise.all(pick(names).map(async (s) => ({ name: s.name, ports: s.ports, pid: s.pid(), healthy: await s.healthy() })));
}
