/**
 * The benchmark harness's pure parts: percentiles, targets, rates, argument parsing, output parsing and the
 * report's sections. No timing is asserted here.
 */
import { describe, expect, it } from 'vitest';
import { parseBenchArgs, planFor, SECTIONS } from '../bench/args.js';
import type { BabbleFigures } from '../bench/babble.js';
import { parseProcStatus, type BotMemoryFigures } from '../bench/bot-memory.js';
import { commandLineOf, niceOf, type BotRetrainFigures } from '../bench/bot-retrain.js';
import type { DiscordFigures } from '../bench/discord.js';
import { otherCores, parseProcStat, parseSelfStat } from '../bench/contention.js';
import { parseRssOutput, type RssFigures } from '../bench/memory.js';
import {
  babbleSection,
  discordSection,
  eventLoopSection,
  failures,
  retrainSection,
  rssSection,
  startupSection,
  trainerTensorsSection,
  trainingSection,
  TARGETS,
  windowSection,
} from '../bench/report.js';
import type { RetrainFigures } from '../bench/retrain.js';
import type { OneStart, StartupFigures } from '../bench/startup.js';
import { serverLikeText, textChars } from '../bench/server-text.js';
import { wordsOf } from '../src/model/corpus.js';
import {
  loopDelayMs,
  meets,
  parseTarget,
  percentile,
  rateAfterWarmup,
  ratio,
  round,
  schedule,
  summarize,
} from '../bench/stats.js';
import { parseTorchOutput, type TorchFigures } from '../bench/torch.js';
import type { TrainingFigures } from '../bench/training.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('percentile (nearest rank)', () => {
  it('returns a sample with at least p % of the samples at or below it and fewer than p % strictly below', () => {
    const rand = lcg(7);
    for (let trial = 0; trial < 50; trial++) {
      const n = 1 + Math.floor(rand() * 300);
      const sorted = Array.from({ length: n }, () => Math.round(rand() * 50)).sort((a, b) => a - b);
      for (const p of [1, 50, 90, 99, 100]) {
        const v = percentile(sorted, p);
        expect(sorted).toContain(v);
        expect(sorted.filter((x) => x <= v).length / n).toBeGreaterThanOrEqual(p / 100);
        expect(sorted.filter((x) => x < v).length / n).toBeLessThan(p / 100);
      }
    }
  });

  it('gives the k-th value of 1..100 for p = k, the maximum for p = 100 and the minimum for p = 0', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    for (const k of [1, 37, 50, 99]) expect(percentile(values, k)).toBe(k);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile(values, 0)).toBe(1);
  });

  it('refuses an empty sample and a p outside 0..100', () => {
    expect(() => percentile([], 50)).toThrow(/no samples/);
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('sorts a copy (the input keeps its order) and reports n, p50, p99, mean and max', () => {
    const samples = [5, 1, 4, 2, 3];
    const s = summarize(samples);
    expect(samples).toEqual([5, 1, 4, 2, 3]);
    expect(s).toEqual({ n: 5, p50: 3, p99: 5, mean: 3, max: 5 });
  });

  it('refuses no samples', () => {
    expect(() => summarize([])).toThrow(RangeError);
  });
});

describe('targets', () => {
  it('parses ">=", "<=" and "==" with decimals', () => {
    expect(parseTarget('>= 5')).toEqual({ op: '>=', value: 5 });
    expect(parseTarget('<=0.25')).toEqual({ op: '<=', value: 0.25 });
    expect(() => parseTarget('at least 5')).toThrow(/bad target/);
  });

  it('judges the boundary as a pass and the far side as a fail', () => {
    expect(meets(5, '>= 5')).toBe(true);
    expect(meets(4.999, '>= 5')).toBe(false);
    expect(meets(0.25, '<= 0.25')).toBe(true);
    expect(meets(0.2501, '<= 0.25')).toBe(false);
  });

  it('gives null (not measured), never a pass, for a missing or non-finite value', () => {
    expect(meets(null, '>= 5')).toBeNull();
    expect(meets(Number.NaN, '<= 15')).toBeNull();
    expect(meets(Infinity, '>= 5')).toBeNull();
  });
});

