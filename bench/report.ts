/**
 * The JSON the bench prints: one flat section per figure, each with its target and pass (null = not measured, with
 * a reason). Pure functions from measured figures to sections.
 */
import type { BabbleFigures } from './babble.js';
import type { DiscordFigures } from './discord.js';
import type { RssFigures } from './memory.js';
import { meets, ratio, round } from './stats.js';
import type { TorchFigures } from './torch.js';
import type { TrainingFigures } from './training.js';

export const TARGETS = {
  trainingRatio: '>= 5',
  babbleRatio: '<= 0.25',
  discordP99Ms: '<= 15',
  retrainSeconds: '<= 60',
  eventLoopP99Ms: '<= 20',
  rssMb: '<= 300',
} as const;

/** A measurement that ran, or why it did not. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; reason: string };

export type Section = Record<string, unknown> & { pass: boolean | null };

export function trainingSection(ours: Outcome<TrainingFigures>, torch: Outcome<TorchFigures & { steps: number; seconds: number }>, shape: { batch: number; seq: number }): Section {
  const mine = ours.ok ? ours.value : null;
  const ref = torch.ok ? torch.value : null;
  const r = ratio(mine?.charsPerSecond, ref?.seq_train_target_chars_per_s);
  const reasons = [!ours.ok ? `training: ${ours.reason}` : null, !torch.ok ? `torch: ${torch.reason}` : null].filter((x) => x !== null);
  return {
    chars_per_s: round(mine?.charsPerSecond, 0),
    torch_chars_per_s: ref?.seq_train_target_chars_per_s ?? null,
    ratio: round(r, 2),
    target: TARGETS.trainingRatio,
    pass: meets(r, TARGETS.trainingRatio),
    reason: reasons.length ? reasons.join('; ') : null,
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

export function babbleSection(b: Outcome<BabbleFigures>, torch: Outcome<TorchFigures>, how: { seed: string; length: number; temperature: number; model: string | null }): Section {
  const v = b.ok ? b.value : null;
  const torchMs = torch.ok ? torch.value.generate_50_chars_ms_median : null;
  const r = ratio(v?.latencyMs.p50, torchMs);
  const reasons = [!b.ok ? `babble: ${b.reason}` : null, !torch.ok ? `torch: ${torch.reason}` : null].filter((x) => x !== null);
  return {
    p50_ms: round(v?.latencyMs.p50, 3),
    p99_ms: round(v?.latencyMs.p99, 3),
    torch_ms: torchMs,
    ratio: round(r, 3),
    target: TARGETS.babbleRatio,
    pass: meets(r, TARGETS.babbleRatio),
    reason: reasons.length ? reasons.join('; ') : null,
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
    reason: d.ok ? (complete ? null : `${v!.sent - v!.answered} of ${v!.sent} interactions unanswered, ${v!.failedReplies} failed replies`) : d.reason,
    max_ms: round(v?.latencyMs?.max, 2),
    mean_ms: round(v?.latencyMs?.mean, 2),
    rate_per_s: v?.rate ?? null,
    achieved_rate_per_s: round(v?.achievedRate, 1),
    send_lag_p99_ms: round(v?.sendLagMs.p99, 2),
    sent: v?.sent ?? null,
    answered: v?.answered ?? null,
    deferred: v?.deferred ?? null,
    failed_replies: v?.failedReplies ?? null,
    spec_violations: v?.specViolations ?? null,
    bot_error_logs: v?.botErrorLogs ?? null,
    bot_backend: v?.backend ?? null,
  };
}

export function retrainSection(): Section {
  return { seconds: null, target: TARGETS.retrainSeconds, pass: null, reason: 'retrain not built yet' };
}

export function eventLoopSection(d: Outcome<DiscordFigures>): Section {
  const loop = d.ok ? d.value.eventLoop : null;
  return {
    retrain_p99_ms: null,
    target: TARGETS.eventLoopP99Ms,
    pass: null,
    reason: 'retrain not built yet',
    bot_at_200rps_p50_ms: round(loop?.p50Ms, 2),
    bot_at_200rps_p99_ms: round(loop?.p99Ms, 2),
    bot_at_200rps_max_ms: round(loop?.maxMs, 2),
    bot_rss_mb_after_load: round(loop?.rssMb, 1),
    bot_at_200rps_reason: d.ok ? d.value.eventLoopReason : d.reason,
  };
}

/**
 * The judged figure is the larger of the RSS before and after a full gc (production never forces one). The bot
 * process also holds discord.js: `bot_estimate_mb` adds what the extra models took here to the bot's measured RSS.
 */
export function rssSection(m: Outcome<RssFigures>, botRssMb: number | null = null): Section {
  const v = m.ok ? m.value : null;
  const rss = v ? Math.max(v.rssMb, v.rssNoGcMb) : null;
  const perModel = v && v.models > 1 ? (v.rssNoGcMb - v.rssAfterBaseMb) / (v.models - 1) : null;
  return {
    rss_mb: round(rss, 1),
    target: TARGETS.rssMb,
    pass: meets(rss, TARGETS.rssMb),
    reason: m.ok ? null : m.reason,
    models_loaded: v?.models ?? null,
    rss_after_gc_mb: round(v?.rssMb, 1),
    rss_before_models_mb: round(v?.rssBaselineMb, 1),
    rss_with_base_only_mb: round(v?.rssAfterBaseMb, 1),
    per_extra_model_mb: round(perModel, 2),
    bot_estimate_mb: v && botRssMb !== null ? round(botRssMb + (v.rssNoGcMb - v.rssAfterBaseMb), 1) : null,
    heap_used_mb: round(v?.heapUsedMb, 1),
    array_buffers_mb: round(v?.arrayBuffersMb, 1),
    backend: v?.backend ?? null,
  };
}

export function tensorsSection(b: Outcome<BabbleFigures>): Section {
  const v = b.ok ? b.value : null;
  return {
    before: v?.tensorsBefore ?? null,
    after: v?.tensorsAfter ?? null,
    babbles: v?.babbles ?? null,
    pass: v ? v.tensorsAfter === v.tensorsBefore : null,
    reason: b.ok ? null : b.reason,
  };
}

/** Names of the sections whose pass is false (a missed target). */
export function failures(sections: Record<string, Section>): string[] {
  return Object.entries(sections).filter(([, s]) => s.pass === false).map(([name]) => name);
}
