/**
 * server_voice: does a retrained baby talk like its server? The production retrain path (createRetrainManager, a
 * registry in a temporary folder, the forked trainer child, the quality gate, the swap) on the scripted server of
 * voice-text.ts (300 messages, two new words), for `minutes` at a strength (default: the bot's default), then the
 * served model's uptake (src/model/uptake.ts): the share of `"me want "` babbles using a new word (the target ≥ 30 %),
 * known words, and the held-out baby corpus figure against the gate's tolerance for that strength.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { measureUptake, type UptakeReport } from '../src/model/uptake.js';
import { createModelCache } from '../src/service/model-cache.js';
import { createRegistry } from '../src/service/registry.js';
import { DEFAULT_TRAIN_EPOCHS } from '../src/config.js';
import type { HeldOutFigures } from '../src/training/trainer-protocol.js';
import { outcomeProblem } from './retrain.js';
import { createRetrainManager, loadBaseCorpus, type TrainingSettings } from '../src/service/retrain.js';
import { DEFAULT_STRENGTH, STRENGTH_SPECS, type Strength } from '../src/training/server-share.js';
import type { Outcome, Section } from './report.js';
import { meets } from './stats.js';
import { voiceServerText } from './voice-text.js';

export const VOICE_SCOPE = '4200000000000000015';
/** The gate's tolerance as the bot's default (TRAIN_GATE_TOLERANCE). */
export const VOICE_GATE_TOLERANCE = 0.05;

export interface RunFigures {
  status: string;
  problem: string | null;
  seconds: number;
  steps: number | null;
  trainSeconds: number | null;
  heldOut: { before: HeldOutFigures; after: HeldOutFigures } | null;
  baseTolerance: number | null;
  gateSamples: { wordShare: number; shortShare: number; parrotShare: number } | null;
  /** Uptake of the model serving afterwards: "me want " babbles, and the default uptake seeds with the openings. */
  meWant: UptakeReport['perSeed'][number] | null;
  meWantKnownWordShare: number;
  uptake: UptakeReport | null;
}

export interface VoiceFigures {
  strength: Strength;
  share: number;
  minutes: number;
  serverMessages: number;
  /** One run, or two in a row (the second continues from the first's version). */
  runs: RunFigures[];
}

