/**
 * Times stateful generation of 50 characters with real-size weights (DEFAULT_VOCAB, embedding 32, LSTM 128) on
 * both backends of the generator, runs alternating so both see the same machine noise.
 *
 *   npx tsx scripts/bench-generate.ts [--runs 500] [--warmup 100] [--length 50]
 *
 * stdout: {"js_p50_ms":…,"js_p99_ms":…,"wasm_p50_ms":…,"wasm_p99_ms":…}; the setup goes to stderr.
 */
import { Generator } from '../src/model/generate.js';
import { DEFAULT_VOCAB } from '../src/model/vocab.js';
import { initWeights } from '../src/model/weights.js';

function intArg(args: string[], flag: string, fallback: number): number {
  const i = args.indexOf(flag);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${flag} needs a positive integer`);
  return v;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function main(args: string[]): number {
  const runs = intArg(args, '--runs', 500);
  const warmup = intArg(args, '--warmup', 100);
  const length = intArg(args, '--length', 50);
  const seed = 'hello ';
  const weights = initWeights(DEFAULT_VOCAB.size, 1);
  const generators = {
    js: new Generator(weights, DEFAULT_VOCAB, { backend: 'js' }),
    wasm: new Generator(weights, DEFAULT_VOCAB, { backend: 'wasm' }),
  };
  const options = (rng: number) => ({ length, rng, temperature: 0.5 });
  for (let r = 0; r < warmup; r++) {
    generators.js.generate(seed, options(r));
    generators.wasm.generate(seed, options(r));
  }
  const times = { js: [] as number[], wasm: [] as number[] };
  for (let r = 0; r < runs; r++) {
    for (const name of ['js', 'wasm'] as const) {
      const t0 = performance.now();
      const result = generators[name].generate(seed, options(1000 + r));
      times[name].push(performance.now() - t0);
      if (result.generated !== length)
        throw new Error(`${name}: generated ${result.generated} characters, expected ${length}`);
    }
  }
  const js = times.js.sort((a, b) => a - b);
  const wasm = times.wasm.sort((a, b) => a - b);
  console.error(
    `generate(${JSON.stringify(seed)}, { length: ${length}, temperature: 0.5 }): vocab ${DEFAULT_VOCAB.size}, ` +
      `embedding ${weights.embeddingDim}, units ${weights.units}; ${warmup} warm-up + ${runs} timed runs per backend, alternating; ` +
      `node ${process.version}`,
  );
  console.log(
    JSON.stringify({
      js_p50_ms: round(percentile(js, 0.5)),
      js_p99_ms: round(percentile(js, 0.99)),
      wasm_p50_ms: round(percentile(wasm, 0.5)),
      wasm_p99_ms: round(percentile(wasm, 0.99)),
    }),
  );
  return 0;
}

process.exitCode = main(process.argv.slice(2));