describe('ratio and round', () => {
  it('divides, and is null when either side is missing or the divisor is not positive', () => {
    expect(ratio(10, 4)).toBe(2.5);
    expect(ratio(null, 4)).toBeNull();
    expect(ratio(10, undefined)).toBeNull();
    expect(ratio(10, 0)).toBeNull();
    expect(ratio(10, -1)).toBeNull();
  });

  it('rounds to the given decimals and turns non-finite values into null', () => {
    expect(round(1.23456, 2)).toBe(1.23);
    expect(round(1234.5, 0)).toBe(1235);
    expect(round(Number.NaN)).toBeNull();
    expect(round(undefined)).toBeNull();
  });
});

describe('rateAfterWarmup', () => {
  it('leaves out the warm-up steps, however slow they were', () => {
    // warm-up: 2 steps taking 10 s; then 1 s per step for 8 steps
    const checkpoints = [
      { step: 1, elapsedSeconds: 6 },
      { step: 2, elapsedSeconds: 10 },
      ...Array.from({ length: 8 }, (_, i) => ({ step: 3 + i, elapsedSeconds: 11 + i })),
    ];
    const r = rateAfterWarmup(checkpoints, 2, 4096);
    expect(r.steps).toBe(8);
    expect(r.seconds).toBe(8);
    expect(r.rate).toBe(4096);
  });

  it('measures from the start when there is no warm-up', () => {
    expect(rateAfterWarmup([{ step: 4, elapsedSeconds: 2 }], 0, 100).rate).toBe(200);
  });

  it('refuses when the warm-up step was not reported or no step followed it', () => {
    expect(() => rateAfterWarmup([{ step: 3, elapsedSeconds: 1 }], 2, 1)).toThrow(/no checkpoint at step 2/);
    expect(() => rateAfterWarmup([{ step: 2, elapsedSeconds: 1 }], 2, 1)).toThrow(/no step after/);
  });
});

describe('schedule and loop delay', () => {
  it('spaces sends 1000 / rate ms apart from 0, whatever happens to the replies (open loop)', () => {
    const due = schedule(2000, 200);
    expect(due).toHaveLength(2000);
    expect(due[0]).toBe(0);
    for (let i = 1; i < due.length; i++) expect(due[i]! - due[i - 1]!).toBeCloseTo(5, 9);
    expect(() => schedule(10, 0)).toThrow(RangeError);
    expect(() => schedule(-1, 10)).toThrow(RangeError);
  });

  it('takes the sampling interval off a histogram reading, never going below zero', () => {
    expect(loopDelayMs(12.5, 5)).toBe(7.5);
    expect(loopDelayMs(4.9, 5)).toBe(0);
  });
});

describe('parseBenchArgs and planFor', () => {
  it('skips nothing by default and exits 0 on missed targets unless --strict', () => {
    const a = parseBenchArgs([]);
    expect([...a.skip]).toEqual([]);
    expect(a.strict).toBe(false);
    expect(parseBenchArgs(['--strict']).strict).toBe(true);
  });

  it('takes --skip as a comma list or repeated, and --quick skips torch', () => {
    expect([...parseBenchArgs(['--skip', 'torch,discord']).skip].sort()).toEqual(['discord', 'torch']);
    expect([...parseBenchArgs(['--skip', 'memory', '--skip', 'babble']).skip].sort()).toEqual(['babble', 'memory']);
    expect(parseBenchArgs(['--quick']).skip.has('torch')).toBe(true);
  });

  it('refuses unknown sections and unknown flags', () => {
    expect(() => parseBenchArgs(['--skip', 'gpu'])).toThrow(/unknown section "gpu"/);
    expect(() => parseBenchArgs(['--fast'])).toThrow();
    for (const s of SECTIONS) expect(() => parseBenchArgs(['--skip', s])).not.toThrow();
  });

  it('plans the full run with at least 10k babbles, 2,000 interactions, 50 server models and a 100k-character retrain, and a quick run with fewer', () => {
    const full = planFor(parseBenchArgs([]));
    const quick = planFor(parseBenchArgs(['--quick']));
    expect(full.babbleWarmup + full.babbleSamples).toBeGreaterThanOrEqual(10_000);
    expect(full.discordCount).toBeGreaterThanOrEqual(2_000);
    expect(full.serverModels).toBe(50);
    expect(full.retrainChars).toBe(100_000);
    expect(full.retrainEpochs).toBeGreaterThan(0);
    expect(full.trainWarmup).toBeGreaterThan(0);
    expect(quick.trainSteps).toBeLessThan(full.trainSteps);
    expect(quick.babbleSamples).toBeLessThan(full.babbleSamples);
    expect(quick.discordCount).toBeLessThan(full.discordCount);
  });
});

