/**
 * /retrain start [minutes] [epochs] [strength] [model] — teach the baby this server's words (Manage Server; the shared base
 * model: BOT_OWNER_IDS only). /retrain cancel [model] — stop it.
 *
 * The reply is deferred at once, then edited at most every `editIntervalMs` (5 s) with a progress bar, step and
 * epoch, loss, ETA and a sample babble (or the queue position while waiting). At the end: old vs new held-out
 * figures, samples, and the loss curve as a PNG attachment. Interaction tokens last 15 minutes: when the run ends
 * later than that (or the edit is refused as an unknown/expired webhook), the result is posted as a message in
 * the channel instead. Every message pings nobody. When Discord refuses a message for lack of a permission (Embed
 * Links for the progress, Attach Files for the chart…), the member is told which one in the reply, progress edits
 * stop, training goes on, and the log gets one line per channel and hour (permissions.ts).
 *
 * The definition is static (the same for `npm run deploy-commands` and the running bot): `minutes` is bounded by
 * the most TRAIN_MAX_MINUTES may be; the handler checks the configured TRAIN_MAX_MINUTES. The training manager and
 * limits come in the CommandContext (`retrain`); without them the command says retraining is off.
 */
import {
  ApplicationIntegrationType,
  AttachmentBuilder,
  InteractionContextType,
  PermissionFlagsBits,
  SlashCommandBuilder,
  type APIEmbed,
  type ChatInputCommandInteraction,
} from 'discord.js';
import { SETTINGS } from '../../config.js';
import type { Logger } from '../../log.js';
import type { CollectionService } from '../../service/collection.js';
import { isStrength } from '../../training/server-share.js';
import { withErrorId } from '../../service/failure.js';
import type { RetrainEvent, RetrainJob, RetrainOutcome, StartResult } from '../../service/retrain.js';
import type { BudgetVerdict } from '../../service/training-budget.js';
import { BASE_SCOPE, RegistryError } from '../../service/scope.js';
import type { ProgressFigures } from '../../training/trainer-protocol.js';
import type { Command, RetrainContext } from '../command.js';
import { handleRefusal, interactionTarget, SENDS } from '../permissions.js';
import { guildOnly, replyEphemeral, requireManageGuild } from '../respond.js';
import { clampEmbed, noPings } from '../message-rules.js';
import { serverTemperature } from '../../service/settings.js';
import { RETRAINED_AFTER_ERASURE } from '../../service/erasure-check.js';
import { newWordsField, shareLine, strengthChoices } from '../uptake-text.js';
import { countText } from '../../count-text.js';

export interface RetrainCommandDeps extends RetrainContext {
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** The server's settings: its temperature is the one the result's uptake samples use. */
  collection?: Pick<CollectionService, 'getSettings'>;
}

export const CHART_NAME = 'loss.png';
const MIN_MINUTES = SETTINGS.trainMinutes.min;
const MIN_EPOCHS = 0.1;
/** Told with the missing permissions when a progress edit is refused. */
export const TRAINING_GOES_ON = 'The training goes on; I will say here how it ended.';
/** Epochs one may ask for unless the context says otherwise. */
export const DEFAULT_MAX_EPOCHS = 100;

/** "▰▰▰▱▱▱ 42%" */
export function progressBar(fraction: number, width = 20): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `${'█'.repeat(full)}${'░'.repeat(width - full)} ${Math.floor(f * 100)}%`;
}

/** 75 → "1 min 15 s" */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min${s % 60 ? ` ${s % 60} s` : ''}`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** The model a retrain changes, as the admin reads it. */
function modelLabel(scope: string): string {
  return scope === BASE_SCOPE ? 'the shared base model' : "this server's model";
}

function quote(sample: string): string {
  const s = sample.replace(/`/g, "'").trim();
  return s ? `\`${s}\`` : '*(nothing yet)*';
}

const bits = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));

