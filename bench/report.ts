/**
 * The JSON the bench prints: one flat section per figure, each with its target and pass (null = not measured, with
 * a reason). Pure functions from measured figures to sections. Every section says how what it measured was run:
 * `entry` (the command line: the bench process itself, or the bot as `node …/src/main.js`) and `workers` (threads
 * that computed gradients: 1 = the trainer's own, 2 = plus a gradient worker thread; 0 where nothing trains).
 */
import type { BabbleFigures, WindowFigures } from './babble.js';
import type { BotMemoryFigures } from './bot-memory.js';
import type { BotRetrainFigures } from './bot-retrain.js';
import type { DiscordFigures } from './discord.js';
import type { RssFigures } from './memory.js';
import type { RetrainFigures } from './retrain.js';
import type { StartupFigures, StartupRuns } from './startup.js';
import { meets, ratio, round, STALL_MS } from './stats.js';
import type { TorchFigures } from './torch.js';
import type { TrainingFigures } from './training.js';

export const TARGETS = {
  trainingRatio: '>= 5',
  babbleRatio: '<= 0.25',
  discordP99Ms: '<= 15',
  retrainSeconds: '<= 60',
  eventLoopP99Ms: '<= 20',
  /** Stalls (a timer ≥ STALL_MS late) in the bot during a retrain: how many, and the longest. */
  eventLoopStalls: '<= 5',
  eventLoopLongestStallMs: '<= 50',
  rssMb: '<= 300',
  startupMs: '<= 2000',
  trainerTensorsLeaked: '== 0',
} as const;

/** The conjunction of verdicts: false if any is false, else null if any is null (not measured), else true. */
function allOf(...verdicts: (boolean | null)[]): boolean | null {
  if (verdicts.includes(false)) return false;
  return verdicts.includes(null) ? null : true;
}

/** A measurement that ran, or why it did not. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; reason: string };

export type Section = Record<string, unknown> & { pass: boolean | null };

export function trainingSection(
  ours: Outcome<TrainingFigures>,
  torch: Outcome<TorchFigures & { steps: number; seconds: number }>,
  shape: { batch: number; seq: number },
  entry: string,
): Section {
  const mine = ours.ok ? ours.value : null;
  const ref = torch.ok ? torch.value : null;
  const r = ratio(mine?.charsPerSecond, ref?.seq_train_target_chars_per_s);
  const reasons = [!ours.ok ? `training: ${ours.reason}` : null, !torch.ok ? `torch: ${torch.reason}` : null].filter(
    (x) => x !== null,
  );
  return {
    chars_per_s: round(mine?.charsPerSecond, 0),
    torch_chars_per_s: ref?.seq_train_target_chars_per_s ?? null,
    ratio: round(r, 2),
    target: TARGETS.trainingRatio,
    pass: meets(r, TARGETS.trainingRatio),
    reason: reasons.length ? reasons.join('; ') : null,
    entry,
    workers: mine?.workers ?? null,
    batch: shape.batch,
    seq: shape.seq,
    warmup_steps: mine?.warmupSteps ?? null,
    timed_steps: mine?.timedSteps ?? null,
    timed_seconds: round(mine?.timedSeconds, 2),
    chars_per_s_incl_warmup: round(mine?.charsPerSecondWithWarmup, 0),
    final_loss: round(mine?.finalLoss, 3),
    tensors_leaked: mine ? mine.tensorsAfter - mine.tensorsBefore : null,
    torch_engine: ref?.engine ?? null,
    torch_timed_steps: ref?.steps ?? null,
    torch_run_seconds: round(ref?.seconds, 1),
  };
}

export function babbleSection(
  b: Outcome<BabbleFigures>,
  torch: Outcome<TorchFigures>,
  how: { seed: string; length: number; temperature: number; model: string | null; entry: string },
): Section {
  const v = b.ok ? b.value : null;
  const torchMs = torch.ok ? torch.value.generate_50_chars_ms_median : null;
  const r = ratio(v?.latencyMs.p50, torchMs);
  const reasons = [!b.ok ? `babble: ${b.reason}` : null, !torch.ok ? `torch: ${torch.reason}` : null].filter(
    (x) => x !== null,
  );
  return {
    p50_ms: round(v?.latencyMs.p50, 3),
    p99_ms: round(v?.latencyMs.p99, 3),
    torch_ms: torchMs,
    ratio: round(r, 3),
    target: TARGETS.babbleRatio,
    pass: meets(r, TARGETS.babbleRatio),
    reason: reasons.length ? reasons.join('; ') : null,
    entry: how.entry,
    workers: 0,
    mean_ms: round(v?.latencyMs.mean, 3),
    max_ms: round(v?.latencyMs.max, 3),
    samples: v?.latencyMs.n ?? null,
    warmup: v?.warmup ?? null,
    seed: how.seed,
    length: how.length,
    temperature: how.temperature,
    model: how.model,
    min_generated: v?.minGenerated ?? null,
  };
}

/** Window-mode babble (imported Keras models): reported, no target. */
export function windowSection(
  w: Outcome<WindowFigures>,
  how: { seed: string; length: number; window: number; temperature: number; model: string | null },
): Section {
  const v = w.ok ? w.value : null;
  return {
    p50_ms: round(v?.latencyMs.p50, 3),
    p99_ms: round(v?.latencyMs.p99, 3),
    target: null,
    pass: null,
    reason: w.ok ? null : `window: ${w.reason}`,
    mean_ms: round(v?.latencyMs.mean, 3),
    samples: v?.latencyMs.n ?? null,
    warmup: v?.warmup ?? null,
    generator_backend: v?.backend ?? null,
    seed: how.seed,
    length: how.length,
    window: how.window,
    lstm_steps_per_call: how.length * how.window,
    temperature: how.temperature,
    model: how.model,
    min_generated: v?.minGenerated ?? null,
  };
}