const TORCH: TorchFigures = {
  engine: 'torch 1.13.0a0, 2 threads',
  vocab: 34,
  corpus_chars: 82334,
  seq_train_target_chars_per_s: 5000,
  generate_50_chars_ms_median: 8,
};

describe('parseTorchOutput and parseRssOutput', () => {
  it('reads the JSON object on the last non-empty line, after any warnings', () => {
    const out = `UserWarning: something\n${JSON.stringify(TORCH)}\n\n`;
    expect(parseTorchOutput(out)).toEqual(TORCH);
  });

  it('refuses no output, a non-JSON last line and a missing or non-positive figure', () => {
    expect(() => parseTorchOutput('')).toThrow(/printed nothing/);
    expect(() => parseTorchOutput(`${JSON.stringify(TORCH)}\nTraceback (most recent call last):`)).toThrow(/not JSON/);
    const { seq_train_target_chars_per_s: _, ...missing } = TORCH;
    expect(() => parseTorchOutput(JSON.stringify(missing))).toThrow(/seq_train_target_chars_per_s/);
    expect(() => parseTorchOutput(JSON.stringify({ ...TORCH, generate_50_chars_ms_median: 0 }))).toThrow(
      /generate_50_chars_ms_median/,
    );
  });

  it('reads the RSS child line and refuses one without rssMb', () => {
    const line = {
      backend: 'wasm',
      models: 51,
      rssBaselineMb: 150,
      rssAfterBaseMb: 152,
      rssNoGcMb: 255,
      rssMb: 250,
      heapUsedMb: 50,
      externalMb: 40,
      arrayBuffersMb: 40,
    };
    expect(parseRssOutput(`${JSON.stringify(line)}\n`)).toEqual(line);
    const { rssMb: _, ...missing } = line;
    expect(() => parseRssOutput(JSON.stringify(missing))).toThrow(/rssMb/);
  });
});

const TRAINING: TrainingFigures = {
  charsPerSecond: 30_000,
  charsPerSecondWithWarmup: 25_000,
  warmupSteps: 3,
  timedSteps: 20,
  timedSeconds: 2.7,
  targetCharsPerStep: 4096,
  finalLoss: 2.5,
  tensorsBefore: 4,
  tensorsAfter: 4,
  workers: 2,
};

const BABBLE: BabbleFigures = {
  latencyMs: { n: 10_000, p50: 1.5, p99: 3, mean: 1.6, max: 9 },
  warmup: 200,
  babbles: 10_200,
  minGenerated: 50,
};

const BENCH_ENTRY = 'tsx bench/index.ts (the bench process)';
const BOT_ENTRY = 'node /tmp/babble-bench-dist-x/src/main.js';

function discordFigures(over: Partial<DiscordFigures> = {}): DiscordFigures {
  return {
    rate: 200,
    sent: 2000,
    answered: 2000,
    deferred: 0,
    failedReplies: 0,
    ephemeralReplies: 0,
    specViolations: 0,
    botErrorLogs: 0,
    latencyMs: { n: 2000, p50: 2, p99: 9, mean: 2.5, max: 20 },
    sendLagMs: { n: 2000, p50: 0.5, p99: 2, mean: 0.6, max: 5 },
    achievedRate: 199.9,
    eventLoop: {
      p50Ms: 0.5,
      p99Ms: 6,
      maxMs: 12,
      meanMs: 0.8,
      count: 2000,
      resolutionMs: 5,
      rssMb: 200,
      stallCount: 0,
      longestStallMs: 0,
    },
    eventLoopReason: null,
    backend: 'wasm',
    entry: BOT_ENTRY,
    ...over,
  };
}

