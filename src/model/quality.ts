/**
 * The quality report of a model: held-out bits per character and the sample metrics of evaluate.ts, with bars.
 * Used by `npm run eval` and by the test that holds the shipped model to the bars.
 */
import type { BabyLanguageModel } from './baby.js';
import { splitHeldOut } from './corpus.js';
import { checkBars, evaluateSamples, EVAL_BARS, type EvaluateOptions, type EvaluateResult } from './evaluate.js';
import { normalize } from './vocab.js';

export interface QualityReport extends Omit<EvaluateResult, 'options'> {
  heldOutBitsPerChar: number;
  heldOutLines: number;
  bars: typeof EVAL_BARS;
  pass: boolean;
  failures: string[];
}

export async function evaluateModel(
  model: BabyLanguageModel,
  corpus: string,
  options: EvaluateOptions = {},
): Promise<QualityReport> {
  const lines = normalize(corpus, model.vocab, { keepNewlines: true }).split('\n');
  const { heldOut } = splitHeldOut(lines, 0.1);
  const heldOutBitsPerChar = await model.bitsPerChar(heldOut);
  const result = await evaluateSamples(
    (seed, o) => model.generate(seed, { temperature: o.temperature, length: o.length, rng: o.rng }),
    lines,
    options,
  );
  const { pass, failures } = checkBars(result);
  const { options: _used, ...metrics } = result;
  return { heldOutBitsPerChar, heldOutLines: heldOut.length, ...metrics, bars: EVAL_BARS, pass, failures };
}
