import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import pg from 'pg';
import type { Service } from './service.js';
import { waitFor } from './process.js';

const PORT = 5432;
const ADMIN_URL = `postgres://postgres@127.0.0.1:${PORT}/postgres`;

async function answers(): Promise<boolean> {
  const c = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

/**
 * PostgreSQL is usually a server the machine already runs (a university has one). We do not own
 * its process: start it through Debian's cluster tools only when it is installed but stopped.
 */
export const postgresService: Service = {
  name: 'postgresql',
  ports: [PORT],
  async install() {
    if (await answers()) return;
    if (!existsSync('/usr/bin/pg_ctlcluster') && !existsSync('/usr/bin/psql')) {
      execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql'], { stdio: 'inherit' });
    }
  },
  async start() {
    if (await answers()) return;
    if (existsSync('/etc/postgresql')) {
      for (const version of readdirSync('/etc/postgresql')) {
        execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], { stdio: 'ignore' });
      }
    }
    await waitFor(`PostgreSQL on 127.0.0.1:${PORT}`, answers, 30_000);
  },
  healthy: answers,
  async stop() { /* not ours to stop */ },
  async reset() { /* databases are reset by the services and migrations that own them */ },
  pid() {
    try {
      const out = execFileSync('sh', ['-c', `ps -C postgres -o pid=,args= | awk '/-D/ {print $1; exit}'`]).toString().trim();
      return out ? Number(out) : undefined;
    } catch { return undefined; }
  },
};