const RETRAIN: RetrainFigures = {
  seconds: 31.2,
  status: 'swapped',
  problem: null,
  version: 1,
  serving: true,
  epochs: 3,
  serverMessages: 4441,
  serverChars: 100_008,
  steps: 135,
  trainSeconds: 25.5,
  trainCharsPerSecond: 21_700,
  heldOut: { before: { server: 3.7, base: 1.07 }, after: { server: 1.5, base: 1.11 } },
  chunks: 2,
  phases: {
    prepareSeconds: 0.02,
    childStartSeconds: 0.65,
    child: { load: 0.15, scoreBefore: 0.4, workerStart: 0.66, train: 25.5, scoreAfter: 0.39 },
    childOtherSeconds: 0.06,
    gateAndSwapSeconds: 0.1,
  },
  trainerEntry:
    'node --import file:///x/tsx/dist/esm/index.mjs --max-old-space-size=1024 src/training/trainer-child.ts',
  workers: 2,
  trainerTensors: { before: 23, after: 23 },
};

const BOT_RETRAIN: BotRetrainFigures = {
  retrainSeconds: 29.9,
  resultTitle: 'New model: version 1 is talking now',
  swapped: true,
  epochs: 3,
  serverMessages: 4441,
  serverChars: 100_008,
  loop: {
    p50Ms: 0.1,
    p99Ms: 4.4,
    maxMs: 43,
    meanMs: 0.3,
    count: 6000,
    resolutionMs: 5,
    rssMb: 185,
    stallCount: 1,
    longestStallMs: 35,
  },
  windowSeconds: 30,
  stalls: [{ atSeconds: 0, ms: 35 }],
  babble: {
    rate: 20,
    sent: 600,
    answered: 600,
    failedReplies: 0,
    latencyMs: { n: 600, p50: 2.5, p99: 12, mean: 3, max: 40 },
  },
  trainerNice: 10,
  entry: BOT_ENTRY,
  trainerEntry: 'node --max-old-space-size=1024 /tmp/babble-bench-dist-x/src/training/trainer-child.js',
  workers: 2,
  trainerTensors: { before: 23, after: 23 },
  botErrorLogs: 0,
  specViolations: 0,
};

const BOT_MEMORY: BotMemoryFigures = {
  servers: 50,
  rssMb: 290,
  peakRssMb: 295,
  rssServingMb: 195,
  perServerModelMb: 1.9,
  heapUsedMb: 70,
  externalMb: 120,
  arrayBuffersMb: 50,
  answered: 50,
  ownVersion: 50,
  entry: 'node --import tsx src/main.ts',
};

const BARE: RssFigures = {
  backend: 'wasm',
  models: 51,
  rssBaselineMb: 150,
  rssAfterBaseMb: 152,
  rssNoGcMb: 252,
  rssMb: 268,
  heapUsedMb: 50,
  externalMb: 40,
  arrayBuffersMb: 40,
};

