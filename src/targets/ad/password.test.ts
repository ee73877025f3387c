import { describe, expect, it } from 'vitest';
import { generatePassword, unicodePwd } from './password.js';

describe('initial password', () => {
  it('has the policy\'s length and every class it asks for, and differs each time', () => {
    const policy = { length: 12, lower: true, upper: true, digits: true, symbols: true };
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = generatePassword(policy);
      expect(p).toHaveLength(12);
      expect(p).toMatch(/[a-z]/);
      expect(p).toMatch(/[A-Z]/);
      expect(p).toMatch(/[0-9]/);
      expect(p).toMatch(/[!#%+\-.:=?@_]/);
      seen.add(p);
    }
    expect(seen.size).toBe(200);
    expect(generatePassword({ length: 8, lower: false, upper: false, digits: true, symbols: false })).toMatch(/^[2-9]{8}$/);
    expect(() => generatePassword({ length: 8, lower: false, upper: false, digits: false, symbols: false })).toThrow(/no characters/);
  });

  it('is sent as AD wants it: quoted, UTF-16LE', () => {
    expect(unicodePwd('Ab1!')).toEqual(Buffer.from('"Ab1!"', 'utf16le'));
  });
});
