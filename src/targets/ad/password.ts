import { randomInt } from 'node:crypto';

/** The initial password's policy: its length and the character classes it must contain. */
export interface PasswordPolicy {
  length: number;
  lower: boolean;
  upper: boolean;
  digits: boolean;
  symbols: boolean;
}

// Look-alikes (l 1 I O 0) left out: an initial password is read off a letter or a screen.
const CLASSES = {
  lower: 'abcdefghijkmnopqrstuvwxyz',
  upper: 'ABCDEFGHJKLMNPQRSTUVWXYZ',
  digits: '23456789',
  symbols: '!#%+-.:=?@_',
} as const;

/**
 * A password from the OS's CSPRNG with at least one character of every class the policy asks for,
 * in random positions. It exists only in apply: it is never planned, logged or published.
 */
export function generatePassword(p: PasswordPolicy): string {
  const classes = (Object.keys(CLASSES) as (keyof typeof CLASSES)[]).filter((k) => p[k]).map((k) => CLASSES[k]);
  if (!classes.length) throw new Error('the password policy allows no characters');
  if (p.length < classes.length) throw new Error(`a password of ${p.length} characters cannot hold ${classes.length} classes`);
  const all = classes.join('');
  const chars = classes.map((c) => c[randomInt(c.length)]!);
  while (chars.length < p.length) chars.push(all[randomInt(all.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

/** unicodePwd's value: the password in double quotes, UTF-16LE (AD's rule, over an encrypted connection only). */
export function unicodePwd(password: string): Buffer {
  return Buffer.from(`"${password}"`, 'utf16le');
}
