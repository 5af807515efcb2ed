/**
 * /settings [reply-chance] [cooldown] [temperature] — the server's settings (server managers); no option shows
 * them. Manage Server only: by default permissions, and checked again here.
 */
import {
  ApplicationIntegrationType,
  InteractionContextType,
  PermissionFlagsBits,
  SlashCommandBuilder,
} from 'discord.js';
import { SETTING_LIMITS, type GuildSettings } from '../../service/settings.js';
import type { Command } from '../command.js';
import { guildOnly, replyEphemeral, requireManageGuild } from '../respond.js';

export function settingsText(settings: GuildSettings, changed: boolean): string {
  return [
    changed ? 'Saved. The settings of this server are now:' : 'The settings of this server:',
    `- reply-chance: ${settings.replyChance} % (chance that the baby babbles a reply to a message in a collection channel)`,
    `- cooldown: ${settings.cooldownSeconds} s (after such a reply, none in that channel for this long)`,
    `- temperature: ${settings.temperature} (how wild its replies are; also /babble's default)`,
  ].join('\n');
}

const L = SETTING_LIMITS;
const data = new SlashCommandBuilder()
  .setName('settings')
  .setDescription("This server's settings for the baby (server managers); no option shows them")
  .setContexts(InteractionContextType.Guild)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
  .addIntegerOption((o) =>
    o
      .setName('reply-chance')
      .setDescription('Chance in % of an unprompted reply to a message in a collection channel (0 = never)')
      .setMinValue(L.replyChance.min)
      .setMaxValue(L.replyChance.max),
  )
  .addIntegerOption((o) =>
    o
      .setName('cooldown')
      .setDescription('Seconds without unprompted replies in a channel after one')
      .setMinValue(L.cooldownSeconds.min)
      .setMaxValue(L.cooldownSeconds.max),
  )
  .addNumberOption((o) =>
    o
      .setName('temperature')
      .setDescription('How wild replies are: 0 to 2')
      .setMinValue(L.temperature.min)
      .setMaxValue(L.temperature.max),
  )
  .toJSON();

export default {
  data,
  async execute(interaction, { collection }) {
    const guildId = await guildOnly(interaction);
    if (guildId === undefined || !(await requireManageGuild(interaction))) return;
    const patch: Partial<GuildSettings> = {};
    const replyChance = interaction.options.getInteger('reply-chance');
    const cooldown = interaction.options.getInteger('cooldown');
    const temperature = interaction.options.getNumber('temperature');
    if (replyChance !== null) patch.replyChance = replyChance;
    if (cooldown !== null) patch.cooldownSeconds = cooldown;
    if (temperature !== null) patch.temperature = temperature;
    const changed = Object.keys(patch).length > 0;
    const settings = changed ? await collection.updateSettings(guildId, patch) : await collection.getSettings(guildId);
    await replyEphemeral(interaction, settingsText(settings, changed));
  },
} satisfies Command;