describe('report sections', () => {
  it('training: ours over PyTorch, judged against ">= 5"', () => {
    const s = trainingSection(
      { ok: true, value: TRAINING },
      { ok: true, value: { ...TORCH, steps: 10, seconds: 40 } },
      { batch: 128, seq: 32 },
      BENCH_ENTRY,
    );
    expect(s.ratio).toBe(round(TRAINING.charsPerSecond / TORCH.seq_train_target_chars_per_s, 2));
    expect(s.target).toBe(TARGETS.trainingRatio);
    expect(s.pass).toBe(true);
    const slow = trainingSection(
      { ok: true, value: { ...TRAINING, charsPerSecond: 4.9 * TORCH.seq_train_target_chars_per_s } },
      { ok: true, value: { ...TORCH, steps: 10, seconds: 40 } },
      { batch: 128, seq: 32 },
      BENCH_ENTRY,
    );
    expect(slow.pass).toBe(false);
    expect(s.tensors_leaked).toBe(0);
  });

  it('training without torch: our figure, ratio and pass null, and the reason', () => {
    const s = trainingSection(
      { ok: true, value: TRAINING },
      { ok: false, reason: 'torch does not import' },
      { batch: 128, seq: 32 },
      BENCH_ENTRY,
    );
    expect(s.chars_per_s).toBe(TRAINING.charsPerSecond);
    expect(s.torch_chars_per_s).toBeNull();
    expect(s.ratio).toBeNull();
    expect(s.pass).toBeNull();
    expect(String(s.reason)).toContain('torch does not import');
  });

  it('babble: p50 over PyTorch\'s median, judged against "<= 0.25"', () => {
    const s = babbleSection(
      { ok: true, value: BABBLE },
      { ok: true, value: TORCH },
      { seed: 'me want', length: 50, temperature: 0.7, model: 'models/base', entry: BENCH_ENTRY },
    );
    expect(s.ratio).toBe(round(BABBLE.latencyMs.p50 / TORCH.generate_50_chars_ms_median, 3));
    expect(s.pass).toBe(BABBLE.latencyMs.p50 / TORCH.generate_50_chars_ms_median <= 0.25);
    expect(s.p99_ms).toBe(BABBLE.latencyMs.p99);
  });

  it('window babble: reported with the LSTM steps it costs, never judged, its failure given as the reason', () => {
    const how = { seed: 'me want', length: 50, window: 20, temperature: 0.7, model: 'models/base' };
    const s = windowSection(
      { ok: true, value: { latencyMs: BABBLE.latencyMs, warmup: 20, minGenerated: 50, backend: 'wasm' } },
      how,
    );
    expect(s).toMatchObject({
      p50_ms: BABBLE.latencyMs.p50,
      pass: null,
      lstm_steps_per_call: 1000,
      generator_backend: 'wasm',
    });
    expect(windowSection({ ok: false, reason: 'skipped (--skip)' }, how)).toMatchObject({
      p50_ms: null,
      pass: null,
      reason: 'window: skipped (--skip)',
    });
  });

  it('discord: a small p99 does not pass when some interactions went unanswered', () => {
    expect(discordSection({ ok: true, value: discordFigures() }).pass).toBe(true);
    const lost = discordSection({ ok: true, value: discordFigures({ answered: 1990 }) });
    expect(lost.pass).toBe(false);
    expect(String(lost.reason)).toContain('10 of 2000');
    expect(
      discordSection({
        ok: true,
        value: discordFigures({ latencyMs: { n: 2000, p50: 5, p99: 15.5, mean: 6, max: 40 } }),
      }).pass,
    ).toBe(false);
    expect(discordSection({ ok: false, reason: 'skipped (--skip)' }).pass).toBeNull();
  });

  it('retrain: the time is judged against "<= 60" only for a run that swapped and is served; phases come out in seconds', () => {
    const s = retrainSection({ ok: true, value: RETRAIN }, { ok: true, value: BOT_RETRAIN }, BENCH_ENTRY);
    expect(s).toMatchObject({
      seconds: 31.2,
      target: TARGETS.retrainSeconds,
      pass: true,
      reason: null,
      status: 'swapped',
      via_bot_seconds: 29.9,
    });
    expect(s.phases_s).toMatchObject({ child_start: 0.65, child_train: 25.5, gate_and_swap: 0.1 });
    expect(s.held_out_bits_per_char).toEqual({ server: [3.7, 1.5], base: [1.07, 1.11] });
    expect(s).toMatchObject({
      entry: BENCH_ENTRY,
      trainer_entry: RETRAIN.trainerEntry,
      workers: 2,
      via_bot_entry: BOT_ENTRY,
      via_bot_trainer_entry: BOT_RETRAIN.trainerEntry,
      via_bot_workers: 2,
    });
    expect(retrainSection({ ok: true, value: { ...RETRAIN, seconds: 60.5 } }, null, BENCH_ENTRY).pass).toBe(false);
    const rejected = retrainSection(
      {
        ok: true,
        value: {
          ...RETRAIN,
          status: 'rejected',
          serving: false,
          version: null,
          problem: 'worse on the held-out baby corpus',
        },
      },
      null,
      BENCH_ENTRY,
    );
    expect(rejected.pass).toBe(false);
    expect(String(rejected.reason)).toContain('rejected (worse on the held-out baby corpus)');
    expect(retrainSection({ ok: true, value: { ...RETRAIN, serving: false } }, null, BENCH_ENTRY).pass).toBe(false);
    expect(retrainSection({ ok: false, reason: 'skipped (--skip)' }, null, BENCH_ENTRY)).toMatchObject({
      seconds: null,
      pass: null,
      reason: 'skipped (--skip)',
    });
  });

  it('event loop: the bot\'s p99 during a retrain is judged against "<= 20"; the 200/s figures ride along; null when not measured', () => {
    const e = eventLoopSection({ ok: true, value: discordFigures() }, { ok: true, value: BOT_RETRAIN });
    expect(e).toMatchObject({
      retrain_p99_ms: 4.4,
      pass: true,
      reason: null,
      trainer_nice: 10,
      bot_at_200rps_p99_ms: 6,
      entry: BOT_ENTRY,
      workers: 2,
      bot_at_200rps_entry: BOT_ENTRY,
    });
    expect(e.babble_during_retrain).toMatchObject({ sent: 600, answered: 600, p99_ms: 12 });
    expect(
      eventLoopSection(
        { ok: true, value: discordFigures() },
        { ok: true, value: { ...BOT_RETRAIN, loop: { ...BOT_RETRAIN.loop, p99Ms: 20.5 } } },
      ).pass,
    ).toBe(false);
    expect(eventLoopSection({ ok: true, value: discordFigures() })).toMatchObject({
      retrain_p99_ms: null,
      pass: null,
      reason: 'not measured',
    });
    expect(eventLoopSection({ ok: true, value: discordFigures() }, { ok: false, reason: 'error: boom' })).toMatchObject(
      { pass: null, reason: 'error: boom' },
    );
  });

  it('rss: the real bot\'s RSS is judged against "<= 300" only when every server answered from its own version; compiled and bare figures are not judged', () => {
    expect(rssSection({ ok: true, value: BOT_MEMORY }).pass).toBe(true);
    expect(rssSection({ ok: true, value: { ...BOT_MEMORY, rssMb: 300.5 } }).pass).toBe(false);
    const partial = rssSection({ ok: true, value: { ...BOT_MEMORY, ownVersion: 49 } });
    expect(partial.pass).toBe(false);
    expect(String(partial.reason)).toContain('49 on their own version');
    const s = rssSection(
      { ok: true, value: { ...BOT_MEMORY, rssMb: 312 } },
      { ok: true, value: { ...BOT_MEMORY, rssMb: 231, entry: 'dist' } },
      { ok: true, value: BARE },
    );
    expect(s).toMatchObject({
      rss_mb: 312,
      pass: false,
      alt_rss_mb: 231,
      alt_meets_target: true,
      bare_process_rss_mb: 268,
      bare_process_per_extra_model_mb: 2,
    });
    expect(rssSection({ ok: false, reason: 'skipped (--skip)' })).toMatchObject({
      rss_mb: null,
      pass: null,
      alt_rss_mb: null,
      bare_process_rss_mb: null,
    });
  });

  it('event loop: a good p99 does not pass with too many stalls or too long a stall; the stalls are counted at 20 ms', () => {
    const withLoop = (loop: Partial<BotRetrainFigures['loop']>) =>
      eventLoopSection(
        { ok: true, value: discordFigures() },
        { ok: true, value: { ...BOT_RETRAIN, loop: { ...BOT_RETRAIN.loop, ...loop } } },
      );
    expect(withLoop({ stallCount: 5, longestStallMs: 50 })).toMatchObject({
      pass: true,
      retrain_stall_count: 5,
      retrain_longest_stall_ms: 50,
      stall_threshold_ms: 20,
    });
    const many = withLoop({ stallCount: 6 });
    expect(many).toMatchObject({ pass: false, stalls_target: TARGETS.eventLoopStalls });
    expect(String(many.reason)).toContain('6 stalls over 20 ms');
    const long = withLoop({ longestStallMs: 50.5 });
    expect(long.pass).toBe(false);
    expect(String(long.reason)).toContain('longest stall 50.5 ms');
    expect(withLoop({ p99Ms: 25, stallCount: 9 }).reason).toMatch(/p99 25 ms.*9 stalls/);
  });

  it("trainer_tensors: the trainer child's count after its training steps must equal the count before", () => {
    const s = trainerTensorsSection({ ok: true, value: RETRAIN }, { ok: true, value: BOT_RETRAIN });
    expect(s).toMatchObject({
      before: 23,
      after: 23,
      leaked: 0,
      pass: true,
      reason: null,
      entry: RETRAIN.trainerEntry,
      workers: 2,
      via_bot_after: 23,
    });
    expect(
      trainerTensorsSection({ ok: true, value: { ...RETRAIN, trainerTensors: { before: 23, after: 41 } } }),
    ).toMatchObject({ leaked: 18, pass: false });
    expect(
      trainerTensorsSection({ ok: true, value: { ...RETRAIN, status: 'failed', trainerTensors: null } }),
    ).toMatchObject({ pass: null, reason: 'no tensor record (retrain failed)' });
    expect(trainerTensorsSection({ ok: false, reason: 'skipped (--skip)' })).toMatchObject({
      pass: null,
      reason: 'skipped (--skip)',
    });
  });

  const startRuns = (command: string, starts: OneStart[]) => ({
    command,
    starts,
    identifyMs: summarize(starts.map((s) => s.identifyMs)),
    firstBabbleMs: summarize(starts.map((s) => s.firstBabbleMs)),
    cpuAtIdentifyMs: summarize(starts.map((s) => s.cpuAtIdentifyMs!)),
  });
  const starts = (identify: number[], babble: number[]): OneStart[] =>
    identify.map((ms, i) => ({ identifyMs: ms, firstBabbleMs: babble[i]!, cpuAtIdentifyMs: 900 }));

  it('startup: judges the medians of npm start (the first command) against 2 s, and reports the other command', () => {
    const value: StartupFigures = {
      buildSeconds: null,
      runs: [
        startRuns('npm start', starts([1500, 1900, 2500, 1200, 1700], [1600, 2000, 2600, 1300, 1800])),
        startRuns('node dist/src/main.js', starts([900, 1000, 1100, 800, 950], [1000, 1100, 1200, 900, 1050])),
      ],
    };
    const s = startupSection({ ok: true, value });
    expect(s).toMatchObject({
      command: 'npm start',
      identify_median_ms: 1700,
      identify_max_ms: 2500,
      first_babble_median_ms: 1800,
      pass: true,
    });
    expect(s.others).toEqual([expect.objectContaining({ command: 'node dist/src/main.js', identify_median_ms: 950 })]);
    const slowBabble = {
      ...value,
      runs: [startRuns('npm start', starts([1500, 1500, 1500], [2100, 2100, 1900])), value.runs[1]!],
    };
    expect(startupSection({ ok: true, value: slowBabble }).pass).toBe(false);
    expect(startupSection({ ok: false, reason: 'skipped (--skip)' })).toMatchObject({
      pass: null,
      identify_median_ms: null,
      reason: 'skipped (--skip)',
    });
  });

  it('every section has a target or a reason and a pass key, survives JSON, and failures() names only pass:false', () => {
    const sections = {
      training: trainingSection(
        { ok: true, value: TRAINING },
        { ok: false, reason: 'skipped' },
        { batch: 128, seq: 32 },
        BENCH_ENTRY,
      ),
      babble_50: babbleSection(
        { ok: true, value: BABBLE },
        { ok: false, reason: 'skipped' },
        { seed: 'me want', length: 50, temperature: 0.7, model: 'models/base', entry: BENCH_ENTRY },
      ),
      discord_babble_200rps: discordSection({ ok: true, value: discordFigures({ answered: 1 }) }),
      retrain_100k: retrainSection({ ok: false, reason: 'skipped' }, null, BENCH_ENTRY),
      event_loop: eventLoopSection({ ok: false, reason: 'skipped' }, { ok: true, value: BOT_RETRAIN }),
      rss_mb_base_plus_50: rssSection({ ok: false, reason: 'skipped' }),
      trainer_tensors: trainerTensorsSection({ ok: true, value: RETRAIN }),
      startup: startupSection({ ok: false, reason: 'skipped' }),
    };
    for (const s of Object.values(sections)) {
      expect(s).toHaveProperty('pass');
      expect('target' in s || 'reason' in s).toBe(true);
    }
    expect(JSON.parse(JSON.stringify(sections))).toEqual(sections);
    expect(failures(sections)).toEqual(['discord_babble_200rps']);
  });
});

