import { describe, expect, it } from 'vitest';
import { babbleOptionsProblem, numericOptionsProblem } from '../src/service/babble-rules.js';

describe('babbleOptionsProblem', () => {
  it('accepts options at the edges of their ranges', () => {
    expect(babbleOptionsProblem({ seed: 'a' })).toBeUndefined();
    expect(babbleOptionsProblem({ seed: 'x'.repeat(500), temperature: 0, length: 1, rng: 0 })).toBeUndefined();
    expect(babbleOptionsProblem({ seed: 'hi', temperature: 2, length: 1000, rng: 2 ** 31 - 1 })).toBeUndefined();
  });

  it('names the option and its range when one is out of bounds', () => {
    expect(babbleOptionsProblem({ seed: 'hi', temperature: 2.5 })).toMatch(/^temperature .* 0 to 2 .*2\.5/);
    expect(babbleOptionsProblem({ seed: 'hi', temperature: -0.1 })).toMatch(/^temperature/);
    expect(babbleOptionsProblem({ seed: 'hi', length: 0 })).toMatch(/^length .* 1 to 1000/);
    expect(babbleOptionsProblem({ seed: 'hi', length: 1.5 })).toMatch(/^length .*whole number/);
    expect(babbleOptionsProblem({ seed: 'hi', rng: 2 ** 31 })).toMatch(/^rng/);
    expect(babbleOptionsProblem({ seed: 'hi', rng: -1 })).toMatch(/^rng/);
    expect(babbleOptionsProblem({ seed: 'hi', temperature: Number.NaN })).toMatch(/^temperature/);
  });

  it('refuses an empty or too long seed', () => {
    expect(babbleOptionsProblem({ seed: '   ' })).toMatch(/^seed/);
    expect(babbleOptionsProblem({ seed: 'x'.repeat(501) })).toMatch(/^seed is too long.*500.*501/);
  });
});

describe('numericOptionsProblem', () => {
  it('checks top-k as well, and nothing about the seed', () => {
    expect(numericOptionsProblem({ topK: 100 })).toBeUndefined();
    expect(numericOptionsProblem({ topK: 101 })).toMatch(/^top-k .*whole number from 0 to 100/);
    expect(numericOptionsProblem({})).toBeUndefined();
  });
});
