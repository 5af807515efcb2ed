/**
 * /help — what the baby does, the commands, and what happens to your messages.
 */
import {
  ApplicationIntegrationType,
  InteractionContextType,
  MessageFlags,
  SlashCommandBuilder,
  type APIEmbed,
} from 'discord.js';
import type { Command } from '../command.js';
import { clampEmbed, noPings } from '../message-rules.js';

export const PRIVACY_SUMMARY =
  'Messages are stored only in channels where a server manager switched collection on with /collect; the baby ' +
  'posts a notice there first. Stored: the text (lowercased, without links or mentions), channel and time, for ' +
  "the next retraining of this server's baby; deleted after a set number of days, when you delete or edit the " +
  'message, or when the bot leaves. /privacy shows what is stored about you, /optout stops it, /forget erases it. ' +
  'Elsewhere, a message that mentions the baby is used only for that one reply.';

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
          '`/model info` Which model I am here: version, when and on how much text I was trained, my versions.',
          '`/teach text:<words>` Give me words to learn (kept for this server).',
          '`/privacy` What I store about you here. `/optout`, `/optin` Stop or restart storing your messages. ' +
            '`/forget` Erase everything of yours here and opt out.',
          '`/collect set|status`, `/settings` For server managers: where I learn, how often I chime in.',
          '`/wordfilter add|remove|list` For server managers: words I never say here (swear words never anyway).',
          "`/retrain start|cancel` For server managers: I learn this server's words (in the background; the new " +
            'me talks only if I got no worse). `/model rollback` Go back to an earlier me.',
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