/** The message shown while waiting or training. */
export function progressEmbed(
  scope: string,
  state: { position?: number | undefined; progress?: ProgressFigures | undefined },
): APIEmbed {
  if (state.progress === undefined) {
    return clampEmbed({
      title: `Retraining ${modelLabel(scope)}`,
      description:
        state.position !== undefined
          ? `Waiting for a free trainer: position ${state.position} in the queue.`
          : 'Starting the trainer…',
      footer: { text: '/retrain cancel stops it.' },
    });
  }
  const p = state.progress;
  return clampEmbed({
    title: `Retraining ${modelLabel(scope)}`,
    description: progressBar(p.totalSteps > 0 ? p.step / p.totalSteps : 0),
    fields: [
      {
        name: 'Step',
        value: `${countText(p.step)} / ${countText(p.totalSteps)} (epoch ${p.epoch.toFixed(2)})`,
        inline: true,
      },
      { name: 'Loss', value: p.loss.toFixed(3), inline: true },
      { name: 'Time left', value: `about ${formatDuration(p.etaSeconds)}`, inline: true },
      { name: 'The baby says', value: quote(p.sample) },
    ],
    footer: {
      text: `${countText(p.charsPerSecond)} characters/s · /retrain cancel stops it.`,
    },
  });
}

export interface FinalMessage {
  content?: string;
  embeds: APIEmbed[];
  /** The loss chart, when the run trained a model. */
  chart?: Buffer;
}

/** The message at the end of a run. */
export function finalMessage(scope: string, outcome: RetrainOutcome): FinalMessage {
  switch (outcome.status) {
    case 'cancelled':
      return {
        embeds: [
          clampEmbed({
            title: 'Training cancelled',
            description: `Nothing changed: ${modelLabel(scope)} is the same as before.`,
          }),
        ],
      };
    case 'failed': {
      const reason = outcome.errorId ? withErrorId(outcome.reason, outcome.errorId) : outcome.reason;
      const description = `${reason}\n\nNothing changed: ${modelLabel(scope)} is the same as before.`;
      return { embeds: [clampEmbed({ title: 'Training did not finish', description })] };
    }
    case 'swapped':
    case 'rejected': {
      const g = outcome.gate;
      const figures = [
        `Server messages: ${bits(g.server.before)} → ${bits(g.server.after)} bits/char`,
        `Baby corpus: ${bits(g.base.before)} → ${bits(g.base.after)} bits/char`,
        ...g.notes.map((n) => `(${n})`),
      ].join('\n');
      const samples = g.samples.texts
        .slice(0, 5)
        .map((s) => `• ${quote(s)}`)
        .join('\n');
      const swapped = outcome.status === 'swapped';
      const share = shareLine(outcome.strength, outcome.serverShare);
      const newWords = newWordsField(outcome.uptake);
      const embed: APIEmbed = {
        title: swapped
          ? `New model: version ${outcome.version} is talking now`
          : `Kept the old model: the new one did not pass the quality check`,
        description: swapped
          ? `Trained ${countText(outcome.steps)} steps in ${formatDuration(outcome.seconds)} on ${countText(outcome.trainingLines)} lines, fine-tuned from ${outcome.previous}${share ? ` (${share})` : ''}. Lower is better:`
          : `Why: ${g.reasons.join(' ')}\nThe model keeps talking as before (${outcome.previous}); the new one was set aside, never used.${share ? ` (${share}.)` : ''}`,
        fields: [
          { name: 'Held-out text (old → new)', value: figures },
          ...(newWords ? [newWords] : []),
          { name: 'Samples from the new model', value: samples || '*(none)*' },
        ],
        image: { url: `attachment://${CHART_NAME}` },
        footer: {
          text: 'Loss curve: blue = training loss (nats/char); dashed = held-out baby corpus before (orange) and after (green).',
        },
      };
      if (outcome.erasedDuringTraining) embed.description = `${RETRAINED_AFTER_ERASURE}\n${embed.description}`;
      return { embeds: [clampEmbed(embed)], chart: outcome.chart };
    }
  }
}

interface ApiErrorLike {
  code?: unknown;
}

/** Discord's "the interaction token is no longer valid" answers. */
function isExpiredToken(err: unknown): boolean {
  const e = err as ApiErrorLike | null;
  return e?.code === 50027 || e?.code === 10015;
}

