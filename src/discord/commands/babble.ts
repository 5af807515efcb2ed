/**
 * /babble seed:<text> [temperature] [length] [rng] — the baby carries on from your words, with this server's model
 * (the base in DMs and for a server without its own).
 */
import { ApplicationIntegrationType, InteractionContextType, MessageFlags, SlashCommandBuilder } from 'discord.js';
import { napMessage } from '../../service/rate-limiter.js';
import type { Command } from '../command.js';
import { checkReplyLimit } from '../rate-limit-check.js';
import { serverTemperature } from '../mentions.js';
import { replyWhenReady } from '../respond.js';
import { noPings } from '../message-rules.js';

/** Option bounds: in the definition Discord enforces, and checked again here (clients and proxies vary). */
export const BABBLE_BOUNDS = {
  seedMaxLength: 500,
  temperature: { min: 0, max: 2 },
  length: { min: 1, max: 1000 },
  rng: { min: 0, max: 2 ** 31 - 1 },
} as const;

export interface BabbleOptions {
  seed: string;
  temperature?: number | undefined;
  length?: number | undefined;
  rng?: number | undefined;
}

function outOfRange(name: string, v: number | undefined, min: number, max: number, integer: boolean): string | undefined {
  if (v === undefined) return undefined;
  if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    return `${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max} (you gave ${v}).`;
  }
  return undefined;
}

/** What is wrong with the options, as one sentence for the user, or undefined when they are fine. */
export function babbleOptionsProblem(o: BabbleOptions): string | undefined {
  if (o.seed.trim().length === 0) return 'seed must not be empty: give the baby something to start from.';
  if (o.seed.length > BABBLE_BOUNDS.seedMaxLength) {
    return `seed is too long: at most ${BABBLE_BOUNDS.seedMaxLength} characters (yours has ${o.seed.length}).`;
  }
  const b = BABBLE_BOUNDS;
  return (
    outOfRange('temperature', o.temperature, b.temperature.min, b.temperature.max, false) ??
    outOfRange('length', o.length, b.length.min, b.length.max, true) ??
    outOfRange('rng', o.rng, b.rng.min, b.rng.max, true)
  );
}

const data = new SlashCommandBuilder()
  .setName('babble')
  .setDescription('The baby babbles on from your words')
  .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .addStringOption((o) =>
    o.setName('seed').setDescription('Words for the baby to start from').setRequired(true).setMinLength(1).setMaxLength(BABBLE_BOUNDS.seedMaxLength),
  )
  .addNumberOption((o) =>
    o
      .setName('temperature')
      .setDescription('0 = always the likeliest letter, 2 = wild (default 0.5)')
      .setMinValue(BABBLE_BOUNDS.temperature.min)
      .setMaxValue(BABBLE_BOUNDS.temperature.max),
  )
  .addIntegerOption((o) =>
    o
      .setName('length')
      .setDescription('At most this many letters after your words (default 60)')
      .setMinValue(BABBLE_BOUNDS.length.min)
      .setMaxValue(BABBLE_BOUNDS.length.max),
  )
  .addIntegerOption((o) =>
    o
      .setName('rng')
      .setDescription('Random seed: the same words with the same rng babble the same')
      .setMinValue(BABBLE_BOUNDS.rng.min)
      .setMaxValue(BABBLE_BOUNDS.rng.max),
  )
  .toJSON();

export default {
  data,
  async execute(interaction, { models, deferAfterMs, collection, log, limiter }) {
    const options: BabbleOptions = {
      seed: interaction.options.getString('seed', true),
      temperature: interaction.options.getNumber('temperature') ?? undefined,
      length: interaction.options.getInteger('length') ?? undefined,
      rng: interaction.options.getInteger('rng') ?? undefined,
    };
    const problem = babbleOptionsProblem(options);
    if (problem !== undefined) {
      await interaction.reply({ content: problem, flags: MessageFlags.Ephemeral, allowedMentions: noPings() });
      return;
    }
    // Only a valid request spends a reply from the budgets.
    const where = { interaction: interaction.id, guild: interaction.guildId, user: interaction.user.id };
    const verdict = await checkReplyLimit(limiter, { kind: 'babble', userId: interaction.user.id, guildId: interaction.guildId }, log, where);
    if (!verdict.allowed) {
      await interaction.reply({ content: napMessage(verdict), flags: MessageFlags.Ephemeral, allowedMentions: noPings() });
      return;
    }
    // Without a temperature option, the server's default temperature (/settings) if it has one.
    const temperature = options.temperature ?? (await serverTemperature(collection, interaction.guildId, log));
    const request = {
      seed: options.seed,
      ...(temperature !== undefined ? { temperature } : {}),
      ...(options.length !== undefined ? { length: options.length } : {}),
      ...(options.rng !== undefined ? { rng: options.rng } : {}),
    };
    const work = models.serviceFor(interaction.guildId).then((service) => service.babble(request));
    await replyWhenReady(interaction, work, deferAfterMs);
  },
} satisfies Command;