export function discordSection(d: Outcome<DiscordFigures>): Section {
  const v = d.ok ? d.value : null;
  const complete = v !== null && v.answered === v.sent && v.failedReplies === 0;
  const p99 = v?.latencyMs?.p99 ?? null;
  const verdict = meets(p99, TARGETS.discordP99Ms);
  return {
    p50_ms: round(v?.latencyMs?.p50, 2),
    p99_ms: round(p99, 2),
    target: TARGETS.discordP99Ms,
    // every interaction must be answered for the latency to count
    pass: verdict === null ? null : verdict && complete,
    reason: d.ok
      ? complete
        ? null
        : `${v!.sent - v!.answered} of ${v!.sent} interactions unanswered, ${v!.failedReplies} failed replies`
      : d.reason,
    entry: v?.entry ?? null,
    workers: 0,
    max_ms: round(v?.latencyMs?.max, 2),
    mean_ms: round(v?.latencyMs?.mean, 2),
    rate_per_s: v?.rate ?? null,
    achieved_rate_per_s: round(v?.achievedRate, 1),
    send_lag_p99_ms: round(v?.sendLagMs.p99, 2),
    sent: v?.sent ?? null,
    answered: v?.answered ?? null,
    deferred: v?.deferred ?? null,
    failed_replies: v?.failedReplies ?? null,
    ephemeral_replies: v?.ephemeralReplies ?? null,
    spec_violations: v?.specViolations ?? null,
    bot_error_logs: v?.botErrorLogs ?? null,
    bot_backend: v?.backend ?? null,
  };
}

const r3 = (x: number | null | undefined) => round(x, 3);

/**
 * Retrain wall time, judged only for a run that swapped (new version committed and served): a run the gate
 * refused, or that failed, misses the target whatever its time. `viaBot` adds the same retrain through the bot
 * (dispatch of /retrain → the result message), not judged.
 */
