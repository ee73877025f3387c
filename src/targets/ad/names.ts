/**
 * The names an account is known by (pure): its cn, unique within its OU, and its primary SMTP
 * address, unique across the domain. Both take the first free one of a list of candidates.
 */

/** Letters an address may not carry, spelled as Norwegian sites spell them in addresses. */
const SPELLED: Record<string, string> = { æ: 'ae', ø: 'o', å: 'a', ß: 'ss', þ: 'th', ð: 'd', ł: 'l', đ: 'd', œ: 'oe' };

/** A name part as an address part: lower-case ASCII letters and digits, words joined by `sep`. */
export function slug(s: string, sep: '.' | '-'): string {
  const words = s.toLowerCase()
    .replace(/[æøåßþðłđœ]/g, (c) => SPELLED[c] ?? c)
    .normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
    .split(/[\s.,_-]+/)
    .map((w) => w.replace(/[^a-z0-9]/g, ''))
    .filter(Boolean);
  return words.join(sep);
}

/**
 * Full-name address local parts, best first: `given.family`, then with a middle initial
 * (`given.m.family`) when the person has a second given name, then `given.family2`, `…3`, ….
 * Only the first given name is used, family names keep their hyphens.
 */
export function addressCandidates(givenName: string, sn: string, count = 20): string[] {
  const given = givenName.trim().split(/\s+/).filter(Boolean);
  const first = slug(given[0] ?? '', '-');
  const family = slug(sn, '-');
  const base = [first, family].filter(Boolean).join('.');
  if (!base) return [];
  const out = [base];
  const middle = given.slice(1).map((g) => slug(g, '-')[0]).filter((c): c is string => !!c);
  if (middle.length) out.push([first, middle[0], family].filter(Boolean).join('.'));
  for (let n = 2; out.length < count; n++) out.push(`${base}${n}`);
  return out;
}

/** cn candidates: the full name, then `Full Name 2`, `3`, …. */
export function cnCandidates(fullName: string, count = 50): string[] {
  const out = [fullName];
  for (let n = 2; out.length < count; n++) out.push(`${fullName} ${n}`);
  return out;
}

/** Whether `cn` is the full name or one of its numbered variants (so a kept cn is not a rename). */
export function isCnOf(cn: string, fullName: string): boolean {
  const a = cn.toLowerCase();
  const b = fullName.toLowerCase();
  return a === b || (a.startsWith(`${b} `) && /^\d+$/.test(a.slice(b.length + 1)));
}

/** The first candidate not taken (case-insensitive); undefined when all are. */
export function firstFree(candidates: readonly string[], taken: Iterable<string>): string | undefined {
  const t = new Set([...taken].map((x) => x.toLowerCase()));
  return candidates.find((c) => !t.has(c.toLowerCase()));
}

/** The address of a proxyAddresses value (`SMTP:a@b` → `a@b`), lower-cased; undefined for other types (X500:…). */
export function smtpAddress(proxy: string): string | undefined {
  return /^smtp:/i.test(proxy) ? proxy.slice(5).toLowerCase() : undefined;
}

/** The primary SMTP address (upper-case `SMTP:`) among proxyAddresses. */
export function primarySmtp(proxies: readonly string[]): string | undefined {
  const p = proxies.find((v) => v.startsWith('SMTP:'));
  return p?.slice(5);
}

/**
 * proxyAddresses as they should be: the primary first, the secondary next, every other value kept
 * (an address someone added by hand, X500 addresses) with any other primary demoted to secondary.
 */
export function proxyAddresses(primary: string, secondary: string, existing: readonly string[]): string[] {
  const managed = new Set([primary.toLowerCase(), secondary.toLowerCase()]);
  const rest = existing
    .filter((v) => !managed.has(smtpAddress(v) ?? ''))
    .map((v) => (v.startsWith('SMTP:') ? `smtp:${v.slice(5)}` : v));
  const out = [`SMTP:${primary}`];
  if (secondary.toLowerCase() !== primary.toLowerCase()) out.push(`smtp:${secondary}`);
  return [...out, ...rest];
}
