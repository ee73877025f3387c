/**
 * `npm run bench:ad`: a full reconciliation of N people (10,000 by default) into the stack's real
 * Samba AD domain controller, three ways in the same run, each into an OU of its own:
 *
 *   tilgang  the target's own functions as the consumer group drives them: a chunk of 500 people
 *            read and planned, then applied, `--concurrency` people at a time over the configured
 *            LDAPS connections;
 *   seed     the seed's way (PortalLdapToAD): one person at a time, one request per step — look
 *            the account up, then add it, set its password, enable it (or modify what changed);
 *   limit    a bare ldapts script: the same adds (password and enabled flag in the add) and the
 *            same modifies by known DN, over the same connections and in-flight count.
 *
 * Two passes: every account created, then every account's title changed (an update each). The
 * ways take turns chunk by chunk (500 people each), so each meets the domain at the same size.
 * People are built in memory and handed to the functions directly: no Kafka, directory or MV round trips
 * (bench:runtime measures those). Everything made is deleted at the end (BENCH_KEEP=1 keeps it).
 *
 *   npx tsx bench/ad.ts [--persons 10000] [--concurrency 16] [--connections 4] [--seed-sample N]
 */
import { randomUUID } from 'node:crypto';
import { AlreadyExistsError, Attribute, Change, Client } from 'ldapts';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { mapLimit } from '../src/lib/concurrency.js';
import type { MvPerson, OrgUnit } from '../src/mv/person.js';
import { TransientError, type PersonContext } from '../src/spi/index.js';
import { up } from '../src/stack/index.js';
import { SAMBA_PEOPLE_OU, SAMBA_SERVICE_UPN, sambaClient, sambaSecrets } from '../src/stack/samba.js';
import { AdConfig, target } from '../src/targets/ad/index.js';
import { generatePassword, unicodePwd } from '../src/targets/ad/password.js';
import { escapeDnValue } from '../src/lib/ldap/dn.js';
import { figure } from './support.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('persons', 10_000);
const CONCURRENCY = arg('concurrency', 16);
const CONNECTIONS = arg('connections', 4);
const SEED_SAMPLE = Math.min(N, arg('seed-sample', N));
/** The runtime's chunk of a partition's events. */
const CHUNK = 500;

const UNITS: OrgUnit[][] = [
  ['121000', 'Institutt for informatikk', 'Informatikk'], ['122000', 'Matematisk institutt', 'Matematikk'], ['123000', 'Fysisk institutt', 'Fysikk'],
  ['131000', 'Institutt for lingvistikk', 'Lingvistikk'], ['132000', 'Historisk institutt', 'Historie'], ['141000', 'Psykologisk institutt', 'Psykologi'],
].map(([code, nb, ou]) => {
  const fac = code!.slice(0, 2);
  return [
    { stedkode: code!, parentStedkode: `${fac}0000`, level: 'department' as const, nameNb: nb!, nameEn: nb!, shortName: ou!, adOu: ou! },
    { stedkode: `${fac}0000`, parentStedkode: null, level: 'faculty' as const, nameNb: `Fakultet ${fac}`, nameEn: `Faculty ${fac}`, shortName: `F${fac}`, adOu: `F${fac}` },
  ];
});
const GIVEN = ['Ola', 'Kari', 'Per', 'Anne', 'Jon', 'Ingrid', 'Lars', 'Marit', 'Åse', 'Bjørn'];
const FAMILY = ['Hansen', 'Johansen', 'Olsen', 'Larsen', 'Andersen', 'Pedersen', 'Nilsen', 'Kristiansen', 'Ødegård', 'Berg'];

