import { describe, expect, it } from 'vitest';
import { evaluateGate, knownWords } from '../src/training/quality-gate.js';

/** Gate samples of finished utterances with no seed. */
const said = (...texts: string[]) => texts.map((t) => ({ utterance: t, generated: t, complete: true }));

describe('evaluateGate', () => {
  const known = new Set(['me', 'want', 'pizza', 'cookie', 'love', 'mama']);
  const good = said('me want pizza', 'me love mama', 'cookie', 'me want cookie');

  it('passes a model that is no worse than the tolerance allows and talks in known words', () => {
    const g = evaluateGate({
      before: { server: 3, base: 1.6 },
      after: { server: 2.5, base: 1.64 },
      samples: good,
      knownWords: known,
      options: { tolerance: 0.05 },
    });
    expect(g.pass).toBe(true);
    expect(g.reasons).toEqual([]);
    expect(g.samples.wordShare).toBe(1);
  });

  it('refuses a model worse on either held-out text, saying which', () => {
    const worseServer = evaluateGate({
      before: { server: 3, base: 1.6 },
      after: { server: 3.2, base: 1.6 },
      samples: good,
      knownWords: known,
    });
    expect(worseServer.pass).toBe(false);
    expect(worseServer.reasons.join()).toMatch(/server's held-out messages: 3\.200.*was 3\.000/);
    const worseBase = evaluateGate({
      before: { server: 3, base: 1.6 },
      after: { server: 2, base: 1.7 },
      samples: good,
      knownWords: known,
    });
    expect(worseBase.reasons.join()).toMatch(/baby corpus/);
  });

  it('skips a figure with no held-out text and says so', () => {
    const g = evaluateGate({
      before: { server: null, base: 1.6 },
      after: { server: null, base: 1.6 },
      samples: good,
      knownWords: known,
    });
    expect(g.pass).toBe(true);
    expect(g.notes.join()).toMatch(/no held-out server text/);
  });

  it('refuses empty or made-up samples', () => {
    const empty = evaluateGate({
      before: { server: 3, base: 1.6 },
      after: { server: 3, base: 1.6 },
      samples: said('', '', 'me', ''),
      knownWords: known,
    });
    expect(empty.reasons.join()).toMatch(/mostly empty/);
    const gibberish = evaluateGate({
      before: { server: 3, base: 1.6 },
      after: { server: 3, base: 1.6 },
      samples: said('zorp blix', 'me quux', 'fnord'),
      knownWords: known,
    });
    expect(gibberish.reasons.join()).toMatch(/made-up words/);
  });

  it("lets the baby corpus rise by its own tolerance (the strength's) while the server figure keeps the base one", () => {
    const within = evaluateGate({
      before: { server: 3, base: 1.0 },
      after: { server: 1, base: 1.12 },
      samples: good,
      knownWords: known,
      options: { tolerance: 0.05, baseTolerance: 0.15 },
    });
    expect(within.pass).toBe(true);
    expect(within.baseTolerance).toBe(0.15);
    const beyond = evaluateGate({
      before: { server: 3, base: 1.0 },
      after: { server: 1, base: 1.2 },
      samples: good,
      knownWords: known,
      options: { tolerance: 0.05, baseTolerance: 0.15 },
    });
    expect(beyond.reasons.join()).toMatch(/baby corpus: 1\.200.*tolerance 0\.15/);
    const server = evaluateGate({
      before: { server: 1, base: 1.0 },
      after: { server: 1.1, base: 1.0 },
      samples: good,
      knownWords: known,
      options: { tolerance: 0.05, baseTolerance: 0.15 },
    });
    expect(server.reasons.join()).toMatch(/server's held-out messages/);
  });

  it('refuses a model that mostly recites server lines', () => {
    const serverLines = new Set(['gg mama', 'me want pizza']);
    const parrot = evaluateGate({
      before: { server: 3, base: 1 },
      after: { server: 1, base: 1 },
      samples: said('gg mama', 'me want pizza', 'gg mama', 'cookie'),
      knownWords: new Set([...known, 'gg']),
      serverLines,
    });
    expect(parrot.pass).toBe(false);
    expect(parrot.reasons.join()).toMatch(/repeats the server's messages word for word \(75%/);
  });
});

describe('knownWords', () => {
  it("adds the server's own words to the base corpus words", () => {
    const words = knownWords(new Set(['me', 'want']), ['pizza night with the squad', 'me want pizza']);
    expect([...words].sort()).toEqual(['me', 'night', 'pizza', 'squad', 'the', 'want', 'with']);
  });
});