describe("contention (other processes' CPU)", () => {
  it('reads busy ticks (steal included) and all ticks from the cpu line of /proc/stat', () => {
    const text = 'cpu  100 5 20 300 7 1 2 3 0 0\ncpu0 50 0 10 150 3 0 1 1 0 0\n';
    expect(parseProcStat(text)).toEqual({ busy: 100 + 5 + 20 + 1 + 2 + 3, all: 100 + 5 + 20 + 1 + 2 + 3 + 300 + 7 });
    expect(() => parseProcStat('intr 1 2 3')).toThrow(/no cpu line/);
  });

  it("sums utime, stime and the reaped children's cutime and cstime, even with spaces and parentheses in the name", () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3)); // field n holds n, from field 3 on
    const text = `4242 (node (a b)) ${fields.join(' ')}`;
    expect(parseSelfStat(text)).toBe(14 + 15 + 16 + 17);
    expect(() => parseSelfStat('4242 (x) R 1 2')).toThrow(/unexpected format/);
  });

  it('counts the busy ticks that were not ours, in cores, and null without samples', () => {
    const before = { busy: 1000, all: 4000, own: 200 };
    // 2 cores, 400 ticks passed (200 per core); the machine was busy 300 of them, 100 were ours
    const after = { busy: 1300, all: 4400, own: 300 };
    expect(otherCores(before, after, 2)).toBe(1);
    expect(otherCores(before, { ...after, own: 600 }, 2)).toBe(0);
    expect(otherCores(null, after, 2)).toBeNull();
  });
});