export function retrainSection(
  r: Outcome<RetrainFigures>,
  viaBot: Outcome<BotRetrainFigures> | null,
  entry: string,
): Section {
  const v = r.ok ? r.value : null;
  const swapped = v !== null && v.status === 'swapped' && v.serving;
  const verdict = meets(v?.seconds ?? null, TARGETS.retrainSeconds);
  const b = viaBot?.ok ? viaBot.value : null;
  const ph = v?.phases;
  return {
    seconds: round(v?.seconds, 1),
    target: TARGETS.retrainSeconds,
    pass: verdict === null ? null : verdict && swapped,
    reason: !r.ok
      ? r.reason
      : swapped
        ? null
        : `not swapped: ${v!.status}${v!.problem ? ` (${v!.problem})` : ''}${v!.status === 'swapped' ? ' but the cache did not serve it' : ''}`,
    entry,
    trainer_entry: v?.trainerEntry ?? null,
    workers: v?.workers ?? null,
    status: v?.status ?? null,
    new_version_serving: v ? v.serving : null,
    budget: v ? `epochs ${v.epochs} (the /retrain epochs option; minutes left at the maximum)` : null,
    server_messages: v?.serverMessages ?? null,
    server_chars: v?.serverChars ?? null,
    steps: v?.steps ?? null,
    train_seconds: round(v?.trainSeconds, 1),
    train_chars_per_s: round(v?.trainCharsPerSecond, 0),
    chunks: v?.chunks ?? null,
    held_out_bits_per_char: v?.heldOut
      ? {
          server: [r3(v.heldOut.before.server), r3(v.heldOut.after.server)],
          base: [r3(v.heldOut.before.base), r3(v.heldOut.after.base)],
        }
      : null,
    phases_s: ph
      ? {
          prepare: r3(ph.prepareSeconds),
          child_start: r3(ph.childStartSeconds),
          ...(ph.child ? Object.fromEntries(Object.entries(ph.child).map(([k, x]) => [`child_${k}`, r3(x)])) : {}),
          child_other: r3(ph.childOtherSeconds),
          gate_and_swap: r3(ph.gateAndSwapSeconds),
        }
      : null,
    via_bot_seconds: round(b?.retrainSeconds, 1),
    via_bot_result: b?.resultTitle ?? (viaBot && !viaBot.ok ? viaBot.reason : null),
    via_bot_entry: b?.entry ?? null,
    via_bot_trainer_entry: b?.trainerEntry ?? null,
    via_bot_workers: b?.workers ?? null,
  };
}

/**
 * The bot's event loop during a retrain (with /babble meanwhile), judged on its p99 AND on its stalls (a timer
 * ≥ STALL_MS late): how many, and the longest. The figures under the 200/s load ride along, not judged.
 */
