/**
 * 50-character babble latency through the production generator (BabyLanguageModel.generate), and the same in
 * window mode (an imported Keras model's generation: every character from a zero state over the last WINDOW
 * characters, so WINDOW LSTM steps per character). Generation uses no tfjs tensors (plain typed arrays and a
 * WebAssembly kernel), so there is no tensor count to watch here: the trainer's is (trainer_tensors).
 */
import { BabyLanguageModel } from '../src/model/baby.js';
import { initBackend } from '../src/model/backend.js';
import { Generator } from '../src/model/generate.js';
import { summarize, type Summary } from './stats.js';

export const BABBLE_SEED = 'me want';
export const BABBLE_LENGTH = 50;
export const BABBLE_TEMPERATURE = 0.7;
export const WINDOW = 20;

export interface BabbleFigures {
  latencyMs: Summary;
  warmup: number;
  babbles: number;
  /** Characters generated per call (the seed not counted), min over all calls. */
  minGenerated: number;
}

export async function measureBabble(opts: {
  modelDir: string;
  warmup: number;
  samples: number;
  log: (line: string) => void;
}): Promise<BabbleFigures> {
  await initBackend();
  const model = await BabyLanguageModel.load(opts.modelDir);
  const times: number[] = [];
  let minGenerated = Infinity;
  const total = opts.warmup + opts.samples;
  for (let i = 0; i < total; i++) {
    const t0 = performance.now();
    const r = model.generateDetailed(BABBLE_SEED, {
      length: BABBLE_LENGTH,
      temperature: BABBLE_TEMPERATURE,
      rng: i + 1,
    });
    const ms = performance.now() - t0;
    minGenerated = Math.min(minGenerated, r.generated);
    if (i >= opts.warmup) times.push(ms);
    if ((i + 1) % 2000 === 0) opts.log(`  babble ${i + 1}/${total}`);
    if (i % 500 === 499) await new Promise<void>((resolve) => setImmediate(resolve)); // let stderr flush
  }
  return { latencyMs: summarize(times), warmup: opts.warmup, babbles: total, minGenerated };
}

export interface WindowFigures {
  latencyMs: Summary;
  warmup: number;
  /** Characters generated per call, min over all calls. */
  minGenerated: number;
  /** The generator's backend ('wasm' unless the runtime has no WebAssembly SIMD). */
  backend: string;
}

/** 50 characters in window mode (window WINDOW) with the same model's weights. */
export async function measureWindowBabble(opts: {
  modelDir: string;
  warmup: number;
  samples: number;
  log: (line: string) => void;
}): Promise<WindowFigures> {
  const model = await BabyLanguageModel.load(opts.modelDir);
  const times: number[] = [];
  let minGenerated = Infinity;
  const total = opts.warmup + opts.samples;
  for (let i = 0; i < total; i++) {
    const t0 = performance.now();
    const r = model.generateDetailed(BABBLE_SEED, {
      length: BABBLE_LENGTH,
      temperature: BABBLE_TEMPERATURE,
      rng: i + 1,
      mode: 'window',
      window: WINDOW,
    });
    const ms = performance.now() - t0;
    minGenerated = Math.min(minGenerated, r.generated);
    if (i >= opts.warmup) times.push(ms);
    if ((i + 1) % 500 === 0) opts.log(`  window babble ${i + 1}/${total}`);
    if (i % 100 === 99) await new Promise<void>((resolve) => setImmediate(resolve)); // let stderr flush
  }
  const backend = new Generator(model.weights, model.vocab).backend;
  return { latencyMs: summarize(times), warmup: opts.warmup, minGenerated, backend };
}