describe('serverLikeText', () => {
  const base = ['me want cookie', 'bye bye daddy', 'me see froggy'];

  it('gives at least the characters asked for, at most one message more, all distinct and none a base corpus line', () => {
    const messages = serverLikeText(20_000, base, 3);
    const chars = textChars(messages);
    expect(chars).toBeGreaterThanOrEqual(20_000);
    expect(chars - messages.at(-1)!.length - 1).toBeLessThan(20_000);
    expect(new Set(messages).size).toBe(messages.length);
    for (const b of base) expect(messages).not.toContain(b);
  });

  it("is the same for a seed and different for another, and mixes baby talk with the server's own words", () => {
    expect(serverLikeText(5_000, base, 1)).toEqual(serverLikeText(5_000, base, 1));
    expect(serverLikeText(5_000, base, 2)).not.toEqual(serverLikeText(5_000, base, 1));
    const babyWords = new Set(
      serverLikeText(30_000, [], 9)
        .filter((_, i) => i % 2 === 0)
        .flatMap((m) => wordsOf(m)),
    );
    const chatter = serverLikeText(30_000, [], 9).filter((_, i) => i % 2 === 1);
    const withNewWords = chatter.filter((m) => wordsOf(m).some((w) => !babyWords.has(w))).length;
    expect(withNewWords / chatter.length).toBeGreaterThan(0.5);
  });

  it('refuses a non-positive size', () => {
    expect(() => serverLikeText(0, base)).toThrow(RangeError);
  });

  it('counts a newline after each message', () => {
    expect(textChars(['ab', 'c'])).toBe(5);
  });
});

