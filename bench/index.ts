/**
 * npm run bench -- [--quick] [--strict] [--strength S]
 *   [--skip torch,training,babble,window,memory,discord,retrain,bot-retrain,bot-memory,compiled,startup,server-voice,
 *   ingest]
 *
 * Measures, one after the other (never two at once, they would share the cores), and prints ONE JSON object on
 * stdout (progress on stderr):
 *  - training: target chars/s of BabyLanguageModel.train (the `npm run train` path) on data/corpus.txt, batch 128 ×
 *    seq 32, after warm-up steps; the PyTorch reference (bench/torch_reference.py) in the same run; ratio
 *    ("skipped: torch not installed" when /usr/bin/python3 has no torch).
 *  - babble_50: 50-character generate() p50/p99 with models/base (else a fresh model); ratio to PyTorch's median.
 *  - babble_50_window_20: the same 50 characters in window mode (an imported Keras model's generation) with a window
 *    of 20: 1,000 LSTM steps per call, through the same WebAssembly kernels; reported, no target.
 *  - discord_babble_200rps: /babble end to end, the real entry point as a child process, against the fake Discord.
 *    Every section that runs the bot runs it as `npm start` does (node …/src/main.js, compiled by tsc into a
 *    temporary folder first: compiled.ts), except bot-memory's comparison run from sources under tsx.
 *  - retrain_100k: createRetrainManager on ~100k chars of server-like text, start() → new version serving (retrain.ts).
 *  - event_loop: the bot's event-loop delay during a /retrain with a light /babble load (bot-retrain.ts), judged on
 *    its p99 and its stalls (count and longest), and during the 200/s load.
 *  - rss_mb_base_plus_50: the real bot's RSS with the base and 50 server models loaded (bot-memory.ts), compiled
 *    as npm start runs it (compiled.ts; judged) and from sources under tsx; a bare process with the same models
 *    (memory.ts) for comparison.
 *  - trainer_tensors: tf.memory().numTensors in the trainer child before and after its training steps.
 * Every section records its `entry` (how what it measured was started) and `workers` (gradient threads).
 *  - server_voice: a 2-minute /retrain of the scripted 300-message server at a strength, then its uptake (server-voice.ts).
 * Exit 0 even when a target is missed (pass:false), unless --strict; exit 2 on bad arguments.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/model/backend.js';
import { parseBenchArgs, planFor, type BenchArgs, type Section as SectionName } from './args.js';
import {
  BABBLE_LENGTH,
  BABBLE_SEED,
  BABBLE_TEMPERATURE,
  WINDOW,
  measureBabble,
  measureWindowBabble,
  type BabbleFigures,
  type WindowFigures,
} from './babble.js';
import { measureBotMemory, type BotMemoryFigures } from './bot-memory.js';
import { measureBotRetrain, type BotRetrainFigures } from './bot-retrain.js';
import { compileProject, type CompiledBot } from './compiled.js';
import { measureDiscord, type BotEntry, type DiscordFigures } from './discord.js';
import { measureRss, type RssFigures } from './memory.js';
import { otherCores, sampleCpu } from './contention.js';
import { snapshotBaseModel, type ModelDir } from './model-dir.js';
import {
  babbleSection,
  windowSection,
  discordSection,
  eventLoopSection,
  failures,
  retrainSection,
  rssSection,
  startupSection,
  trainerTensorsSection,
  trainingSection,
  TARGETS,
  type Outcome,
  type Section,
} from './report.js';
import { ingestSection, measureIngest, type IngestFigures } from './ingest.js';
import { measureMultiHost, multiHostSection, type MultiHostFigures } from './multi-host.js';
import { measureTeachFlood, teachFloodSection, type TeachFloodFigures } from './teach-flood.js';
import { measureRetrain, type RetrainFigures } from './retrain.js';
import { measureStartup, type StartupFigures } from './startup.js';
import { STALL_MS } from './stats.js';
import { measureServerVoice, serverVoiceSection, type VoiceFigures } from './server-voice.js';
import { STRENGTH_SPECS } from '../src/training/server-share.js';
import { runTorchReference, type TorchFigures } from './torch.js';
import { measureTraining, type TrainingFigures } from './training.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CORPUS = 'data/corpus.txt';
const TORCH_SCRIPT = 'bench/torch_reference.py';
const BATCH = 128;
const SEQ = 32;
const RATE = 200;

const log = (line: string) => process.stderr.write(`${line}\n`);

/** The bench process's own command line (the in-process sections run here): tsx when its loader is in. */
const BENCH_ENTRY = `${process.execArgv.some((a) => a.includes('tsx')) ? 'tsx' : 'node'} bench/index.ts (the bench process)`;