/**
 * Keeps one interaction's reply up to date with a job: at most one edit per `interval`, the latest state winning
 * (a trailing edit goes out when the interval has passed), edits never overlapping; then the final message, on
 * the reply or (token expired) in the channel.
 */
export async function followJob(
  interaction: ChatInputCommandInteraction,
  job: RetrainJob,
  deps: RetrainCommandDeps,
): Promise<void> {
  const interval = deps.editIntervalMs ?? 5000;
  const lifetime = deps.tokenLifetimeMs ?? 14.5 * 60_000;
  const now = deps.now ?? Date.now;
  const started = interaction.createdTimestamp;
  const scope = job.scope;
  let lastEdit = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  let tokenDead = false;
  let progressRefused = false;
  let finished = false;
  let view: { position?: number | undefined; progress?: ProgressFigures | undefined } = {
    position: job.position,
    progress: job.latest,
  };

  const expired = () => tokenDead || now() - started >= lifetime;
  const refused = (err: unknown) =>
    handleRefusal(err, {
      log: deps.log,
      target: interactionTarget(interaction),
      interaction,
      shape: SENDS.retrainProgress.shape,
      context: { scope, send: 'retrainProgress' },
      more: TRAINING_GOES_ON,
    });
  const edit = (): Promise<void> => {
    chain = chain.then(async () => {
      if (finished || progressRefused || expired()) return;
      lastEdit = now();
      try {
        await interaction.editReply({ content: '', embeds: [progressEmbed(scope, view)], allowedMentions: noPings() });
      } catch (err) {
        if (isExpiredToken(err)) tokenDead = true;
        else if (await refused(err)) progressRefused = true;
        else deps.log.warn({ err, scope }, 'retrain: could not update the progress message');
      }
    });
    return chain;
  };
  const schedule = () => {
    if (timer || finished) return;
    const wait = lastEdit + interval - now();
    if (wait <= 0) {
      void edit();
      return;
    }
    timer = setTimeout(() => {
      timer = undefined;
      void edit();
    }, wait);
    timer.unref();
  };

  const done = new Promise<RetrainOutcome>((resolve) => {
    const onEvent = (e: RetrainEvent) => {
      if (e.type === 'queued') view = { position: e.position };
      else if (e.type === 'started') view = {};
      else if (e.type === 'progress') view = { progress: e.progress };
      else {
        resolve(e.outcome);
        return;
      }
      schedule();
    };
    const unsubscribe = job.subscribe(onEvent);
    void job.result.then((outcome) => {
      unsubscribe();
      resolve(outcome);
    });
  });
  await edit();
  const outcome = await done;
  finished = true;
  if (timer) clearTimeout(timer);
  await chain;
  await sendFinal(interaction, scope, outcome, expired(), deps);
}

async function sendFinal(
  interaction: ChatInputCommandInteraction,
  scope: string,
  outcome: RetrainOutcome,
  tokenExpired: boolean,
  deps: RetrainCommandDeps,
): Promise<void> {
  const message = finalMessage(scope, outcome);
  const files = message.chart ? [new AttachmentBuilder(message.chart, { name: CHART_NAME })] : [];
  const result = `The result: ${message.embeds[0]?.title ?? 'finished'}.`;
  const target = interactionTarget(interaction);
  if (!tokenExpired) {
    try {
      await interaction.editReply({ content: '', embeds: message.embeds, files, allowedMentions: noPings() });
      return;
    } catch (err) {
      if (!isExpiredToken(err)) {
        const shape = SENDS.retrainResult.shape;
        const context = { scope, send: 'retrainResult' };
        if (await handleRefusal(err, { log: deps.log, target, interaction, shape, more: result, context })) return;
        throw err;
      }
    }
  }
  const channel =
    interaction.channel ?? (await interaction.client.channels.fetch(interaction.channelId).catch(() => null));
  if (!channel || !channel.isSendable()) {
    deps.log.warn(
      { scope, channel: interaction.channelId },
      'retrain: the result could not be posted (token expired, channel not reachable)',
    );
    return;
  }
  try {
    await channel.send({
      content: `<@${interaction.user.id}>, your /retrain finished:`,
      embeds: message.embeds,
      files,
      allowedMentions: noPings(),
    });
  } catch (err) {
    // The token has expired: nobody to tell but the log (once per channel and hour).
    const context = { scope, send: 'retrainPost', user: interaction.user.id };
    if (!(await handleRefusal(err, { log: deps.log, target, shape: SENDS.retrainPost.shape, context }))) throw err;
  }
}

