import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, createServer, type TLSSocket } from 'node:tls';
import type { Client, Entry } from 'ldapts';
import { and, eq, or } from '../../src/lib/ldap/filter.js';
import { loadConfig } from '../../src/config.js';
import { SAMBA_LDAPS_PORT, SAMBA_PEOPLE_OU, SAMBA_SERVICE_UPN, sambaClient, sambaDir, sambaSecrets } from '../../src/stack/samba.js';
import { target } from '../../src/targets/ad/index.js';
import { conformance, type PersonSpec } from '../support/conformance.js';

const USER = ['top', 'person', 'organizationalPerson', 'user'];
const one = (e: Entry, a: string): string | undefined => {
  const v = e[a];
  const x = Array.isArray(v) ? v[0] : v;
  return x === undefined ? undefined : String(x);
};

/** LDAP's AddRequest ([APPLICATION 8], constructed). */
const ADD_REQUEST = 0x68;

/**
 * A TLS man in the middle for the DC (with the DC's own certificate, which the target trusts): it
 * reads the LDAP messages the target sends and drops the connection, as a network fault would, at
 * an add whose bytes name a planted value.
 */
async function faultyLdaps(): Promise<{ url: string; failNextAdd(containing: string): void; close(): Promise<void> }> {
  const tls = join(sambaDir(), 'private', 'tls');
  const pending: Buffer[] = [];
  const sockets = new Set<TLSSocket>();
  const server = createServer({ key: readFileSync(join(tls, 'key.pem')), cert: readFileSync(join(tls, 'cert.pem')) }, (client) => {
    sockets.add(client);
    const upstream = tlsConnect({ host: '127.0.0.1', port: SAMBA_LDAPS_PORT, rejectUnauthorized: false });
    sockets.add(upstream);
    upstream.pipe(client);
    let buf = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      // One BER message at a time: SEQUENCE, its length (short or long form), messageID, then the operation's tag.
      while (buf.length >= 2) {
        const lenByte = buf[1]!;
        const lenBytes = lenByte & 0x80 ? lenByte & 0x7f : 0;
        if (buf.length < 2 + lenBytes) return;
        const len = lenBytes ? buf.subarray(2, 2 + lenBytes).reduce((n, b) => n * 256 + b, 0) : lenByte;
        const total = 2 + lenBytes + len;
        if (buf.length < total) return;
        const msg = buf.subarray(0, total);
        buf = buf.subarray(total);
        const idAt = 2 + lenBytes;
        const op = msg[idAt + 2 + msg[idAt + 1]!];
        const hit = op === ADD_REQUEST ? pending.findIndex((p) => msg.includes(p)) : -1;
        if (hit >= 0) {
          pending.splice(hit, 1);
          client.destroy();
          upstream.destroy();
          return;
        }
        upstream.write(msg);
      }
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => { upstream.destroy(); sockets.delete(client); });
    upstream.on('close', () => { client.destroy(); sockets.delete(upstream); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `ldaps://127.0.0.1:${(server.address() as AddressInfo).port}`,
    failNextAdd: (containing) => pending.push(Buffer.from(containing, 'utf8')),
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

/**
 * The AD target against the stack's real Samba AD domain controller, in an OU of the test's own,
 * through a TLS proxy that can drop a connection at a person's create. Writes are counted from the
 * domain's own change numbers (uSNChanged) of the entries in that OU.
 */
conformance({
  target,
  async start(env) {
    const proxy = await faultyLdaps();
    const ad: Client = sambaClient();
    const password = sambaSecrets().tilgang;
    await ad.bind(SAMBA_SERVICE_UPN, password);
    const testOu = `OU=test-${env.id},${SAMBA_PEOPLE_OU}`;
    const students = `OU=Students,${testOu}`;
    await ad.add(testOu, { objectClass: ['top', 'organizationalUnit'], ou: `test-${env.id}` });
    const example = loadConfig('tilgang.example.yaml').targets.ad as Record<string, unknown>;
    const anchor = 'employeeNumber';
    const find = async (filter: ReturnType<typeof eq>) =>
      (await ad.search(testOu, { scope: 'sub', filter: and(eq('objectClass', 'user'), filter), attributes: ['*'] })).searchEntries;

    // The change number of every entry in the test's OU as last seen: a new one, or a new number, is a write.
    const seen = new Map<string, string>();
    let writes = 0;
    return {
      config: {
        ...example,
        url: proxy.url,
        anchor,
        // The kit changes one name at a time and expects an update alone: the cn (and so no rename) from the username.
        attributes: { fullName: 'idautoPersonUserNameMV' },
        ous: { employee: `OU=Employees,${testOu}`, student: students, disabled: null },
      },
      async account(p) {
        const [e] = await find(eq(anchor, p.id));
        if (!e) return null;
        return {
          enabled: (Number(one(e, 'userAccountControl')) & 2) === 0,
          attributes: { givenName: one(e, 'givenName'), sn: one(e, 'sn'), mail: one(e, 'mail'), idautoPersonJobTitle: one(e, 'title'), employeeType: one(e, 'employeeType') },
        };
      },
      count: async (p: PersonSpec) => (await find(or(eq(anchor, p.id), ...(p.username ? [eq('sAMAccountName', p.username)] : [])))).length,
      async writes() {
        const { searchEntries } = await ad.search(testOu, { scope: 'sub', attributes: ['objectGUID', 'uSNChanged'], explicitBufferAttributes: ['objectGUID'] });
        for (const e of searchEntries) {
          const id = (e.objectGUID as Buffer).toString('hex');
          const usn = one(e, 'uSNChanged')!;
          if (seen.get(id) !== usn) writes++;
          seen.set(id, usn);
        }
        return writes;
      },
      async plantDuplicate(p) {
        // Made by hand: one under the person's username, one carrying the person's id under another.
        await ad.add(`CN=Hand Made A ${p.username},${testOu}`, { objectClass: USER, sAMAccountName: p.username });
        await ad.add(`CN=Hand Made B ${p.username},${testOu}`, { objectClass: USER, sAMAccountName: `${p.username}b`, [anchor]: p.id });
        return [`Hand Made A ${p.username}`, `Hand Made B ${p.username}`];
      },
      async failTransiently(p, times) {
        // The connection drops while the person's add is on its way (the add carries the anchor).
        for (let i = 0; i < times; i++) proxy.failNextAdd(p.id);
      },
      mapped: [
        { attribute: 'givenName', value: (p) => `Ny ${p.id.slice(0, 4)}` },
        { attribute: 'sn', value: (p) => `Nyquist-${p.id.slice(0, 4)}` },
        { attribute: 'mail', value: (p) => `ny.${p.username}@uni.example.no` },
        { attribute: 'idautoPersonJobTitle', value: (p) => `Rådgiver ${p.id.slice(0, 4)}` },
        { attribute: 'employeeType', value: () => 'affiliate' },
      ],
      extra: () => ({ idautoPersonJobTitle: ['Student'], employeeType: ['student'] }),
      secrets: [password],
      async stop() {
        const { searchEntries } = await ad.search(testOu, { scope: 'sub', attributes: ['1.1'] }).catch(() => ({ searchEntries: [] as { dn: string }[] }));
        for (const e of searchEntries.sort((a, b) => b.dn.length - a.dn.length)) await ad.del(e.dn).catch(() => {});
        await ad.unbind().catch(() => {});
        await proxy.close();
      },
    };
  },
});
