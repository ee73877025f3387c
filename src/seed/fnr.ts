/**
 * Synthetic Norwegian national identity numbers (fødselsnummer, "fnr").
 *
 * Layout DDMMYY III KK: birth date, individual number (its last digit even for women, odd for men;
 * its range tells the century), and two mod-11 check digits. Synthetic numbers follow the convention
 * of Skatteetaten's synthetic test population: the month plus 80 (81–92). No real person has such a
 * number, so sample data can never name anyone.
 */
import type { Rng } from './prng.js';

const W1 = [3, 7, 6, 1, 8, 9, 4, 5, 2];
const W2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

/** The mod-11 check digit over `digits` with `weights`, or undefined when the number is not allowed (remainder 1). */
function checkDigit(digits: number[], weights: number[]): number | undefined {
  const sum = weights.reduce((s, w, i) => s + w * digits[i]!, 0);
  const k = 11 - (sum % 11);
  if (k === 11) return 0;
  if (k === 10) return undefined;
  return k;
}

/** True when both check digits are right (for any fnr, synthetic or not). */
export function fnrChecksumValid(fnr: string): boolean {
  if (!/^\d{11}$/.test(fnr)) return false;
  const d = [...fnr].map(Number);
  return checkDigit(d.slice(0, 9), W1) === d[9] && checkDigit(d.slice(0, 10), W2) === d[10];
}

/** True for a synthetic number (month 81–92) with valid check digits. */
export function isSyntheticFnr(fnr: string): boolean {
  if (!fnrChecksumValid(fnr)) return false;
  const month = Number(fnr.slice(2, 4));
  return month >= 81 && month <= 92;
}

/** Individual-number range for a birth year, per the population register's century rules. */
function individualRange(year: number): [number, number] {
  if (year >= 1900 && year <= 1999) return [0, 499];
  if (year >= 2000 && year <= 2039) return [500, 999];
  throw new RangeError(`no fnr individual-number range for birth year ${year}`);
}

/** A synthetic fnr for someone born on `birth` (UTC date), of the given sex. */
export function syntheticFnr(rng: Rng, birth: Date, sex: 'female' | 'male'): string {
  const dd = String(birth.getUTCDate()).padStart(2, '0');
  const mm = String(birth.getUTCMonth() + 1 + 80);
  const yy = String(birth.getUTCFullYear() % 100).padStart(2, '0');
  const [lo, hi] = individualRange(birth.getUTCFullYear());
  for (;;) {
    let ind = rng.int(lo, hi);
    // The third individual digit gives the sex: even for women, odd for men.
    if ((ind % 2 === 0) !== (sex === 'female')) ind = ind === hi ? ind - 1 : ind + 1;
    const nine = [...`${dd}${mm}${yy}${String(ind).padStart(3, '0')}`].map(Number);
    const k1 = checkDigit(nine, W1);
    if (k1 === undefined) continue;
    const k2 = checkDigit([...nine, k1], W2);
    if (k2 === undefined) continue;
    return `${nine.join('')}${k1}${k2}`;
  }
}
