/**
 * /forget — erase everything Babble stored about me in this server and opt me out, after I confirm with a button.
 */
import {
  ApplicationIntegrationType,
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  InteractionContextType,
  MessageFlags,
  SlashCommandBuilder,
  type ButtonInteraction,
} from 'discord.js';
import type { ForgetResult } from '../../service/collection.js';
import { buttonId, type Command } from '../command.js';
import { guildOnly } from '../respond.js';
import { noPings } from '../message-rules.js';
import { countText } from '../../count-text.js';

export const FORGET_CONFIRM = 'confirm';
export const FORGET_CANCEL = 'cancel';

export function forgetDoneText(result: ForgetResult): string {
  return (
    `Done. I erased ${countText(result.messages)} collected message${result.messages === 1 ? '' : 's'} and ` +
    `${countText(result.taught)} taught text${result.taught === 1 ? '' : 's'} of yours in this server, and ` +
    'opted you out: your messages here are no longer stored (`/optin` undoes that). A model already trained keeps what ' +
    'it learned until the next retraining.'
  );
}

const data = new SlashCommandBuilder()
  .setName('forget')
  .setDescription('Erase everything the baby stored about you in this server, and opt out')
  .setContexts(InteractionContextType.Guild)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .toJSON();

function buttons(userId: string) {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder()
      .setCustomId(buttonId('forget', FORGET_CONFIRM, userId))
      .setLabel('Erase everything')
      .setStyle(ButtonStyle.Danger),
    new ButtonBuilder()
      .setCustomId(buttonId('forget', FORGET_CANCEL, userId))
      .setLabel('Cancel')
      .setStyle(ButtonStyle.Secondary),
  );
}

async function onButton(
  interaction: ButtonInteraction,
  { collection, log }: Parameters<NonNullable<Command['button']>>[1],
): Promise<void> {
  const [, action, userId] = interaction.customId.split(':');
  if (userId !== interaction.user.id || !interaction.inGuild()) {
    await interaction.reply({
      content: 'This button is not for you: use `/forget` yourself.',
      flags: MessageFlags.Ephemeral,
      allowedMentions: noPings(),
    });
    return;
  }
  if (action === FORGET_CANCEL) {
    await interaction.update({ content: 'Nothing was erased.', components: [], allowedMentions: noPings() });
    return;
  }
  if (action !== FORGET_CONFIRM) {
    await interaction.reply({
      content: 'That button no longer does anything.',
      flags: MessageFlags.Ephemeral,
      allowedMentions: noPings(),
    });
    return;
  }
  await interaction.deferUpdate();
  const result = await collection.forget(interaction.guildId, userId);
  log.info({ guild: interaction.guildId, user: userId, ...result }, 'member data erased');
  await interaction.editReply({ content: forgetDoneText(result), components: [], allowedMentions: noPings() });
}

export default {
  data,
  async execute(interaction) {
    const guildId = await guildOnly(interaction);
    if (guildId === undefined) return;
    await interaction.reply({
      content:
        'This erases everything Babble stored about you in this server (collected messages and texts you taught) and ' +
        'opts you out of collection. It cannot be undone. Erase everything?',
      components: [buttons(interaction.user.id)],
      flags: MessageFlags.Ephemeral,
      allowedMentions: noPings(),
    });
  },
  button: onButton,
} satisfies Command;
