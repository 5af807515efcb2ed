import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BabyLanguageModel } from '../src/model/baby.js';
import { EVAL_BARS } from '../src/model/evaluate.js';
import { evaluateModel } from '../src/model/quality.js';
import { sha256 } from '../src/model/baby.js';

const root = join(import.meta.dirname, '..');

describe('the shipped model (models/base)', () => {
  it('meets every quality bar of npm run eval', async () => {
    const model = await BabyLanguageModel.load(join(root, 'models/base'));
    const report = await evaluateModel(model, await readFile(join(root, 'data/corpus.txt'), 'utf8'));
    expect(report.failures).toEqual([]);
    expect(report.wordShare).toBeGreaterThanOrEqual(EVAL_BARS.wordShare);
    expect(report.wantFoodOrToy).toBeGreaterThanOrEqual(EVAL_BARS.wantFoodOrToy);
    expect(report.lovePerson).toBeGreaterThanOrEqual(EVAL_BARS.lovePerson);
    expect(report.seeAnimal).toBeGreaterThanOrEqual(EVAL_BARS.seeAnimal);
    expect(report.heldOutBitsPerChar).toBeGreaterThan(0);
    expect(report.heldOutBitsPerChar).toBeLessThan(2);
  }, 120_000);

  it('records how it was made: the train command, figures and the hash of the committed corpus', async () => {
    const model = await BabyLanguageModel.load(join(root, 'models/base'));
    const meta = model.meta!;
    expect(meta.version).toBe('base');
    expect(String(meta.training.command)).toMatch(/^npm run train -- /);
    expect(meta.training.corpusFileSha256).toBe(sha256(await readFile(join(root, 'data/corpus.txt'))));
    for (const key of ['steps', 'seconds', 'charsPerSecond', 'finalLoss', 'heldOutBitsPerChar', 'backend']) {
      expect(meta.training, key).toHaveProperty(key);
    }
  });
});
