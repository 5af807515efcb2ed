/**
 * /optout — stop storing my messages in this server (what is stored stays until /forget or it expires).
 */
import { ApplicationIntegrationType, InteractionContextType, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../command.js';
import { guildOnly, replyEphemeral } from '../respond.js';

const data = new SlashCommandBuilder()
  .setName('optout')
  .setDescription('Stop the baby from storing your messages in this server')
  .setContexts(InteractionContextType.Guild)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .toJSON();

export default {
  data,
  async execute(interaction, { collection }) {
    const guildId = await guildOnly(interaction);
    if (guildId === undefined) return;
    const changed = await collection.optOut(guildId, interaction.user.id);
    await replyEphemeral(
      interaction,
      (changed
        ? 'Done: your messages in this server are no longer stored.'
        : 'You had already opted out: your messages here are not stored.') +
        ' What was stored before stays until it expires; `/forget` erases it now. `/optin` undoes this.',
    );
  },
} satisfies Command;
