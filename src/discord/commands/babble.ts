/**
 * /babble seed:<text> [temperature] [length] [rng] — the baby carries on from your words, with this server's model
 * (the base in DMs and for a server without its own). The option limits are the bounds of service/babble-rules.ts,
 * checked again before generating (clients and proxies vary).
 */
import { ApplicationIntegrationType, InteractionContextType, MessageFlags, SlashCommandBuilder } from 'discord.js';
import { BABBLE_BOUNDS, babbleOptionsProblem, type BabbleOptions } from '../../service/babble-rules.js';
import { napMessage } from '../../service/rate-limiter.js';
import { serverTemperature } from '../../service/settings.js';
import { UNANSWERED, type Command } from '../command.js';
import { checkReplyLimit } from '../rate-limit-check.js';
import { replyWhenReady } from '../respond.js';
import { noPings } from '../message-rules.js';

const data = new SlashCommandBuilder()
  .setName('babble')
  .setDescription('The baby babbles on from your words')
  .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .addStringOption((o) =>
    o
      .setName('seed')
      .setDescription('Words for the baby to start from')
      .setRequired(true)
      .setMinLength(1)
      .setMaxLength(BABBLE_BOUNDS.seedMaxLength),
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
    const verdict = await checkReplyLimit(
      limiter,
      { kind: 'babble', userId: interaction.user.id, guildId: interaction.guildId },
      log,
      where,
    );
    if (!verdict.allowed) {
      if (!verdict.notify) return UNANSWERED;
      await interaction.reply({
        content: napMessage(verdict),
        flags: MessageFlags.Ephemeral,
        allowedMentions: noPings(),
      });
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
