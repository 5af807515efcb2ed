/**
 * /model info — which model is talking: version, when and on how much text it was trained, training figures.
 */
import { ApplicationIntegrationType, InteractionContextType, MessageFlags, SlashCommandBuilder, type APIEmbed } from 'discord.js';
import type { ModelInfo } from '../../service/types.js';
import type { Command } from '../command.js';
import { clampEmbed, noPings } from '../safety.js';

function formatValue(v: unknown): string {
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    return Number(v.toPrecision(4)).toString();
  }
  if (typeof v === 'string') return v;
  return JSON.stringify(v) ?? String(v);
}

/** "2025-11-25T14:00:00Z" → a Discord timestamp (shown in each reader's time zone), or the text as it is. */
function formatDate(iso: string): string {
  const ms = Date.parse(iso);
  if (iso === '' || Number.isNaN(ms)) return iso || 'unknown';
  const s = Math.floor(ms / 1000);
  return `<t:${s}:f> (<t:${s}:R>)`;
}

export function modelInfoEmbed(info: ModelInfo): APIEmbed {
  const training = Object.entries(info.training)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k}: ${formatValue(v)}`)
    .join('\n');
  return clampEmbed({
    title: `Model ${info.version}`,
    fields: [
      { name: 'Version', value: info.version, inline: true },
      { name: 'Trained', value: formatDate(info.created), inline: true },
      {
        name: 'Training text',
        value: `${info.trainingChars.toLocaleString('en-US')} characters` + (info.corpusSha256 ? `\nsha256 ${info.corpusSha256.slice(0, 12)}…` : ''),
        inline: true,
      },
      { name: 'Size', value: `${info.parameters.toLocaleString('en-US')} parameters, ${info.vocabSize} characters in the alphabet` },
      { name: 'Training figures', value: training || 'none recorded' },
    ],
  });
}

const data = new SlashCommandBuilder()
  .setName('model')
  .setDescription('About the model that does the talking')
  .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .addSubcommand((s) => s.setName('info').setDescription('Version, when and on how much text it was trained, training figures'))
  .toJSON();

export default {
  data,
  async execute(interaction, { service }) {
    const sub = interaction.options.getSubcommand(true);
    if (sub !== 'info') {
      await interaction.reply({ content: `I don't know /model ${sub}. Try /model info.`, flags: MessageFlags.Ephemeral, allowedMentions: noPings() });
      return;
    }
    await interaction.reply({ embeds: [modelInfoEmbed(service.info())], flags: MessageFlags.Ephemeral, allowedMentions: noPings() });
  },
} satisfies Command;
