import { describe, expect, it } from 'vitest';
import { addressCandidates, cnCandidates, firstFree, isCnOf, primarySmtp, proxyAddresses, slug } from './names.js';

describe('AD names', () => {
  it.each([
    ['Åse Marit', '.', 'ase.marit'],
    ['Ødegård-Ås', '-', 'odegard-as'],
    ['Bjørn Ærlig', '.', 'bjorn.aerlig'],
    ['José  Müller', '-', 'jose-muller'],
    ['Doe, Jr.', '-', 'doe-jr'],
  ] as const)('slug(%j, %j) = %j', (s, sep, want) => {
    expect(slug(s, sep)).toBe(want);
  });

  it('offers given.family, then a middle initial, then numbers', () => {
    expect(addressCandidates('Ola Johan', 'Nordmann', 5)).toEqual(['ola.nordmann', 'ola.j.nordmann', 'ola.nordmann2', 'ola.nordmann3', 'ola.nordmann4']);
    expect(addressCandidates('Kari', 'Berg Hansen', 3)).toEqual(['kari.berg-hansen', 'kari.berg-hansen2', 'kari.berg-hansen3']);
    expect(addressCandidates('', '', 3)).toEqual([]);
  });

  it('takes the first free candidate, ignoring case', () => {
    expect(firstFree(cnCandidates('Kari Nordmann', 4), ['kari nordmann', 'KARI NORDMANN 2'])).toBe('Kari Nordmann 3');
    expect(firstFree(['a'], ['A'])).toBeUndefined();
  });

  it('knows a numbered cn as the same name, and nothing else', () => {
    expect(isCnOf('Kari Nordmann 2', 'Kari Nordmann')).toBe(true);
    expect(isCnOf('kari nordmann', 'Kari Nordmann')).toBe(true);
    expect(isCnOf('Kari Nordmann 2b', 'Kari Nordmann')).toBe(false);
    expect(isCnOf('Kari Nordmannsen', 'Kari Nordmann')).toBe(false);
  });

  it('puts the primary first and the secondary next, keeps other values and demotes another primary', () => {
    expect(proxyAddresses('ola.n@uni.no', 'ola1@uni.no', ['SMTP:old@uni.no', 'X500:/o=x', 'smtp:OLA1@uni.no']))
      .toEqual(['SMTP:ola.n@uni.no', 'smtp:ola1@uni.no', 'smtp:old@uni.no', 'X500:/o=x']);
    expect(primarySmtp(['smtp:a@b', 'SMTP:c@d'])).toBe('c@d');
  });
});
