/**
 * The trainer child's pure parts: the chunk schedule and the line mix. (The child process itself is exercised
 * through trainer.ts in trainer.test.ts and retrain.e2e.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { chunkSeconds, FIRST_CHUNK_SECONDS, mixLines } from '../src/training/trainer-child.js';

describe('chunkSeconds', () => {
  it('starts with the first chunk length and doubles it each chunk', () => {
    const lengths = Array.from({ length: 5 }, (_, i) => chunkSeconds(i, 20));
    expect(lengths[0]).toBe(20);
    for (let i = 1; i < lengths.length; i++) expect(lengths[i]).toBe(2 * lengths[i - 1]!);
  });

  it('needs only a few chunks for a long run: 5 minutes at the default first chunk take at most 4', () => {
    let total = 0;
    let chunks = 0;
    while (total < 300) total += chunkSeconds(chunks++, FIRST_CHUNK_SECONDS);
    expect(chunks).toBeLessThanOrEqual(4);
  });

  it('stays finite for any chunk index', () => {
    expect(Number.isFinite(chunkSeconds(10_000, 20))).toBe(true);
  });
});

describe('mixLines', () => {
  it('keeps every line of both lists once, in an order fixed by the seed', () => {
    const server = ['a', 'b', 'c'];
    const base = ['x', 'y', 'z', 'w'];
    const mixed = mixLines(server, base, 5);
    expect([...mixed].sort()).toEqual([...server, ...base].sort());
    expect(mixLines(server, base, 5)).toEqual(mixed);
  });
});