function people(way: string, n: number): PersonContext[] {
  const tag = randomUUID().slice(0, 4);
  return Array.from({ length: n }, (_, i) => {
    const id = randomUUID();
    const employee = i % 4 === 0;
    const given = GIVEN[i % GIVEN.length]!;
    const sn = `${FAMILY[Math.floor(i / GIVEN.length) % FAMILY.length]!}${Math.floor(i / 100)}`;
    const mv: MvPerson = {
      id, username: null, studentId: null, hrId: null, primaryAffiliation: employee ? 'employee' : 'student', affiliations: [], roles: [],
      orgUnits: UNITS[i % UNITS.length]!, enrolments: [],
    };
    return {
      id, event: { eventId: randomUUID(), personId: id, changeType: 'MODIFY', changeTime: Date.now() },
      record: {
        dn: `idautoID=${id},ou=Accounts,dc=meta`,
        attrs: {
          idautoID: [id], idautoPersonUserNameMV: [`${way[0]}${tag}${i}`], givenName: [given], sn: [sn], mail: [`${way[0]}${tag}${i}@uni.example.no`],
          employeeType: [employee ? 'staff' : 'student'], idautoPersonAffiliation: [employee ? 'employee' : 'student'], idautoPersonJobTitle: ['Rådgiver'],
        },
      },
      mv, entitled: true, provisioned: false,
    };
  });
}
const retitled = (p: PersonContext): PersonContext => ({ ...p, record: { ...p.record, attrs: { ...p.record.attrs, idautoPersonJobTitle: ['Seniorrådgiver'] } } });

let timedOut = 0;
/**
 * A request of the seed's way or the limit again after the DC did not answer it in time (a shared
 * DC can stall for longer than the timeout): the bench would otherwise stop there. Both requests
 * are safe to repeat: a replace, or an add that may have been made (it then exists). tilgang's
 * own retries are its own (a transient error, read and planned again).
 */
async function patiently(op: () => Promise<unknown>, add = false): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await op();
      return;
    } catch (e) {
      if (add && attempt > 1 && e instanceof AlreadyExistsError) return;
      if (attempt >= 3 || !/timed out/i.test((e as Error).message)) throw e;
      timedOut++;
    }
  }
}