/** The definition; `maxMinutes` defaults to the most TRAIN_MAX_MINUTES may be (see the module comment). */
export function retrainCommandData(maxMinutes: number = SETTINGS.trainMinutes.max, maxEpochs = DEFAULT_MAX_EPOCHS) {
  return new SlashCommandBuilder()
    .setName('retrain')
    .setDescription("Teach the baby this server's words (server managers)")
    .setContexts(InteractionContextType.Guild)
    .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
    .addSubcommand((s) =>
      s
        .setName('start')
        .setDescription("Fine-tune the model on this server's collected and taught messages")
        .addNumberOption((o) =>
          o
            .setName('minutes')
            .setDescription(`Training time in minutes (default set by the bot; ${MIN_MINUTES} at least)`)
            .setMinValue(MIN_MINUTES)
            .setMaxValue(maxMinutes),
        )
        .addNumberOption((o) =>
          o
            .setName('epochs')
            .setDescription(`Passes over the text (${MIN_EPOCHS}–${maxEpochs}); with minutes, whichever ends first`)
            .setMinValue(MIN_EPOCHS)
            .setMaxValue(maxEpochs),
        )
        .addStringOption((o) =>
          o
            .setName('strength')
            .setDescription("How much of the training text is this server's (more: more of its words, less baby)")
            .addChoices(...strengthChoices()),
        )
        .addStringOption((o) =>
          o
            .setName('model')
            .setDescription("Which model (default: this server's)")
            .addChoices(
              { name: "this server's", value: 'server' },
              { name: 'shared base (bot owners)', value: 'base' },
            ),
        ),
    )
    .addSubcommand((s) =>
      s
        .setName('cancel')
        .setDescription('Stop the training that is running or waiting')
        .addStringOption((o) =>
          o
            .setName('model')
            .setDescription("Which model (default: this server's)")
            .addChoices(
              { name: "this server's", value: 'server' },
              { name: 'shared base (bot owners)', value: 'base' },
            ),
        ),
    )
    .toJSON();
}

/** The scope the member asked for, or undefined after telling them they may not. */
async function allowedScope(
  interaction: ChatInputCommandInteraction,
  guildId: string,
  deps: RetrainCommandDeps,
): Promise<string | undefined> {
  if (interaction.options.getString('model') === 'base') {
    if (deps.ownerIds.includes(interaction.user.id)) return BASE_SCOPE;
    await replyEphemeral(
      interaction,
      "Only the bot's owners can retrain the shared base model. Leave out `model` to retrain this server's.",
    );
    return undefined;
  }
  return (await requireManageGuild(interaction)) ? guildId : undefined;
}

/** What is wrong with the options, or undefined. Discord enforces the bounds; they are checked again here. */
export function retrainOptionsProblem(
  o: { minutes?: number | undefined; epochs?: number | undefined },
  maxMinutes: number,
  maxEpochs = DEFAULT_MAX_EPOCHS,
): string | undefined {
  if (o.minutes !== undefined && (!Number.isFinite(o.minutes) || o.minutes < MIN_MINUTES || o.minutes > maxMinutes)) {
    return `minutes must be a number from ${MIN_MINUTES} to ${maxMinutes} on this bot (you gave ${o.minutes}).`;
  }
  if (o.epochs !== undefined && (!Number.isFinite(o.epochs) || o.epochs < MIN_EPOCHS || o.epochs > maxEpochs)) {
    return `epochs must be a number from ${MIN_EPOCHS} to ${maxEpochs} (you gave ${o.epochs}).`;
  }
  return undefined;
}

