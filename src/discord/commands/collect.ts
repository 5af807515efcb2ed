/**
 * /collect set channel:<#channel> enabled:<bool> — switch message collection on or off in a channel; switching
 * it on posts a notice there first (no notice, no collection). /collect status — where it is on.
 * Manage Server only: by default permissions, and checked again here.
 */
import {
  ApplicationIntegrationType,
  ChannelType,
  InteractionContextType,
  MessageFlags,
  PermissionFlagsBits,
  SlashCommandBuilder,
  type ChatInputCommandInteraction,
} from 'discord.js';
import type { CollectionChannel } from '../../service/collection.js';
import { collectionAccessProblem } from '../channel-access.js';
import type { Command, CommandContext } from '../command.js';
import { describeRefusal, interactionTarget, refusalLogFor, refusalText, SENDS } from '../permissions.js';
import { guildOnly, requireManageGuild } from '../respond.js';
import { clampContent, noPings } from '../message-rules.js';

/** Channel types collection can be switched on in. */
export const COLLECT_CHANNEL_TYPES = [ChannelType.GuildText, ChannelType.GuildAnnouncement] as const;

/** The visible notice posted in a channel when collection starts there. */
export function collectionNotice(retentionDays: number): string {
  return [
    '**Babble is now learning from this channel.**',
    'From now on, the baby stores what people write here (as plain lowercase text, without links or mentions) so ' +
      'that it can be retrained to talk more like this server. Messages from bots are not stored; edited and deleted ' +
      `messages are updated and removed; everything is deleted ${retentionDays} days after it was sent.`,
    'Your choice: `/optout` stops storing your messages, `/forget` erases everything stored about you here and opts ' +
      'you out, `/optin` undoes an opt-out, `/privacy` shows what is stored about you.',
  ].join('\n');
}

export function stoppedNotice(retentionDays: number): string {
  return (
    '**Babble stopped learning from this channel.** Nothing new is stored. What was stored stays until it is ' +
    `${retentionDays} days old, unless members erase it with \`/forget\`.`
  );
}

export function statusText(channels: readonly CollectionChannel[], waiting: number): string {
  const lines =
    channels.length === 0
      ? ['Collection is off in every channel of this server. Switch it on with `/collect set`.']
      : [
          'Collection is on in:',
          ...channels.map(
            (c) => `- <#${c.channelId}> since <t:${Math.floor(c.since / 1000)}:f> (switched on by <@${c.by}>)`,
          ),
        ];
  if (waiting > 0)
    lines.push(
      `Warning: ${waiting} message events are waiting to be saved (the storage is failing; they are retried).`,
    );
  return clampContent(lines.join('\n'));
}

const data = new SlashCommandBuilder()
  .setName('collect')
  .setDescription('Switch message collection on or off in a channel (server managers)')
  .setContexts(InteractionContextType.Guild)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
  .addSubcommand((s) =>
    s
      .setName('set')
      .setDescription('Switch collection on (posts a notice there) or off in a channel')
      .addChannelOption((o) =>
        o
          .setName('channel')
          .setDescription('The channel')
          .setRequired(true)
          .addChannelTypes(...COLLECT_CHANNEL_TYPES),
      )
      .addBooleanOption((o) => o.setName('enabled').setDescription('On or off').setRequired(true)),
  )
  .addSubcommand((s) => s.setName('status').setDescription('The channels where collection is on'))
  .toJSON();

async function set(
  interaction: ChatInputCommandInteraction,
  guildId: string,
  { collection, log }: CommandContext,
): Promise<void> {
  const channelOption = interaction.options.getChannel('channel', true, [...COLLECT_CHANNEL_TYPES]);
  const enabled = interaction.options.getBoolean('enabled', true);
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const answer = (content: string) =>
    interaction.editReply({ content: clampContent(content), allowedMentions: noPings() });
  const on = (await collection.channels(guildId)).some((c) => c.channelId === channelOption.id);
  const channel = await interaction.client.channels.fetch(channelOption.id).catch(() => null);
  const target = interactionTarget(interaction);

  if (enabled) {
    if (on) {
      await answer(`Collection is already on in <#${channelOption.id}>.`);
      return;
    }
    if (!channel || !channel.isSendable() || channel.isDMBased() || channel.guildId !== guildId) {
      await answer(`I can't see <#${channelOption.id}>, so I can't post the notice there; collection stays off.`);
      return;
    }
    // Private channels: the member asking must be able to view it, and the bot to read it.
    const access = collectionAccessProblem(channel, interaction.user.id, channel.guild.members.me);
    if (access) {
      const where = { guild: guildId, channel: channel.id, by: interaction.user.id };
      log.info(where, 'collection not switched on: channel not visible');
      await answer(access);
      return;
    }
    try {
      await channel.send({ content: collectionNotice(collection.retentionDays), allowedMentions: noPings() });
    } catch (error) {
      const refusal = describeRefusal(error, { ...target, channelId: channel.id }, SENDS.collectionNotice.shape);
      if (refusal) {
        refusalLogFor(log).note(refusal, { send: 'collectionNotice', by: interaction.user.id });
        await answer(`${refusalText(refusal)} The notice must go up first, so collection stays off.`);
        return;
      }
      log.warn(
        { err: error, guild: guildId, channel: channel.id },
        'could not post the collection notice; collection stays off',
      );
      await answer(
        `I couldn't post the notice in <#${channel.id}> (I need View Channel and Send Messages there), so collection stays off.`,
      );
      return;
    }
    await collection.setChannel(guildId, channel.id, true, interaction.user.id);
    log.info({ guild: guildId, channel: channel.id, by: interaction.user.id }, 'collection switched on');
    await answer(
      `Collection is on in <#${channel.id}>. I posted the notice there; members can \`/optout\`, \`/forget\` and \`/privacy\`.`,
    );
    return;
  }

  const changed = await collection.setChannel(guildId, channelOption.id, false, interaction.user.id);
  if (!changed) {
    await answer(`Collection was already off in <#${channelOption.id}>.`);
    return;
  }
  log.info({ guild: guildId, channel: channelOption.id, by: interaction.user.id }, 'collection switched off');
  let unposted = '';
  if (channel?.isSendable()) {
    try {
      await channel.send({ content: stoppedNotice(collection.retentionDays), allowedMentions: noPings() });
    } catch (error) {
      const refusal = describeRefusal(error, { ...target, channelId: channelOption.id }, SENDS.collectionNotice.shape);
      if (refusal) {
        refusalLogFor(log).note(refusal, { send: 'collectionNotice', by: interaction.user.id });
        unposted = ` (I couldn't say so in the channel. ${refusalText(refusal)})`;
      } else {
        log.warn({ err: error, guild: guildId, channel: channelOption.id }, 'could not post that collection stopped');
      }
    }
  }
  await answer(`Collection is off in <#${channelOption.id}>. Nothing new is stored there.${unposted}`);
}

export default {
  data,
  async execute(interaction, context) {
    const guildId = await guildOnly(interaction);
    if (guildId === undefined || !(await requireManageGuild(interaction))) return;
    const sub = interaction.options.getSubcommand(true);
    if (sub === 'set') {
      await set(interaction, guildId, context);
      return;
    }
    const channels = await context.collection.channels(guildId);
    await interaction.reply({
      content: statusText(channels, context.collection.pendingCount()),
      flags: MessageFlags.Ephemeral,
      allowedMentions: noPings(),
    });
  },
} satisfies Command;
