/**
 * /help — what the baby does, the commands, and what happens to your messages.
 */
import { ApplicationIntegrationType, InteractionContextType, MessageFlags, SlashCommandBuilder, type APIEmbed } from 'discord.js';
import type { Command } from '../command.js';
import { clampEmbed, noPings } from '../safety.js';

export const PRIVACY_SUMMARY =
  'This version stores no messages. When you mention the baby, your message is used only to make that one reply, ' +
  'then forgotten. Slash command options are used only for the answer to that command.';

export function helpEmbed(): APIEmbed {
  return clampEmbed({
    title: 'Babble: a baby that babbles',
    description:
      'I am a baby learning to talk. A small neural network (a character-level LSTM) guesses the next letter ' +
      'again and again, so what I say sounds a bit like words, and sometimes is.',
    fields: [
      {
        name: 'Commands',
        value: [
          '`/babble seed:<words>` I carry on from your words. Options: `temperature` (0 to 2, how wild), ' +
            '`length` (1 to 1000 letters), `rng` (same number, same babble).',
          '`/model info` Which model I am: version, when and on how much text I was trained.',
          '`/help` This message.',
          'Mention me (@Babble) in a message and I babble back.',
        ].join('\n'),
      },
      { name: 'Privacy', value: PRIVACY_SUMMARY },
    ],
  });
}

const data = new SlashCommandBuilder()
  .setName('help')
  .setDescription('What the baby does, its commands, and privacy')
  .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .toJSON();

export default {
  data,
  async execute(interaction) {
    await interaction.reply({ embeds: [helpEmbed()], flags: MessageFlags.Ephemeral, allowedMentions: noPings() });
  },
} satisfies Command;
