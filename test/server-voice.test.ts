/**
 * Issue 15's promise on the scripted server (bench/voice-text.ts: 300 messages, two new words), through the real
 * retrain path (manager, forked trainer, gate, swap) at the default strength: a small deterministic run (a fixed
 * number of steps, one gradient thread) instead of the 2-minute one, whose figure is the bench's server_voice section.
 * Then a second retrain on the same text continues from the first and does not end with lower uptake.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BabyLanguageModel } from '../src/model/baby.js';
import { measureUptake } from '../src/model/uptake.js';
import { createModelCache } from '../src/service/model-cache.js';
import { createRegistry } from '../src/service/registry.js';
import { createRetrainManager, loadBaseCorpus, type RetrainOutcome } from '../src/service/retrain.js';
import { DEFAULT_STRENGTH, STRENGTH_SPECS } from '../src/training/server-share.js';
import { VOICE_NEW_WORDS, voiceServerText } from '../bench/voice-text.js';

const GUILD = '200000000000000015';
const OTHER = '200000000000000016';
/** The deterministic budget: steps of 64 sequences × 32 characters on one thread. */
const TRAINING = { maxSteps: 80, batchSize: 64, workers: 1 as const, childProgressMs: 0 };

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'babble-voice-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function swapped(o: RetrainOutcome): Extract<RetrainOutcome, { status: 'swapped' }> {
  expect(o.status, JSON.stringify(o).slice(0, 400)).toBe('swapped');
  return o as Extract<RetrainOutcome, { status: 'swapped' }>;
}

describe('a retrained baby talks like its server', () => {
  it('uses a new word in ≥ 30 % of "me want " babbles with ≥ 90 % known words, within the tolerance; a second retrain does not lower it', async () => {
    const baseCorpus = await loadBaseCorpus('data/corpus.txt');
    const messages = voiceServerText();
    const registry = createRegistry({ root: join(work, 'models') });
    await registry.init();
    const models = createModelCache({ registry, baseDir: 'models/base' });
    const manager = createRetrainManager({
      registry,
      models,
      baseModelDir: 'models/base',
      baseCorpus,
      trainingText: async () => messages,
      training: TRAINING,
    });
    const meWant = async (model: BabyLanguageModel) =>
      measureUptake(
        (seed, o) => model.generate(seed, { ...o, stopAtEndOfUtterance: true }),
        { serverLines: messages, baseLines: baseCorpus },
        { seeds: ['me want '], samplesPerSeed: 200, openings: 0 },
      );
    const otherBefore = (await models.modelFor(OTHER)).model.generate('me want ', { temperature: 0.5, rng: 7 });
    try {
      const first = swapped(await manager.start({ scope: GUILD }).job.result);
      expect(first.strength).toBe(DEFAULT_STRENGTH);
      expect(first.serverShare).toBe(STRENGTH_SPECS[DEFAULT_STRENGTH].share);
      expect(first.uptake?.newWords.map((w) => w.word)).toEqual(expect.arrayContaining([...VOICE_NEW_WORDS]));
      expect(first.uptake?.used.length).toBeGreaterThan(0);
      const rise = first.heldOut.after.base! - first.heldOut.before.base!;
      expect(first.gate.baseTolerance).toBeCloseTo(0.05 * STRENGTH_SPECS[DEFAULT_STRENGTH].baseToleranceFactor, 9);
      expect(String(first.gate.baseTolerance).length).toBeLessThan(6);
      expect(rise).toBeLessThanOrEqual(first.gate.baseTolerance);
      const one = await meWant((await models.modelFor(GUILD)).model);
      expect(one.perSeed[0]!.share).toBeGreaterThanOrEqual(0.3);
      expect(one.knownWordShare).toBeGreaterThanOrEqual(0.9);

      const second = swapped(await manager.start({ scope: GUILD }).job.result);
      expect(second.previous).toBe(String(first.version));
      const two = await meWant((await models.modelFor(GUILD)).model);
      expect(two.perSeed[0]!.share).toBeGreaterThanOrEqual(one.perSeed[0]!.share);
      expect(two.knownWordShare).toBeGreaterThanOrEqual(0.9);
      expect((await models.modelFor(OTHER)).model.generate('me want ', { temperature: 0.5, rng: 7 })).toBe(otherBefore);
    } finally {
      await manager.close();
    }
  }, 600_000);
});
