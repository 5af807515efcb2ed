/**
 * /teach text:<…> — a member gives the baby words to learn, explicitly (consent for that text).
 */
import { ApplicationIntegrationType, InteractionContextType, SlashCommandBuilder } from 'discord.js';
import { TEACH_MAX_LENGTH } from '../../service/collection.js';
import { napMessage } from '../../service/rate-limiter.js';
import { UNANSWERED, type Command } from '../command.js';
import { checkReplyLimit } from '../rate-limit-check.js';
import { guildOnly, replyEphemeral } from '../respond.js';

const data = new SlashCommandBuilder()
  .setName('teach')
  .setDescription('Give the baby words to learn from (kept for this server)')
  .setContexts(InteractionContextType.Guild)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .addStringOption((o) =>
    o
      .setName('text')
      .setDescription('What the baby should learn to say')
      .setRequired(true)
      .setMinLength(1)
      .setMaxLength(TEACH_MAX_LENGTH),
  )
  .toJSON();

export default {
  data,
  async execute(interaction, { collection, limiter, log }) {
    const guildId = await guildOnly(interaction);
    if (guildId === undefined) return;
    // A /teach spends a reply from the member's and the server's budgets, like a /babble.
    const where = { interaction: interaction.id, guild: guildId, user: interaction.user.id };
    const verdict = await checkReplyLimit(limiter, { kind: 'teach', userId: interaction.user.id, guildId }, log, where);
    if (!verdict.allowed) {
      if (!verdict.notify) return UNANSWERED;
      await replyEphemeral(interaction, napMessage(verdict));
      return;
    }
    const { text } = await collection.teach(
      guildId,
      interaction.user.id,
      interaction.id,
      interaction.options.getString('text', true),
    );
    await replyEphemeral(
      interaction,
      `Thank you! The baby will learn this at the next retraining:\n> ${text.replace(/\n/g, '\n> ')}\n` +
        `It is kept for ${collection.retentionDays} days; \`/forget\` erases it sooner.`,
    );
  },
} satisfies Command;
