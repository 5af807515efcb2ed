/**
 * /optin — undo /optout: my messages in collection channels of this server are stored again.
 */
import { ApplicationIntegrationType, InteractionContextType, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../command.js';
import { guildOnly, replyEphemeral } from '../respond.js';

const data = new SlashCommandBuilder()
  .setName('optin')
  .setDescription('Let the baby store your messages again (in channels where collection is on)')
  .setContexts(InteractionContextType.Guild)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .toJSON();

export default {
  data,
  async execute(interaction, { collection }) {
    const guildId = await guildOnly(interaction);
    if (guildId === undefined) return;
    const changed = await collection.optIn(guildId, interaction.user.id);
    await replyEphemeral(
      interaction,
      changed
        ? 'Done: from now on, your messages in channels where collection is on are stored again. `/optout` stops it.'
        : 'You were not opted out: your messages in channels where collection is on are stored. `/optout` stops it.',
    );
  },
} satisfies Command;