export function eventLoopSection(
  d: Outcome<DiscordFigures>,
  during: Outcome<BotRetrainFigures> | null = null,
): Section {
  const loop = d.ok ? d.value.eventLoop : null;
  const b = during?.ok ? during.value : null;
  const p99 = b?.loop.p99Ms ?? null;
  const lat = b?.babble.latencyMs ?? null;
  const verdicts = {
    p99: meets(p99, TARGETS.eventLoopP99Ms),
    stalls: meets(b?.loop.stallCount ?? null, TARGETS.eventLoopStalls),
    longest: meets(b?.loop.longestStallMs ?? null, TARGETS.eventLoopLongestStallMs),
  };
  const missed = [
    verdicts.p99 === false ? `p99 ${round(p99, 2)} ms (target ${TARGETS.eventLoopP99Ms})` : null,
    verdicts.stalls === false
      ? `${b!.loop.stallCount} stalls over ${STALL_MS} ms (target ${TARGETS.eventLoopStalls})`
      : null,
    verdicts.longest === false
      ? `longest stall ${round(b!.loop.longestStallMs, 1)} ms (target ${TARGETS.eventLoopLongestStallMs})`
      : null,
  ].filter((x) => x !== null);
  return {
    retrain_p99_ms: round(p99, 2),
    target: TARGETS.eventLoopP99Ms,
    retrain_stall_count: b?.loop.stallCount ?? null,
    stalls_target: TARGETS.eventLoopStalls,
    retrain_longest_stall_ms: round(b?.loop.longestStallMs, 1),
    longest_stall_target: TARGETS.eventLoopLongestStallMs,
    stall_threshold_ms: STALL_MS,
    pass: allOf(verdicts.p99, verdicts.stalls, verdicts.longest),
    reason:
      during === null
        ? 'not measured'
        : !during.ok
          ? during.reason
          : missed.length
            ? `missed: ${missed.join('; ')}`
            : null,
    entry: b?.entry ?? null,
    workers: b?.workers ?? null,
    retrain_p50_ms: round(b?.loop.p50Ms, 2),
    retrain_max_ms: round(b?.loop.maxMs, 2),
    retrain_window_s: round(b?.windowSeconds, 1),
    retrain_samples: b?.loop.count ?? null,
    retrain_stalls: b ? b.stalls : null,
    retrain_result: b?.resultTitle ?? null,
    trainer_nice: b?.trainerNice ?? null,
    bot_rss_mb_during_retrain: round(b?.loop.rssMb, 1),
    babble_during_retrain: b
      ? {
          rate_per_s: b.babble.rate,
          sent: b.babble.sent,
          answered: b.babble.answered,
          p50_ms: round(lat?.p50, 2),
          p99_ms: round(lat?.p99, 2),
          max_ms: round(lat?.max, 2),
        }
      : null,
    bot_at_200rps_entry: d.ok ? d.value.entry : null,
    bot_at_200rps_p50_ms: round(loop?.p50Ms, 2),
    bot_at_200rps_p99_ms: round(loop?.p99Ms, 2),
    bot_at_200rps_max_ms: round(loop?.maxMs, 2),
    bot_at_200rps_stall_count: loop?.stallCount ?? null,
    bot_at_200rps_longest_stall_ms: round(loop?.longestStallMs, 1),
    bot_rss_mb_after_load: round(loop?.rssMb, 1),
    bot_at_200rps_reason: d.ok ? d.value.eventLoopReason : d.reason,
  };
}

/**
 * The judged figure is the REAL bot's VmRSS as `npm start` runs it (`bot`: node …/src/main.js), with the base and
 * every server model loaded, and only when every server answered from its own version. `alt` is the same bot run
 * another way (from sources under tsx), and `bare` a process holding only the backend and the models (no
 * discord.js): both reported, not judged.
 */
export function rssSection(
  bot: Outcome<BotMemoryFigures>,
  alt: Outcome<BotMemoryFigures> | null = null,
  bare: Outcome<RssFigures> | null = null,
): Section {
  const v = bot.ok ? bot.value : null;
  const complete = v !== null && v.answered === v.servers && v.ownVersion === v.servers;
  const verdict = meets(v?.rssMb ?? null, TARGETS.rssMb);
  const c = alt?.ok ? alt.value : null;
  const m = bare?.ok ? bare.value : null;
  const bareRss = m ? Math.max(m.rssMb, m.rssNoGcMb) : null;
  return {
    rss_mb: round(v?.rssMb, 1),
    target: TARGETS.rssMb,
    pass: verdict === null ? null : verdict && complete,
    reason: !bot.ok
      ? bot.reason
      : complete
        ? null
        : `only ${v!.answered} of ${v!.servers} servers answered, ${v!.ownVersion} on their own version`,
    entry: v?.entry ?? null,
    workers: 0,
    server_models: v?.servers ?? null,
    servers_on_own_version: v?.ownVersion ?? null,
    peak_rss_mb: round(v?.peakRssMb, 1),
    rss_serving_before_server_models_mb: round(v?.rssServingMb, 1),
    per_server_model_mb: round(v?.perServerModelMb, 2),
    heap_used_mb: round(v?.heapUsedMb, 1),
    external_mb: round(v?.externalMb, 1),
    array_buffers_mb: round(v?.arrayBuffersMb, 1),
    alt_rss_mb: round(c?.rssMb, 1),
    alt_meets_target: meets(c?.rssMb ?? null, TARGETS.rssMb),
    alt_rss_serving_mb: round(c?.rssServingMb, 1),
    alt_entry: c?.entry ?? (alt && !alt.ok ? alt.reason : null),
    bare_process_rss_mb: round(bareRss, 1),
    bare_process_models: m?.models ?? null,
    bare_process_backend_only_mb: round(m?.rssBaselineMb, 1),
    bare_process_base_only_mb: round(m?.rssAfterBaseMb, 1),
    bare_process_per_extra_model_mb: round(
      m && m.models > 1 ? (m.rssNoGcMb - m.rssAfterBaseMb) / (m.models - 1) : null,
      2,
    ),
    bare_process_reason: bare && !bare.ok ? bare.reason : null,
  };
}

