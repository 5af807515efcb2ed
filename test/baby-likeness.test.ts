import { describe, expect, it } from 'vitest';
import { BabyLanguageModel } from '../src/model/baby.js';
import {
  checkBabyLikeness,
  drawGateSamples,
  GATE_SAMPLE_LENGTH,
  type GateSample,
} from '../src/training/baby-likeness.js';

const KNOWN = new Set(['me', 'want', 'cookie', 'dinosaur', 'go', 'roar', 'big', 'tractor']);
const said = (text: string, complete = true): GateSample => ({ utterance: text, generated: text, complete });

describe('checkBabyLikeness', () => {
  it('passes short utterances of known words', () => {
    const r = checkBabyLikeness({
      samples: [said('me want cookie'), said('big tractor go roar'), said('me want dinosaur')],
      knownWords: KNOWN,
    });
    expect(r).toMatchObject({ ok: true, reasons: [], wordShare: 1, nonEmpty: 1, shortShare: 1 });
  });

  it('needs 90 % known words', () => {
    const r = checkBabyLikeness({
      samples: [said('me want cookie'), said('big tractor go roar'), said('me want zorp')],
      knownWords: KNOWN,
    });
    expect(r.wordShare).toBeCloseTo(9 / 10);
    expect(r.ok).toBe(true);
    const worse = checkBabyLikeness({ samples: [said('me want zorp'), said('blix go roar')], knownWords: KNOWN });
    expect(worse.reasons.join()).toMatch(/made-up words \(67% known words, need 90%\)/);
  });

  it('refuses rambling: utterances that never end or run past 12 words', () => {
    const long = 'me want cookie me want cookie me want cookie me want cookie me want cookie';
    const r = checkBabyLikeness({
      samples: [said(long), said('me want cookie', false), said('me go')],
      knownWords: KNOWN,
    });
    expect(r.shortShare).toBeCloseTo(1 / 3);
    expect(r.reasons.join()).toMatch(/ramble on/);
  });

  it('refuses parroting: more than half the samples exactly a server line', () => {
    const serverLines = new Set(['me want dinosaur', 'big tractor go roar']);
    const half = checkBabyLikeness({
      samples: [
        said('me want dinosaur'),
        said('big tractor go roar'),
        said('me want cookie'),
        said('dinosaur go roar'),
      ],
      knownWords: KNOWN,
      serverLines,
    });
    expect(half.parrotShare).toBe(0.5);
    expect(half.ok).toBe(true);
    const most = checkBabyLikeness({
      samples: [said('me want dinosaur'), said('big tractor go roar'), said('me want dinosaur')],
      knownWords: KNOWN,
      serverLines,
    });
    expect(most.reasons.join()).toMatch(/repeats the server's messages word for word \(100%/);
  });
});

describe('drawGateSamples', () => {
  it('draws the same samples from the same model, each an utterance with its seed, ended when it stopped early', async () => {
    const model = await BabyLanguageModel.load('models/base');
    const a = await drawGateSamples(model, 12);
    expect(await drawGateSamples(model, 12)).toEqual(a);
    expect(a[2]!.utterance.startsWith('me want ')).toBe(true);
    expect(a.filter((s) => s.complete).length).toBeGreaterThan(9);
    for (const s of a) {
      expect(s.utterance.endsWith(s.generated)).toBe(true);
      expect(s.generated.length).toBeLessThanOrEqual(GATE_SAMPLE_LENGTH);
    }
  });
});