describe('/proc readers', () => {
  it('reads the nice value (field 19) of /proc/<pid>/stat, even with spaces and parentheses in the name', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[19 - 3] = '10';
    expect(niceOf(`77 (node (x y)) ${fields.join(' ')}`)).toBe(10);
    fields[19 - 3] = '-5';
    expect(niceOf(`77 (node) ${fields.join(' ')}`)).toBe(-5);
    expect(niceOf('77 (node) R 1')).toBeNull();
  });

  it('reads a command line from /proc/<pid>/cmdline, with paths inside the repository made relative', () => {
    const cmdline = [
      '/usr/bin/node',
      '--max-old-space-size=1024',
      '/repo/dist/src/training/trainer-child.js',
      '/tmp/x.js',
      '',
    ].join('\0');
    expect(commandLineOf(cmdline, '/repo')).toBe(
      'node --max-old-space-size=1024 dist/src/training/trainer-child.js /tmp/x.js',
    );
  });

  it('reads VmRSS and VmHWM in MB from /proc/<pid>/status, and refuses a text without them', () => {
    const text = 'Name:\tnode\nVmHWM:\t  327680 kB\nVmRSS:\t  262144 kB\nThreads:\t11\n';
    expect(parseProcStatus(text)).toEqual({ rssMb: 256, hwmMb: 320 });
    expect(() => parseProcStatus('Name:\tnode\n')).toThrow(/VmRSS|VmHWM/);
  });
});
