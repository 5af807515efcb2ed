/** src/count-text.ts: whole numbers with thousands separators, checked against toLocaleString('en-US'). */
import { describe, expect, it } from 'vitest';
import { countText } from '../src/count-text.js';

describe('countText', () => {
  it("writes whole numbers exactly as toLocaleString('en-US') does", () => {
    const numbers = [0, 1, 9, 10, 999, 1000, 1001, 12_345, 100_000, 999_999, 1_000_000, 123_456_789, 2 ** 53 - 1];
    for (let i = 0; i < 2000; i++) numbers.push(Math.floor(Math.random() * 10 ** (1 + (i % 15))));
    for (const n of [...numbers, ...numbers.filter((x) => x !== 0).map((x) => -x)])
      expect(countText(n)).toBe(n.toLocaleString('en-US'));
  });

  it('rounds a fraction to the nearest whole number and writes NaN and infinities as String() does', () => {
    expect(countText(1234.4)).toBe('1,234');
    expect(countText(1234.6)).toBe('1,235');
    expect(countText(Number.NaN)).toBe('NaN');
    expect(countText(Number.POSITIVE_INFINITY)).toBe('Infinity');
  });
});
