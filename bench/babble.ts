/**
 * 50-character babble latency through the production generator (BabyLanguageModel.generate). Generation uses no
 * tfjs tensors (plain typed arrays and a WebAssembly kernel), so there is no tensor count to watch here: the
 * trainer's is (trainer_tensors).
 */
import { BabyLanguageModel } from '../src/model/baby.js';
import { initBackend } from '../src/model/backend.js';
import { summarize, type Summary } from './stats.js';

export const BABBLE_SEED = 'me want';
export const BABBLE_LENGTH = 50;
export const BABBLE_TEMPERATURE = 0.7;

export interface BabbleFigures {
  latencyMs: Summary;
  warmup: number;
  babbles: number;
  /** Characters generated per call (the seed not counted), min over all calls. */
  minGenerated: number;
}

export async function measureBabble(opts: { modelDir: string; warmup: number; samples: number; log: (line: string) => void }): Promise<BabbleFigures> {
  await initBackend();
  const model = await BabyLanguageModel.load(opts.modelDir);
  const times: number[] = [];
  let minGenerated = Infinity;
  const total = opts.warmup + opts.samples;
  for (let i = 0; i < total; i++) {
    const t0 = performance.now();
    const r = model.generateDetailed(BABBLE_SEED, { length: BABBLE_LENGTH, temperature: BABBLE_TEMPERATURE, rng: i + 1 });
    const ms = performance.now() - t0;
    minGenerated = Math.min(minGenerated, r.generated);
    if (i >= opts.warmup) times.push(ms);
    if ((i + 1) % 2000 === 0) opts.log(`  babble ${i + 1}/${total}`);
    if (i % 500 === 499) await new Promise<void>((resolve) => setImmediate(resolve)); // let stderr flush
  }
  return { latencyMs: summarize(times), warmup: opts.warmup, babbles: total, minGenerated };
}
