/**
 * /privacy — what Babble stores about me in this server: counts, channels, opt-out, how long it is kept.
 */
import { ApplicationIntegrationType, InteractionContextType, SlashCommandBuilder, type APIEmbed } from 'discord.js';
import type { CollectionChannel, PrivacyReport } from '../../service/collection.js';
import type { Command } from '../command.js';
import { guildOnly, replyEphemeral } from '../respond.js';
import { clampEmbed } from '../message-rules.js';
import { countText } from '../../count-text.js';

export function privacyEmbed(report: PrivacyReport, collecting: readonly CollectionChannel[]): APIEmbed {
  const perChannel = report.channels.map((c) => `<#${c.channelId}>: ${countText(c.messages)}`).join('\n');
  return clampEmbed({
    title: 'What Babble stores about you in this server',
    fields: [
      {
        name: 'Collected messages',
        value: `${countText(report.messages)}${perChannel ? `\n${perChannel}` : ''}`,
      },
      { name: 'Texts you taught (/teach)', value: countText(report.taught), inline: true },
      {
        name: 'Collection of your messages',
        value: report.optedOut
          ? 'Off: you opted out (`/optin` undoes it)'
          : 'On in collection channels (`/optout` stops it)',
        inline: true,
      },
      {
        name: 'Collection channels here',
        value: collecting.length === 0 ? 'none' : collecting.map((c) => `<#${c.channelId}>`).join(', '),
      },
      {
        name: 'How long',
        value:
          `Each message or text is deleted ${report.retentionDays} days after it was sent` +
          (report.oldest !== undefined ? `; your oldest is from <t:${Math.floor(report.oldest / 1000)}:D>.` : '.') +
          ' Stored: the text (lowercased, without links or mentions), its channel and when it was sent.',
      },
      { name: 'Erase', value: '`/forget` erases all of it now and opts you out.' },
    ],
  });
}

const data = new SlashCommandBuilder()
  .setName('privacy')
  .setDescription('What the baby stores about you in this server')
  .setContexts(InteractionContextType.Guild)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .toJSON();

export default {
  data,
  async execute(interaction, { collection }) {
    const guildId = await guildOnly(interaction);
    if (guildId === undefined) return;
    const [report, collecting] = await Promise.all([
      collection.privacy(guildId, interaction.user.id),
      collection.channels(guildId),
    ]);
    await replyEphemeral(interaction, { embeds: [privacyEmbed(report, collecting)] });
  },
} satisfies Command;