/** Cores other processes used, on average, during each section (null: not on Linux). */
const contention: Partial<Record<SectionName, number | null>> = {};

async function attempt<T>(
  name: SectionName,
  args: BenchArgs,
  run: () => Promise<T>,
  skipReason = 'skipped (--skip)',
): Promise<Outcome<T>> {
  if (args.skip.has(name)) {
    log(`${name}: skipped`);
    return { ok: false, reason: name === 'torch' && args.quick ? 'skipped (--quick)' : skipReason };
  }
  const started = performance.now();
  const before = sampleCpu();
  log(`${name}: measuring…`);
  try {
    const value = await run();
    log(`${name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return { ok: true, value };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`${name}: FAILED: ${error instanceof Error ? (error.stack ?? message) : message}`);
    return { ok: false, reason: `error: ${message}` };
  } finally {
    const cores = otherCores(before, sampleCpu(), os.cpus().length);
    contention[name] = cores === null ? null : Math.round(cores * 100) / 100;
  }
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

async function main(): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    log((error as Error).message);
    return 2;
  }
  // stdout carries only the JSON: anything a library logs goes to stderr.
  console.log = (...a: unknown[]) => console.error(...a);
  console.info = (...a: unknown[]) => console.error(...a);
  process.chdir(ROOT);
  const plan = planFor(args);
  const started = performance.now();
  const cpus = os.cpus();
  const loadAtStart = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const backend = await initBackend();
  log(`backend: ${backend.name} (${backend.reason}); ${args.quick ? 'QUICK mode' : 'full run'}`);

  const training = await attempt<TrainingFigures>('training', args, () =>
    measureTraining({
      corpus: CORPUS,
      batchSize: BATCH,
      seqLength: SEQ,
      warmupSteps: plan.trainWarmup,
      timedSteps: plan.trainSteps,
      log,
    }),
  );

  const torch = await attempt<TorchFigures & { steps: number; seconds: number }>('torch', args, async () => {
    const r = await runTorchReference({
      root: ROOT,
      script: TORCH_SCRIPT,
      corpus: CORPUS,
      batch: BATCH,
      seq: SEQ,
      steps: plan.torchSteps,
    });
    if (!r.ok) throw new Error(r.reason);
    return { ...r.figures, steps: r.steps, seconds: r.seconds };
  });
  // torch missing is not a failure of ours: report null with the reason.
  const torchOutcome: Outcome<TorchFigures & { steps: number; seconds: number }> = torch.ok
    ? torch
    : { ok: false, reason: torch.reason.replace(/^error: /, '') };

  const needDir = (
    [
      'babble',
      'window',
      'memory',
      'discord',
      'retrain',
      'bot-retrain',
      'bot-memory',
      'startup',
      'server-voice',
      'multi-host',
      'teach-flood',
    ] as const
  ).some((n) => !args.skip.has(n));
  let modelDir: ModelDir | undefined;
  let modelProblem = 'no model';
  if (needDir) {
    try {
      modelDir = await snapshotBaseModel(ROOT);
      log(`model: ${modelDir.source}`);
    } catch (error) {
      modelProblem = `could not load models/base: ${(error as Error).message}`;
      log(modelProblem);
    }
  }
  const withModel =
    <T>(run: (dir: string) => Promise<T>) =>
    () =>
      modelDir ? run(modelDir.dir) : Promise.reject(new Error(modelProblem));
  // The bot runs as npm start runs it: compiled, from the sources as they are now (not whatever dist/ holds).
  let compiled: CompiledBot | undefined;
  let compileProblem = 'not compiled';
  if ((['discord', 'bot-retrain', 'compiled', 'multi-host', 'teach-flood'] as const).some((n) => !args.skip.has(n))) {
    try {
      compiled = await compileProject(ROOT);
      log(`compiled the project with tsc in ${compiled.seconds.toFixed(1)} s`);
    } catch (error) {
      compileProblem = `could not compile the bot: ${(error as Error).message}`;
      log(compileProblem);
    }
  }
  const withBot = <T>(run: (dir: string, entry: BotEntry) => Promise<T>) =>
    withModel((dir) => (compiled ? run(dir, { distDir: compiled.dir }) : Promise.reject(new Error(compileProblem))));
  let babble: Outcome<BabbleFigures>;
  let windowBabble: Outcome<WindowFigures>;
  let memory: Outcome<RssFigures>;
  let discord: Outcome<DiscordFigures>;
  let retrain: Outcome<RetrainFigures>;
  let botRetrain: Outcome<BotRetrainFigures>;
  let botMemory: Outcome<BotMemoryFigures>;
  let compiledMemory: Outcome<BotMemoryFigures>;
  let startup: Outcome<StartupFigures>;
  let voice: Outcome<VoiceFigures>;
  let ingest: Outcome<IngestFigures>;
  let multiHost: Outcome<MultiHostFigures>;
  let teachFlood: Outcome<TeachFloodFigures>;
  try {
    babble = await attempt<BabbleFigures>(
      'babble',
      args,
      withModel((dir) => measureBabble({ modelDir: dir, warmup: plan.babbleWarmup, samples: plan.babbleSamples, log })),
    );
    windowBabble = await attempt<WindowFigures>(
      'window',
      args,
      withModel((dir) =>
        measureWindowBabble({ modelDir: dir, warmup: plan.babbleWarmup / 10, samples: plan.babbleSamples / 10, log }),
      ),
    );
    memory = await attempt<RssFigures>(
      'memory',
      args,
      withModel((dir) => measureRss({ root: ROOT, modelDir: dir, copies: plan.serverModels })),
    );
    discord = await attempt<DiscordFigures>(
      'discord',
      args,
      withBot((dir, entry) =>
        measureDiscord({ entry, modelDir: dir, rate: RATE, count: plan.discordCount, warmup: plan.discordWarmup, log }),
      ),
    );
    retrain = await attempt<RetrainFigures>(
      'retrain',
      args,
      withModel((dir) =>
        measureRetrain({ root: ROOT, modelDir: dir, chars: plan.retrainChars, epochs: plan.retrainEpochs, log }),
      ),
    );
    botRetrain = await attempt<BotRetrainFigures>(
      'bot-retrain',
      args,
      withBot((dir, entry) =>
        measureBotRetrain({
          root: ROOT,
          entry,
          modelDir: dir,
          chars: plan.retrainChars,
          epochs: plan.retrainEpochs,
          rate: plan.retrainBabbleRate,
          log,
        }),
      ),
    );
    botMemory = await attempt<BotMemoryFigures>(
      'bot-memory',
      args,
      withModel((dir) =>
        measureBotMemory({ root: ROOT, entry: { fromSources: true }, modelDir: dir, servers: plan.serverModels, log }),
      ),
    );
    compiledMemory = await attempt<BotMemoryFigures>(
      'compiled',
      args,
      withBot((dir, entry) => measureBotMemory({ root: ROOT, entry, modelDir: dir, servers: plan.serverModels, log })),
    );
    startup = await attempt<StartupFigures>(
      'startup',
      args,
      withModel((dir) => measureStartup({ root: ROOT, modelDir: dir, starts: plan.startups, log })),
    );
    voice = await attempt<VoiceFigures>(
      'server-voice',
      args,
      withModel((dir) =>
        measureServerVoice({ root: ROOT, modelDir: dir, minutes: plan.voiceMinutes, strength: args.strength, log }),
      ),
    );
    multiHost = await attempt<MultiHostFigures>(
      'multi-host',
      args,
      withBot((dir, entry) =>
        'distDir' in entry
          ? measureMultiHost({
              root: ROOT,
              distDir: entry.distDir,
              modelDir: dir,
              chars: plan.retrainChars,
              epochs: plan.retrainEpochs,
              rate: 200,
              log,
            })
          : Promise.reject(new Error('the multi-host bed runs the compiled bot only')),
      ),
    );
    teachFlood = await attempt<TeachFloodFigures>(
      'teach-flood',
      args,
      withBot((dir, entry) =>
        measureTeachFlood({ entry, modelDir: dir, megabytes: 50, teachRate: 1000, rate: 200, log }),
      ),
    );
    ingest = await attempt<IngestFigures>('ingest', args, () =>
      measureIngest({ messages: args.quick ? 500 : 3000, log }),
    );
  } finally {
    await compiled?.remove();
    await modelDir?.remove();
  }

  const sections: Record<string, Section> = {
    training: trainingSection(training, torchOutcome, { batch: BATCH, seq: SEQ }, BENCH_ENTRY),
    babble_50: babbleSection(babble, torchOutcome, {
      seed: BABBLE_SEED,
      length: BABBLE_LENGTH,
      temperature: BABBLE_TEMPERATURE,
      model: modelDir?.source ?? null,
      entry: BENCH_ENTRY,
    }),
    babble_50_window_20: windowSection(windowBabble, {
      seed: BABBLE_SEED,
      length: BABBLE_LENGTH,
      window: WINDOW,
      temperature: BABBLE_TEMPERATURE,
      model: modelDir?.source ?? null,
    }),
    discord_babble_200rps: discordSection(discord),
    retrain_100k: retrainSection(retrain, botRetrain, BENCH_ENTRY),
    event_loop: eventLoopSection(discord, botRetrain),
    rss_mb_base_plus_50: rssSection(compiledMemory, botMemory, memory),
    trainer_tensors: trainerTensorsSection(retrain, botRetrain),
    startup: startupSection(startup),
    server_voice: serverVoiceSection(voice),
    ingest: ingestSection(ingest),
    multi_host: multiHostSection(multiHost),
    teach_flood: teachFloodSection(teachFlood),
  };
  const failed = failures(sections);
  const errors = [
    training,
    babble,
    windowBabble,
    memory,
    discord,
    retrain,
    botRetrain,
    botMemory,
    compiledMemory,
    startup,
    voice,
    ingest,
    multiHost,
    teachFlood,
  ].filter((o) => !o.ok && o.reason.startsWith('error:')).length;

  const notes: string[] = [
    `Noisy: ${cpus.length} cores shared with whatever else runs (load average at start ${loadAtStart.join(' / ')}); PyTorch and ours run one after the other in this same run, so the ratios compare like with like.`,
    `training: BabyLanguageModel.train (the npm run train path → train() in src/training/train.ts) on ${CORPUS}, batch ${BATCH} × seq ${SEQ}, scheme seq; chars/s over ${plan.trainSteps} steps after ${plan.trainWarmup} warm-up steps, from per-step progress reports. PyTorch: torch_reference.py --steps ${plan.torchSteps} (its own 3 warm-up steps), its seq_train_target_chars_per_s.`,
    `babble_50: generate('${BABBLE_SEED}', { length: ${BABBLE_LENGTH}, temperature: ${BABBLE_TEMPERATURE}, rng: i }) — primes '\\n' + ${BABBLE_SEED.length} seed characters, then generates exactly ${BABBLE_LENGTH} (PyTorch: 1 character primed, 50 generated, median of 25).`,
    `discord_babble_200rps: the real entry point as npm start runs it (node <tsc output>/src/main.js, compiled from the current sources into a temporary folder at the start of the run; LOG_LEVEL=info, the shipped default) as a child process against test/fake-discord in the bench process; reply rate limits off (RATE_LIMIT_USER_REPLIES=0, RATE_LIMIT_SERVER_REPLIES=0) so that every /babble generates (an ephemeral answer — a refusal — does not count as answered); /babble with a seed and rng (default length 60, stops at end of utterance); latency = dispatch of INTERACTION_CREATE → the fake has received the reply carrying the text (type-4 callback, or the edit after a type-5 defer); open loop at ${RATE}/s after ${plan.discordWarmup} warm-up interactions. The fake (and its OpenAPI body validation) and the bot share the 2 cores, so this is pessimistic.`,
    `retrain_100k: the production retrain path in the bench process — createRetrainManager with a registry in a temporary folder, a model cache over the base model, data/corpus.txt as base corpus, the forked trainer child (2 gradient threads, the default) and the quality gate — on ${plan.retrainChars.toLocaleString('en')} characters of server-like messages (bench/server-text.ts: half baby talk from the corpus templates with other seeds, no line of data/corpus.txt, half server chatter in baby grammar with the server's own words). Budget: /retrain epochs ${plan.retrainEpochs} (epochs over the server text mixed with as much base corpus; minutes stay at the 30-minute maximum). Clock: start() → outcome swapped; new_version_serving checks the model cache afterwards. phases_s: child_* from the child's own record (meta.json training.phaseSeconds), the others from timestamps around the trainer call. via_bot_seconds: the same retrain through the bot (event_loop's run), /retrain dispatch → the result message.`,
    `event_loop: retrain_* measured inside the bot (bench/loop-probe.ts preload: monitorEventLoopDelay at 5 ms, the resolution taken off; stalls = a 10 ms JS timer waking ≥ ${STALL_MS} ms late, with when; judged on p99 ${TARGETS.eventLoopP99Ms} ms, stall count ${TARGETS.eventLoopStalls} and longest stall ${TARGETS.eventLoopLongestStallMs} ms, all three) from the dispatch of /retrain start epochs:${plan.retrainEpochs} (a member with Manage Server) to the result message, the server's ${plan.retrainChars.toLocaleString('en')} characters collected beforehand into the bot's SQLite storage through the collection service; meanwhile /babble at ${plan.retrainBabbleRate}/s in another server (12 members in turn), babble_during_retrain its latencies. trainer_nice: the trainer child's nice value (/proc/<pid>/stat). bot_at_200rps_* over the 200/s load only (no retrain).`,
    `rss_mb_base_plus_50: the REAL bot compiled by tsc and run as node <tsc output>/src/main.js, as npm start runs it (loop probe preloaded) with ${plan.serverModels} guilds in the fake Discord, each with its own version 1 committed through the registry (a copy of the base model's files; MODELS_DIR/<guild>/1 + current), MODEL_CACHE_SIZE=${plan.serverModels + 1}; one /babble in each guild, then VmRSS (and VmHWM = peak_rss_mb) from /proc/<pid>/status; /model info in each guild afterwards confirms its own version. alt_*: the same bot run from sources under tsx (node --import tsx src/main.ts, the way the tests start it), not judged. bare_process_*: a process holding only the backend and the same ${plan.serverModels + 1} models (no discord.js, no bot), the larger of its readings before and after a full gc, not judged.`,
    `trainer_tensors: tf.memory().numTensors on the trainer child's main thread right before its first training step and after its last (recorded in the new version's meta.json training.tensors), in retrain_100k's trainer (judged ${TARGETS.trainerTensorsLeaked}) and in the bot's (via_bot_*). The gradient worker thread has its own tfjs engine, not counted. training.tensors_leaked is the same count around BabyLanguageModel.train in the bench process. Generation uses no tensors (typed arrays and a WebAssembly kernel), so it has no count.`,
    "entry: how what a section measured was started (the bench process under tsx, or the bot: node <tsc output>/src/main.js as npm start runs it, or from sources under tsx for alt_*); trainer_entry: the trainer child's command line (/proc/<pid>/cmdline). workers: threads that computed gradients (2 = the trainer's own and a gradient worker thread); 0 where nothing trains.",
    `startup: ${plan.startups} starts of each command one after the other, launched from the project folder as a child process in its own process group against test/fake-discord in the bench process (a fresh fake, SQLite file and models folder each time; LOG_LEVEL=info). identify = launch (just before spawn) → the fake receives IDENTIFY; first_babble = launch → the reply to a /babble sent the moment IDENTIFY arrived carries its text; cpu_at_identify = user+system CPU of the started process group when IDENTIFY arrived (/proc), the figure least moved by other load. Judged: npm start, both medians ≤ 2 s. dist/ is rebuilt first when a source is newer (build_before_s), so npm start does not compile during the timed starts.`,
    `server_voice: the production retrain path (as retrain_100k) on bench/voice-text.ts's scripted server (300 messages from 12 baby-style lines using two words the base corpus lacks, dinosaur and tractor), /retrain minutes ${plan.voiceMinutes} at strength ${args.strength} (${Math.round(100 * STRENGTH_SPECS[args.strength].share)}% server text), gate tolerance 0.05 bits/char × the strength's factor on the baby corpus; then the served model's uptake (src/model/uptake.ts): 200 "me want " babbles at temperature 0.5 (rng 0..199) — share using a new word (target >= 0.3) and known words (base corpus or server words, target >= 0.9) — and 50 samples each of the default uptake seeds with the server's 3 most frequent openings. Steps done in the minutes depend on the machine's load: see other_processes_cores.`,
  ];
  const busy = Object.entries(contention).filter(([, c]) => c !== null && c !== undefined && c >= 0.25);
  if (busy.length > 0) {
    const skewed =
      torch.ok && busy.some(([n]) => n === 'torch' || n === 'training')
        ? ' The training ratio is skewed too: PyTorch runs 2 threads and may lose more to a busy core than our trainer does.'
        : '';
    notes.unshift(
      `WARNING: other processes used CPU during ${busy.map(([n, c]) => `${n} (${c} cores)`).join(', ')} (machine.other_processes_cores): those figures are pessimistic.${skewed} Re-run on a quiet machine for the README.`,
    );
  }
  if (modelDir)
    notes.push(
      `model: every figure but training used ${modelDir.source}, through a verified snapshot in a temporary folder.`,
    );
  if (modelDir?.fallback)
    notes.push(
      "models/base does not exist: babble, num_tensors, the bot and the RSS child used an untrained model (same size and per-character cost; /babble replies run to the full length more often than a trained model's, which stop at the end of an utterance).",
    );
  if (args.quick) notes.push('QUICK mode: fewer steps and samples, torch skipped; not for the README.');

  const report = {
    machine: {
      node: process.version,
      platform: `${os.platform()} ${os.arch()}`,
      cpus: cpus.length,
      cpu_model: cpus[0]?.model ?? null,
      total_mem_mb: Math.round(os.totalmem() / 2 ** 20),
      load_avg_at_start: loadAtStart,
      other_processes_cores: contention,
    },
    backend: backend.name,
    commit: gitCommit(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    mode: args.quick ? 'quick' : 'full',
    ...sections,
    failed,
    errors,
    notes,
    duration_s: Math.round((performance.now() - started) / 100) / 10,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  log(
    `bench: ${failed.length ? `missed ${failed.join(', ')}` : 'no target missed'}${errors ? `, ${errors} section(s) errored` : ''} (${report.duration_s} s)`,
  );
  return args.strict && (failed.length > 0 || errors > 0) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 1;
  },
);