/** Why a server may not train now (budget.check said no), with when it may. */
export function budgetRefusal(verdict: Extract<BudgetVerdict, { allowed: false }>): string {
  const when = `<t:${Math.ceil(verdict.at / 1000)}:R>`;
  return verdict.why === 'cooldown'
    ? `The baby needs a rest between trainings: this server's next one can start ${when}.`
    : `This server has used its training time for today: a training this long can start ${when} ` +
        '(a shorter one may fit sooner).';
}

/** Handles /retrain start and /retrain cancel. */
export async function executeRetrain(
  interaction: ChatInputCommandInteraction,
  deps: RetrainCommandDeps,
): Promise<void> {
  const maxEpochs = deps.maxEpochs ?? DEFAULT_MAX_EPOCHS;
  const guildId = await guildOnly(interaction);
  if (guildId === undefined) return;
  const scope = await allowedScope(interaction, guildId, deps);
  if (scope === undefined) return;
  const sub = interaction.options.getSubcommand(true);
  if (sub === 'cancel') {
    const cancelled = deps.manager.cancel(scope);
    await replyEphemeral(
      interaction,
      cancelled
        ? `Stopping the training of ${modelLabel(scope)}. Nothing will change.`
        : `No training of ${modelLabel(scope)} is running or waiting.`,
    );
    return;
  }
  const options = {
    minutes: interaction.options.getNumber('minutes') ?? undefined,
    epochs: interaction.options.getNumber('epochs') ?? undefined,
  };
  const problem = retrainOptionsProblem(options, deps.maxMinutes, maxEpochs);
  if (problem !== undefined) {
    await replyEphemeral(interaction, problem);
    return;
  }
  const strength = interaction.options.getString('strength') ?? undefined;
  if (strength !== undefined && !isStrength(strength)) {
    await replyEphemeral(interaction, `strength must be gentle, normal or strong (you gave ${strength}).`);
    return;
  }
  if (deps.budget && scope !== BASE_SCOPE && !deps.ownerIds.includes(interaction.user.id)) {
    const verdict = await deps.budget.check(scope, options.minutes ?? deps.defaultMinutes ?? deps.maxMinutes);
    if (!verdict.allowed) {
      await replyEphemeral(interaction, budgetRefusal(verdict));
      return;
    }
  }
  await interaction.deferReply();
  const temperature = scope === BASE_SCOPE ? undefined : await serverTemperature(deps.collection, guildId, deps.log);
  let result: StartResult;
  try {
    result = deps.manager.start({
      scope,
      ...(options.minutes !== undefined ? { minutes: options.minutes } : {}),
      ...(options.epochs !== undefined ? { epochs: options.epochs } : {}),
      ...(strength !== undefined ? { strength } : {}),
      ...(temperature !== undefined ? { temperature } : {}),
      requestedBy: interaction.user.id,
    });
  } catch (err) {
    if (!(err instanceof RegistryError)) throw err;
    await interaction.editReply({ content: `Can't train now: ${err.message}.`, allowedMentions: noPings() });
    return;
  }
  if (result.status === 'busy') {
    const where =
      result.job.state === 'queued' ? `waiting in the queue (position ${result.job.position ?? '?'})` : 'running';
    const by = result.job.request.requestedBy ? `, started by <@${result.job.request.requestedBy}>` : '';
    await interaction.editReply({
      content: `A training of ${modelLabel(scope)} is already ${where}${by}. Wait for it to finish, or stop it with /retrain cancel.`,
      allowedMentions: noPings(),
    });
    return;
  }
  deps.log.info({ scope, user: interaction.user.id, ...options, status: result.status }, 'retrain requested');
  await followJob(interaction, result.job, deps);
}

export default {
  data: retrainCommandData(),
  async execute(interaction, { retrain, log, collection }) {
    if (!retrain) {
      await replyEphemeral(interaction, 'Retraining is switched off on this bot.');
      return;
    }
    await executeRetrain(interaction, { ...retrain, log, collection });
  },
} satisfies Command;
