import { describe, expect, it } from 'vitest';
import { evaluateGate, knownWords } from '../src/training/quality-gate.js';

describe('evaluateGate', () => {
  const known = new Set(['me', 'want', 'pizza', 'cookie', 'love', 'mama']);
  const good = ['me want pizza', 'me love mama', 'cookie', 'me want cookie'];

  it('passes a model that is no worse than the tolerance allows and talks in known words', () => {
    const g = evaluateGate({ before: { server: 3, base: 1.6 }, after: { server: 2.5, base: 1.64 }, samples: good, knownWords: known, options: { tolerance: 0.05 } });
    expect(g.pass).toBe(true);
    expect(g.reasons).toEqual([]);
    expect(g.samples.wordShare).toBe(1);
  });

  it('refuses a model worse on either held-out text, saying which', () => {
    const worseServer = evaluateGate({ before: { server: 3, base: 1.6 }, after: { server: 3.2, base: 1.6 }, samples: good, knownWords: known });
    expect(worseServer.pass).toBe(false);
    expect(worseServer.reasons.join()).toMatch(/server's held-out messages: 3\.200.*was 3\.000/);
    const worseBase = evaluateGate({ before: { server: 3, base: 1.6 }, after: { server: 2, base: 1.7 }, samples: good, knownWords: known });
    expect(worseBase.reasons.join()).toMatch(/baby corpus/);
  });

  it('skips a figure with no held-out text and says so', () => {
    const g = evaluateGate({ before: { server: null, base: 1.6 }, after: { server: null, base: 1.6 }, samples: good, knownWords: known });
    expect(g.pass).toBe(true);
    expect(g.notes.join()).toMatch(/no held-out server text/);
  });

  it('refuses empty or made-up samples', () => {
    const empty = evaluateGate({ before: { server: 3, base: 1.6 }, after: { server: 3, base: 1.6 }, samples: ['', '', 'me', ''], knownWords: known });
    expect(empty.reasons.join()).toMatch(/mostly empty/);
    const gibberish = evaluateGate({ before: { server: 3, base: 1.6 }, after: { server: 3, base: 1.6 }, samples: ['zorp blix', 'me quux', 'fnord'], knownWords: known });
    expect(gibberish.reasons.join()).toMatch(/made-up words/);
  });
});

describe('knownWords', () => {
  it("adds the server's own words to the base corpus words", () => {
    const words = knownWords(new Set(['me', 'want']), ['pizza night with the squad', 'me want pizza']);
    expect([...words].sort()).toEqual(['me', 'night', 'pizza', 'squad', 'the', 'want', 'with']);
  });
});
