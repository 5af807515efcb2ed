import { describe, expect, it } from 'vitest';
import {
  DEFAULT_STRENGTH,
  isStrength,
  lineChars,
  mixForShare,
  repeatToChars,
  STRENGTH_SPECS,
  STRENGTHS,
} from '../src/training/server-share.js';

const SERVER = Array.from({ length: 30 }, (_, i) => `me want dinosaur ${i}`);
const BASE = Array.from({ length: 400 }, (_, i) => `me want cookie number ${i}`);

describe('strengths', () => {
  it('are gentle, normal and strong at 25, 50 and 75 % server text, the baby corpus allowed to rise more the stronger', () => {
    expect(STRENGTHS.map((s) => STRENGTH_SPECS[s].share)).toEqual([0.25, 0.5, 0.75]);
    const factors = STRENGTHS.map((s) => STRENGTH_SPECS[s].baseToleranceFactor);
    expect([...factors].sort((a, b) => a - b)).toEqual(factors);
    expect(isStrength(DEFAULT_STRENGTH)).toBe(true);
    expect(isStrength('extreme')).toBe(false);
  });
});

describe('repeatToChars', () => {
  it('takes whole copies, then an evenly spread part, about the characters asked, the same every time', () => {
    const total = lineChars(BASE);
    const twoAndAHalf = repeatToChars(BASE, total * 2.5, 1);
    expect(Math.abs(lineChars(twoAndAHalf) - total * 2.5)).toBeLessThan(60);
    expect(twoAndAHalf.slice(0, BASE.length)).toEqual(BASE);
    expect(repeatToChars(BASE, total * 2.5, 1)).toEqual(twoAndAHalf);
    const part = repeatToChars(BASE, total / 4, 1);
    expect(new Set(part.map((l) => Number(l.split(' ').at(-1)) >= 200)).size).toBe(2); // from both halves
    expect(repeatToChars([], 100, 1)).toEqual([]);
  });
});

describe('mixForShare', () => {
  it.each(STRENGTHS)('%s: the server is its share of the characters, all of both texts used', (strength) => {
    const share = STRENGTH_SPECS[strength].share;
    const mix = mixForShare(SERVER, BASE, share);
    expect(Math.abs(mix.actualShare - share)).toBeLessThan(0.01);
    expect(new Set(mix.server)).toEqual(new Set(SERVER));
    expect(new Set(mix.base)).toEqual(new Set(BASE));
    expect(mix.serverRepeats).toBeGreaterThanOrEqual(1);
  });

  it('repeats the base corpus when the server has more text than its share needs', () => {
    const big = Array.from({ length: 3000 }, (_, i) => `gg raid tonight ${i}`);
    const mix = mixForShare(big, BASE, 0.5);
    expect(mix.server).toEqual(big);
    expect(lineChars(mix.base)).toBeGreaterThan(lineChars(BASE));
    expect(Math.abs(mix.actualShare - 0.5)).toBeLessThan(0.01);
  });

  it('uses at least minBaseChars of the base corpus when given less than all of it', () => {
    const mix = mixForShare(SERVER, BASE, 0.25, { minBaseChars: 3000 });
    expect(Math.abs(lineChars(mix.base) - 3000)).toBeLessThan(60);
    expect(Math.abs(mix.actualShare - 0.25)).toBeLessThan(0.02);
  });

  it('refuses a share outside (0, 1)', () => {
    expect(() => mixForShare(SERVER, BASE, 1)).toThrow(RangeError);
    expect(() => mixForShare(SERVER, BASE, 0)).toThrow(RangeError);
  });
});