/** Retrains the scripted server `runs` times in a row and measures the served model after each. */
export async function measureServerVoice(opts: {
  root: string;
  modelDir: string;
  minutes: number;
  strength?: Strength;
  runs?: number;
  samples?: number;
  training?: TrainingSettings;
  log: (line: string) => void;
}): Promise<VoiceFigures> {
  const strength = opts.strength ?? DEFAULT_STRENGTH;
  const samples = opts.samples ?? 200;
  const work = await mkdtemp(path.join(tmpdir(), 'babble-bench-voice-'));
  try {
    const baseCorpus = await loadBaseCorpus(path.join(opts.root, 'data/corpus.txt'));
    const messages = voiceServerText();
    const registry = createRegistry({ root: path.join(work, 'models') });
    await registry.init();
    const models = createModelCache({ registry, baseDir: opts.modelDir });
    const manager = createRetrainManager({
      registry,
      models,
      baseModelDir: opts.modelDir,
      baseCorpus,
      trainingText: () => Promise.resolve(messages),
      gate: { tolerance: VOICE_GATE_TOLERANCE },
      defaultEpochs: DEFAULT_TRAIN_EPOCHS, // as the bot runs it (TRAIN_DEFAULT_EPOCHS)
      ...(opts.training ? { training: opts.training } : {}),
    });
    const runs: RunFigures[] = [];
    try {
      for (let i = 0; i < (opts.runs ?? 1); i++) {
        opts.log(
          `  server_voice: run ${i + 1}, ${messages.length} messages, ${opts.minutes} min, strength ${strength}`,
        );
        const t0 = performance.now();
        const outcome = await manager.start({
          scope: VOICE_SCOPE,
          minutes: opts.minutes,
          strength,
          requestedBy: 'bench',
        }).job.result;
        const seconds = (performance.now() - t0) / 1000;
        const trained = outcome.status === 'swapped' || outcome.status === 'rejected' ? outcome : null;
        const served = await models.modelFor(VOICE_SCOPE);
        const generate = (seed: string, o: { temperature: number; length: number; rng: number }) =>
          served.model.generate(seed, { ...o, stopAtEndOfUtterance: true });
        const text = { serverLines: messages, baseLines: baseCorpus };
        const meWant = await measureUptake(generate, text, {
          seeds: ['me want '],
          samplesPerSeed: samples,
          openings: 0,
        });
        const uptake = await measureUptake(generate, text, { samplesPerSeed: Math.ceil(samples / 4) });
        opts.log(
          `  server_voice: ${outcome.status}, "me want " with a new word ${(meWant.newWordShare * 100).toFixed(1)}%, known words ${(meWant.knownWordShare * 100).toFixed(1)}%`,
        );
        runs.push({
          status: outcome.status,
          problem: outcomeProblem(outcome),
          seconds,
          steps: trained?.steps ?? null,
          trainSeconds: trained?.seconds ?? null,
          heldOut: trained?.heldOut ?? null,
          baseTolerance: trained?.gate.baseTolerance ?? null,
          gateSamples: trained
            ? {
                wordShare: trained.gate.samples.wordShare,
                shortShare: trained.gate.samples.shortShare,
                parrotShare: trained.gate.samples.parrotShare,
              }
            : null,
          meWant: meWant.perSeed[0] ?? null,
          meWantKnownWordShare: meWant.knownWordShare,
          uptake,
        });
      }
    } finally {
      await manager.close();
    }
    return {
      strength,
      share: STRENGTH_SPECS[strength].share,
      minutes: opts.minutes,
      serverMessages: messages.length,
      runs,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export const VOICE_TARGETS = { meWantNewWordShare: '>= 0.3', knownWordShare: '>= 0.9' } as const;

const r3 = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 1000) / 1000;

/** The JSON section: judged on the (last) run: swapped, "me want " uptake, known words, base rise within tolerance. */
export function serverVoiceSection(v: Outcome<VoiceFigures>): Section {
  const figures = v.ok ? v.value : null;
  const runs = figures?.runs ?? [];
  const last = runs.at(-1) ?? null;
  const rise =
    last?.heldOut?.before.base !== null && last?.heldOut?.after.base !== null && last?.heldOut
      ? last.heldOut.after.base! - last.heldOut.before.base!
      : null;
  const checks = last
    ? {
        swapped: last.status === 'swapped',
        me_want_uptake: meets(last.meWant?.share ?? null, VOICE_TARGETS.meWantNewWordShare),
        known_words: meets(last.meWantKnownWordShare, VOICE_TARGETS.knownWordShare),
        base_rise_within_tolerance: rise !== null && last.baseTolerance !== null ? rise <= last.baseTolerance : null,
      }
    : null;
  const judged = checks ? Object.values(checks) : [];
  return {
    me_want_new_word_share: r3(last?.meWant?.share),
    target: VOICE_TARGETS.meWantNewWordShare,
    pass: checks === null ? null : judged.every((c) => c === true),
    reason: !v.ok
      ? v.reason
      : checks && !judged.every((c) => c === true)
        ? `missed: ${Object.entries(checks)
            .filter(([, c]) => c !== true)
            .map(([k]) => k)
            .join(', ')}${last?.problem ? ` (${last.problem})` : ''}`
        : null,
    checks,
    strength: figures?.strength ?? null,
    server_share: figures?.share ?? null,
    minutes: figures?.minutes ?? null,
    server_messages: figures?.serverMessages ?? null,
    runs: runs.map((r) => ({
      status: r.status,
      seconds: r3(r.seconds),
      steps: r.steps,
      train_seconds: r3(r.trainSeconds),
      me_want_new_word_share: r3(r.meWant?.share),
      me_want_samples: r.meWant?.samples ?? null,
      known_word_share: r3(r.meWantKnownWordShare),
      known_word_target: VOICE_TARGETS.knownWordShare,
      held_out_bits_per_char: r.heldOut
        ? {
            server: [r3(r.heldOut.before.server), r3(r.heldOut.after.server)],
            base: [r3(r.heldOut.before.base), r3(r.heldOut.after.base)],
          }
        : null,
      base_tolerance: r.baseTolerance,
      gate_samples: r.gateSamples
        ? {
            word_share: r3(r.gateSamples.wordShare),
            short_share: r3(r.gateSamples.shortShare),
            parrot_share: r3(r.gateSamples.parrotShare),
          }
        : null,
      new_word_share_all_seeds: r3(r.uptake?.newWordShare),
      used: r.uptake?.used ?? null,
      openings:
        r.uptake?.openings.map((o) => ({ opening: o.opening, exact: r3(o.exact), first_word: r3(o.firstWord) })) ??
        null,
      examples: r.uptake?.examples ?? null,
    })),
  };
}
