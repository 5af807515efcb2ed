import { describe, expect, it } from 'vitest';
import type { Generate } from '../src/model/evaluate.js';
import { measureUptake, newWords, topOpenings } from '../src/model/uptake.js';

const BASE = ['me want cookie', 'me want ball', 'doggy go woof', 'big truck go vroom vroom'];
const SERVER = [
  'me want dinosaur',
  'me want dinosaur!',
  'me want tractor',
  'big tractor go roar',
  'big tractor go roar',
  'dinosaur go roar',
  'ok',
];

/** A scripted model: what it says after each seed, by rng. */
function scripted(say: Record<string, (rng: number) => string>): Generate {
  return (seed, o) => `${seed}${(say[seed] ?? (() => ''))(o.rng)}`;
}

describe('newWords', () => {
  it("are the server's words the base corpus lacks, used at least minCount times, most frequent first", () => {
    expect(newWords(SERVER, new Set(BASE.flatMap((l) => l.split(' '))), 2)).toEqual([
      { word: 'dinosaur', count: 3 },
      { word: 'roar', count: 3 },
      { word: 'tractor', count: 3 },
    ]);
    expect(newWords(SERVER, new Set(), 4)).toEqual([{ word: 'go', count: 3 }].filter((w) => w.count >= 4));
  });
});

describe('topOpenings', () => {
  it('ranks 2-word openings of lines of 3+ words by lines, with the continuations and next words the server has', () => {
    const [first, second] = topOpenings(SERVER, 2);
    expect(first).toMatchObject({ opening: 'me want ', lines: 3 });
    expect([...first!.continuations]).toEqual(['dinosaur', 'tractor']);
    expect(second).toMatchObject({ opening: 'big tractor ', lines: 2 });
    expect([...second!.continuations]).toEqual(['go roar']);
  });
});

describe('measureUptake', () => {
  it('counts samples using a new word per seed and per word, and the openings continued as the server does', async () => {
    const generate = scripted({
      'me want ': (rng) => ['dinosaur\n', 'cookie\n', 'tractor and dinosaur\n', 'ball\n'][rng % 4]!,
      'me ': () => 'want cookie\n',
      'big tractor ': (rng) => (rng % 2 === 0 ? 'go roar\n' : 'go vroom vroom\n'),
      'dinosaur go ': () => 'zoom\n',
    });
    const r = await measureUptake(
      generate,
      { serverLines: SERVER, baseLines: BASE },
      { seeds: ['me want ', 'me '], samplesPerSeed: 8, minCount: 2 },
    );
    expect(r.perSeed).toEqual([
      { seed: 'me want ', samples: 8, withNewWord: 4, share: 0.5 },
      { seed: 'me ', samples: 8, withNewWord: 0, share: 0 },
    ]);
    expect(r.newWordShare).toBe(4 / 16);
    expect(r.used).toEqual([
      { word: 'dinosaur', count: 4 },
      { word: 'tractor', count: 2 },
    ]);
    expect(r.examples[0]).toBe('me want dinosaur');
    expect(r.openings).toEqual([
      { opening: 'me want ', serverLines: 3, samples: 8, exact: 0.25, firstWord: 0.5 },
      { opening: 'big tractor ', serverLines: 2, samples: 8, exact: 0.5, firstWord: 1 },
      { opening: 'dinosaur go ', serverLines: 1, samples: 8, exact: 0, firstWord: 0 },
    ]);
    expect(r.knownWordShare).toBe(26 / 28); // "and" (twice) is neither a base nor a server word
  });

  it('gives no uptake to a model that never uses the new words', async () => {
    const r = await measureUptake(
      scripted({}),
      { serverLines: SERVER, baseLines: BASE },
      { samplesPerSeed: 5, minCount: 2 },
    );
    expect(r.newWordShare).toBe(0);
    expect(r.used).toEqual([]);
  });
});