async function main(): Promise<void> {
  await up(['samba']);
  const global = loadConfig('tilgang.example.yaml');
  const admin = sambaClient();
  await admin.bind(SAMBA_SERVICE_UPN, sambaSecrets().tilgang);
  const run = randomUUID().slice(0, 8);
  const base = `OU=bench-ad-${run},${SAMBA_PEOPLE_OU}`;
  await admin.add(base, { objectClass: ['top', 'organizationalUnit'], ou: `bench-ad-${run}` });
  for (const way of ['tilgang', 'seed', 'limit']) await admin.add(`OU=${way},${base}`, { objectClass: ['top', 'organizationalUnit'], ou: way });
  const cfgFor = (way: string) => {
    const root = `OU=${way},${base}`;
    return AdConfig.parse({ ...(global.targets.ad as object), connections: CONNECTIONS, ous: { employee: `OU=Employees,${root}`, student: `OU=Students,${root}`, disabled: null } });
  };
  const log = pino({ level: 'warn' });
  const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));
  const out: Record<string, { create: number; update: number; n: number }> = {};

  interface Way { name: string; n: number; create(chunk: number): Promise<void>; update(chunk: number): Promise<void>; close(): Promise<void> }
  const chunkCount = Math.ceil(N / CHUNK);
  /** The seed's sample, spread over the chunks as evenly as it goes. */
  const seedSlice = (list: PersonContext[], chunk: number) => list.slice(Math.floor((chunk * list.length) / chunkCount), Math.floor(((chunk + 1) * list.length) / chunkCount));

  // ---- tilgang --------------------------------------------------------------------------------
  const tilgangWay = async (): Promise<Way> => {
    const config = cfgFor('tilgang');
    const ctx = { config, global, log };
    const s = await target.connect(ctx);
    /**
     * As the runtime does: a chunk of a partition's events (500) at a time, first every person's read
     * and plan (`--concurrency` at once, so their account lookups meet in a few searches), then every
     * apply; a transient failure (an OU made meanwhile by another person) is read and planned again.
     */
    const reconcile = async (chunk: PersonContext[]) => {
      let failed = 0;
      let pending = chunk;
      for (let attempt = 1; pending.length; attempt++) {
        const again: PersonContext[] = [];
        const transient = (p: PersonContext, e: unknown) => {
          if (!(e instanceof TransientError) || attempt >= 5) throw e;
          retries++;
          again.push(p);
        };
        const planned = await mapLimit(pending, CONCURRENCY, async (p) => {
          try {
            const d = target.desired(p, ctx);
            const a = await target.actual(p, d, s, ctx);
            return { p, plan: target.plan(d, a, p, ctx) };
          } catch (e) {
            transient(p, e);
            return undefined;
          }
        });
        await mapLimit(planned.filter((x) => x !== undefined), CONCURRENCY, async ({ p, plan }) => {
          try {
            const r = await target.apply(plan, s, ctx, p);
            failed += r.filter((x) => x.outcome === 'FAILED').length;
          } catch (e) {
            transient(p, e);
          }
        });
        pending = again;
      }
      if (failed) throw new Error(`tilgang: ${failed} operations failed`);
    };
    const ps = people('tilgang', N);
    return {
      name: 'tilgang', n: N,
      create: (i) => reconcile(ps.slice(i * CHUNK, (i + 1) * CHUNK)),
      update: (i) => reconcile(ps.slice(i * CHUNK, (i + 1) * CHUNK).map(retitled)),
      close: () => target.close!(s),
    };
  };
  let retries = 0;

  // ---- the seed's way: one person at a time, one request per step -----------------------------
  const seedWay = async (): Promise<Way> => {
    const config = cfgFor('seed');
    const c = sambaClient(config.url, config.timeoutMs);
    await c.bind(SAMBA_SERVICE_UPN, sambaSecrets().tilgang);
    const ps = people('seed', SEED_SAMPLE);
    const made = new Set<string>();
    const ensureOu = async (dn: string, name: string) => {
      if (made.has(dn)) return;
      await c.add(dn, { objectClass: ['top', 'organizationalUnit'], ou: name }).catch(() => {});
      made.add(dn);
    };
    const placement = (p: PersonContext) => {
      const root = p.mv!.primaryAffiliation === 'employee' ? config.ous.employee : config.ous.student;
      const [dept, fac] = p.mv!.orgUnits!;
      return { root, fac: `OU=${fac!.adOu},${root}`, dept: `OU=${dept!.adOu},OU=${fac!.adOu},${root}`, names: [fac!.adOu, dept!.adOu] };
    };
    return {
      name: 'seed', n: SEED_SAMPLE,
      async create(i) {
        for (const p of seedSlice(ps, i)) {
          const a = p.record.attrs;
          const user = a.idautoPersonUserNameMV![0]!;
          await c.search(config.baseDn, { scope: 'sub', filter: `(|(${config.anchor}=${p.id})(sAMAccountName=${user}))`, attributes: ['cn'] });
          const pl = placement(p);
          await ensureOu(pl.root, pl.root.slice(3, pl.root.indexOf(',')));
          await ensureOu(pl.fac, pl.names[0]!);
          await ensureOu(pl.dept, pl.names[1]!);
          const cn = `${a.givenName![0]} ${a.sn![0]} ${user}`;
          const dn = `CN=${escapeDnValue(cn)},${pl.dept}`;
          await patiently(() => c.add(dn, {
            objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: user, userPrincipalName: `${user}@${config.upnSuffix}`,
            givenName: a.givenName!, sn: a.sn!, displayName: cn, mail: a.mail!, employeeType: a.employeeType!, title: a.idautoPersonJobTitle!,
            [config.anchor]: p.id, department: p.mv!.orgUnits![0]!.nameNb, departmentNumber: p.mv!.orgUnits![0]!.stedkode, extensionAttribute1: a.idautoPersonAffiliation!,
            proxyAddresses: [`SMTP:${user}.full@${config.mailDomain}`, `smtp:${user}@${config.mailDomain}`],
          }), true);
          await patiently(() => c.modify(dn, new Change({ operation: 'replace', modification: new Attribute({ type: 'unicodePwd', values: [unicodePwd(generatePassword(config.passwordPolicy))] as unknown as string[] }) })));
          await patiently(() => c.modify(dn, new Change({ operation: 'replace', modification: new Attribute({ type: 'userAccountControl', values: ['512'] }) })));
        }
      },
      async update(i) {
        for (const p of seedSlice(ps, i)) {
          const { searchEntries: [e] } = await c.search(config.baseDn, { scope: 'sub', filter: `(${config.anchor}=${p.id})`, attributes: ['title'] });
          await patiently(() => c.modify(e!.dn, new Change({ operation: 'replace', modification: new Attribute({ type: 'title', values: ['Seniorrådgiver'] }) })));
        }
      },
      close: () => c.unbind(),
    };
  };

  // ---- the limit: a bare ldapts script --------------------------------------------------------
  const limitWay = async (): Promise<Way> => {
    const config = cfgFor('limit');
    const clients = await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      const c = sambaClient(config.url, config.timeoutMs);
      await c.bind(SAMBA_SERVICE_UPN, sambaSecrets().tilgang);
      return c;
    }));
    const ps = people('limit', N);
    const ous: string[] = [];
    for (const p of ps) {
      const root = p.mv!.primaryAffiliation === 'employee' ? config.ous.employee : config.ous.student;
      const fac = `OU=${p.mv!.orgUnits![1]!.adOu},${root}`;
      for (const ou of [root, fac, `OU=${p.mv!.orgUnits![0]!.adOu},${fac}`]) if (!ous.includes(ou)) ous.push(ou);
    }
    for (const ou of ous) await clients[0]!.add(ou, { objectClass: ['top', 'organizationalUnit'], ou: ou.slice(3, ou.indexOf(',')) }).catch(() => {});
    const dnOf = (p: PersonContext, i: number) => {
      const root = p.mv!.primaryAffiliation === 'employee' ? config.ous.employee : config.ous.student;
      return `CN=limit ${i},OU=${p.mv!.orgUnits![0]!.adOu},OU=${p.mv!.orgUnits![1]!.adOu},${root}`;
    };
    const slice = (i: number) => ps.map((p, k) => ({ p, k })).slice(i * CHUNK, (i + 1) * CHUNK);
    return {
      name: 'limit', n: N,
      create: (i) => mapLimit(slice(i), CONCURRENCY, async ({ p, k }) => {
        const a = p.record.attrs;
        const user = a.idautoPersonUserNameMV![0]!;
        await patiently(() => clients[k % CONNECTIONS]!.add(dnOf(p, k), {
          objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: user, userPrincipalName: `${user}@${config.upnSuffix}`,
          givenName: a.givenName!, sn: a.sn!, displayName: `${a.givenName![0]} ${a.sn![0]}`, mail: a.mail!, employeeType: a.employeeType!, title: a.idautoPersonJobTitle!,
          [config.anchor]: p.id, department: p.mv!.orgUnits![0]!.nameNb, departmentNumber: p.mv!.orgUnits![0]!.stedkode, extensionAttribute1: a.idautoPersonAffiliation!,
          proxyAddresses: [`SMTP:${user}.full@${config.mailDomain}`, `smtp:${user}@${config.mailDomain}`],
          unicodePwd: [unicodePwd(generatePassword(config.passwordPolicy))] as unknown as string[], userAccountControl: '512',
        }), true);
      }).then(() => undefined),
      update: (i) => mapLimit(slice(i), CONCURRENCY, async ({ p, k }) => {
        await patiently(() => clients[k % CONNECTIONS]!.modify(dnOf(p, k), new Change({ operation: 'replace', modification: new Attribute({ type: 'title', values: ['Seniorrådgiver'] }) })));
      }).then(() => undefined),
      close: () => Promise.all(clients.map((c) => c.unbind())).then(() => undefined),
    };
  };

  // ---- the three ways, chunk by chunk in turn: each meets the domain at the same size ---------
  const ways = [await limitWay(), await tilgangWay(), ...(SEED_SAMPLE > 0 ? [await seedWay()] : [])];
  for (const w of ways) out[w.name] = { create: 0, update: 0, n: w.n };
  const timed = async (way: Way, phase: 'create' | 'update', chunk: number) => {
    const t0 = Date.now();
    await way[phase](chunk);
    out[way.name]![phase] += Date.now() - t0;
  };
  for (const phase of ['create', 'update'] as const) {
    for (let i = 0; i < chunkCount; i++) {
      for (const w of ways) await timed(w, phase, i);
      if ((i + 1) % 4 === 0 || i === chunkCount - 1) {
        console.log(`${phase}s: ${Math.min(N, (i + 1) * CHUNK)} of ${N} — ${ways.map((w) => `${w.name} ${(out[w.name]![phase] / 1000).toFixed(1)} s`).join(', ')}`);
      }
    }
  }
  if (retries) console.log(`tilgang: ${retries} transient failures read and planned again`);
  if (timedOut) console.log(`the seed's way and the limit: ${timedOut} requests the DC did not answer within ${cfgFor('limit').timeoutMs / 1000} s, sent again (their wait is in the times)`);
  for (const w of ways) await w.close();

  // ---- report ---------------------------------------------------------------------------------
  const scaled = (w: { create: number; update: number; n: number }) => ({ create: (w.create * N) / w.n, update: (w.update * N) / w.n });
  console.log(`AD reconciliation of ${N} people into Samba ${'(real DC over LDAPS)'}, ${CONNECTIONS} connections, ${CONCURRENCY} in flight`);
  console.log(`way       creates       creates/s   updates       updates/s   total`);
  for (const way of ['tilgang', 'seed', 'limit'] as const) {
    const w = out[way];
    if (!w) continue;
    const s = scaled(w);
    const note = w.n === N ? '' : ` (sample of ${w.n}, scaled)`;
    console.log(`${way.padEnd(9)} ${(s.create / 1000).toFixed(1).padStart(8)} s  ${String(rate(w.n, w.create)).padStart(9)}   ${(s.update / 1000).toFixed(1).padStart(8)} s  ${String(rate(w.n, w.update)).padStart(9)}   ${((s.create + s.update) / 1000).toFixed(1).padStart(6)} s${note}`);
  }
  const t = scaled(out.tilgang!);
  const l = scaled(out.limit!);
  const sd = out.seed ? scaled(out.seed) : undefined;
  console.log(`tilgang's share of the limit: ${Math.round((100 * (l.create + l.update)) / (t.create + t.update))} % (creates ${Math.round((100 * l.create) / t.create)} %, updates ${Math.round((100 * l.update) / t.update)} %); ` +
    (sd ? `${((sd.create + sd.update) / (t.create + t.update)).toFixed(1)}x faster than the seed's way` : 'the seed\'s way not run'));
  const note = `${N.toLocaleString('en')} people created then updated in Samba AD over LDAPS, ${CONNECTIONS} connections, ${CONCURRENCY} in flight${sd ? `; the seed's way on ${out.seed!.n}, scaled` : ''}`;
  figure({ part: 'ad', name: 'full reconciliation, tilgang (creates + updates)', value: (t.create + t.update) / 1000, unit: 's', note });
  if (sd) figure({ part: 'ad', name: "full reconciliation: ratio to the seed's one-at-a-time way", value: (sd.create + sd.update) / (t.create + t.update), unit: '×', note });
  figure({ part: 'ad', name: 'full reconciliation: share of the limit (bare ldapts, the same adds and modifies)', value: (100 * (l.create + l.update)) / (t.create + t.update), unit: '%', note });

  if (!process.env.BENCH_KEEP) {
    // The DC drops a connection idle for the length of a run; ldapts reconnects it unbound.
    await admin.bind(SAMBA_SERVICE_UPN, sambaSecrets().tilgang);
    const { searchEntries } = await admin.search(base, { scope: 'sub', attributes: ['1.1'], paged: { pageSize: 1000 } });
    const dns = searchEntries.map((e) => e.dn).sort((a, b) => b.split(',').length - a.split(',').length);
    const leaves = dns.filter((d) => d.startsWith('CN='));
    const cleaners = await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      const c = sambaClient();
      await c.bind(SAMBA_SERVICE_UPN, sambaSecrets().tilgang);
      return c;
    }));
    await mapLimit(leaves, CONCURRENCY, async (dn, i) => cleaners[i % CONNECTIONS]!.del(dn).catch(() => {}));
    for (const dn of dns.filter((d) => !d.startsWith('CN='))) await admin.del(dn).catch(() => {});
    await Promise.all(cleaners.map((c) => c.unbind()));
  }
  await admin.unbind();
}

await main();