/**
 * tf.memory().numTensors in the trainer child before and after its training steps (meta.json training.tensors),
 * from the bench's retrain (judged: no tensor may be left behind) and from the retrain through the bot (reported).
 */
export function trainerTensorsSection(
  r: Outcome<RetrainFigures>,
  viaBot: Outcome<BotRetrainFigures> | null = null,
): Section {
  const t = r.ok ? r.value.trainerTensors : null;
  const b = viaBot?.ok ? viaBot.value.trainerTensors : null;
  const leaked = t ? t.after - t.before : null;
  return {
    before: t?.before ?? null,
    after: t?.after ?? null,
    leaked,
    target: TARGETS.trainerTensorsLeaked,
    pass: meets(leaked, TARGETS.trainerTensorsLeaked),
    reason: !r.ok ? r.reason : t ? null : `no tensor record (retrain ${r.value.status})`,
    entry: r.ok ? r.value.trainerEntry : null,
    workers: r.ok ? r.value.workers : null,
    steps: r.ok ? r.value.steps : null,
    via_bot_before: b?.before ?? null,
    via_bot_after: b?.after ?? null,
  };
}

/** Names of the sections whose pass is false (a missed target). */
/**
 * Start-up: judged on `npm start`, launch → IDENTIFY and launch → first /babble answered, each median ≤ 2 s;
 * `node dist/src/main.js` (what a process manager runs) is reported beside it.
 */
export function startupSection(o: Outcome<StartupFigures>): Section {
  const runs = o.ok ? o.value.runs : [];
  const judged: StartupRuns | undefined = runs[0];
  const identify = meets(judged?.identifyMs.p50 ?? null, TARGETS.startupMs);
  const babble = meets(judged?.firstBabbleMs.p50 ?? null, TARGETS.startupMs);
  const ms = (x: number | undefined) => round(x, 0);
  return {
    command: judged?.command ?? null,
    identify_median_ms: ms(judged?.identifyMs.p50),
    identify_max_ms: ms(judged?.identifyMs.max),
    first_babble_median_ms: ms(judged?.firstBabbleMs.p50),
    first_babble_max_ms: ms(judged?.firstBabbleMs.max),
    cpu_at_identify_median_ms: ms(judged?.cpuAtIdentifyMs?.p50),
    target_ms: TARGETS.startupMs,
    pass: identify === null || babble === null ? null : identify && babble,
    reason: o.ok ? null : o.reason,
    starts: judged?.starts.length ?? null,
    build_before_s: o.ok ? round(o.value.buildSeconds, 1) : null,
    others: runs.slice(1).map((r) => ({
      command: r.command,
      identify_median_ms: ms(r.identifyMs.p50),
      identify_max_ms: ms(r.identifyMs.max),
      first_babble_median_ms: ms(r.firstBabbleMs.p50),
      first_babble_max_ms: ms(r.firstBabbleMs.max),
      cpu_at_identify_median_ms: ms(r.cpuAtIdentifyMs?.p50),
    })),
    all_ms: runs.map((r) => ({
      command: r.command,
      identify: r.starts.map((s) => ms(s.identifyMs)),
      first_babble: r.starts.map((s) => ms(s.firstBabbleMs)),
    })),
  };
}

export function failures(sections: Record<string, Section>): string[] {
  return Object.entries(sections)
    .filter(([, s]) => s.pass === false)
    .map(([name]) => name);
}
