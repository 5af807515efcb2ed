/**
 * Helpers for /model (wired by src/discord/commands/model.ts): the info embed, the version history it shows, and
 * `/model rollback [version]`.
 *
 * - `modelInfoEmbed(info)`: version, date, training text and figures of a model.
 * - `rollbackSubcommand(builder)` adds the rollback subcommand to /model's definition.
 * - `executeRollback(interaction, deps)` handles it: server only, Manage Server re-checked, refused while a
 *   training of the server runs; flips the server's pointer (registry.ts, same atomic way as a commit) and puts the
 *   model in the cache at once. Version 0 = the base model; no version = the one before the current.
 * - `historyFields(history)` / `modelInfoWithHistory(info, history)` for /model info.
 */
import type { APIEmbed, APIEmbedField, ChatInputCommandInteraction, SlashCommandSubcommandBuilder } from 'discord.js';
import type { ModelCache } from '../../service/model-cache.js';
import type { History, ModelRegistry } from '../../service/registry.js';
import { RegistryError } from '../../service/scope.js';
import type { RetrainManager } from '../../service/retrain.js';
import type { ModelInfo } from '../../service/types.js';
import { guildOnly, replyEphemeral, requireManageGuild } from '../respond.js';
import { clampEmbed, noPings } from '../message-rules.js';
import { historyShare } from '../uptake-text.js';
import { countText } from '../../count-text.js';

export interface ModelHistoryDeps {
  registry: ModelRegistry;
  /** Where the rolled-back model is swapped in at once. */
  models: Pick<ModelCache, 'install'>;
  /** When given, a rollback is refused while the server's training runs. */
  manager?: RetrainManager;
}

function formatValue(v: unknown): string {
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return countText(v);
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

/** Which model is talking: version, when and on how much text it was trained, training figures. */
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
        value:
          `${countText(info.trainingChars)} characters` +
          (info.corpusSha256 ? `\nsha256 ${info.corpusSha256.slice(0, 12)}…` : ''),
        inline: true,
      },
      {
        name: 'Size',
        value: `${countText(info.parameters)} parameters, ${info.vocabSize} characters in the alphabet`,
      },
      { name: 'Training figures', value: training || 'none recorded' },
      ...(info.source ? [{ name: 'Imported from', value: sourceText(info.source) }] : []),
    ],
  });
}

/** "baby.keras (Keras 3.3.3, keras3), sha256 0123456789ab…, window of 40 characters" */
function sourceText(source: NonNullable<ModelInfo['source']>): string {
  const keras = source.kerasVersion ? `Keras ${source.kerasVersion}, ` : '';
  const window = source.window !== undefined ? `, window of ${source.window} characters` : '';
  return `${source.file} (${keras}${source.format}), sha256 ${source.sha256.slice(0, 12)}…${window}`;
}

/** Adds `rollback [version]` to a /model builder: `.addSubcommand(rollbackSubcommand)`. */
export function rollbackSubcommand(s: SlashCommandSubcommandBuilder): SlashCommandSubcommandBuilder {
  return s
    .setName('rollback')
    .setDescription("Go back to an earlier version of this server's model (server managers)")
    .addIntegerOption((o) =>
      o
        .setName('version')
        .setDescription('The version to serve (0 = the base model); default: the one before')
        .setMinValue(0)
        .setMaxValue(999_999_999),
    );
}

const bits = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(3) : 'n/a');

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function dateOf(iso: unknown): string {
  const ms = typeof iso === 'string' ? Date.parse(iso) : NaN;
  return Number.isNaN(ms) ? 'unknown date' : `<t:${Math.floor(ms / 1000)}:R>`;
}

/** One line per kept version, newest first, the serving one marked; then the models that were kept aside. */
export function historyFields(history: History): APIEmbedField[] {
  const lines = history.versions.map((v) => {
    const d = v.record?.details ?? {};
    const held = record(record(d.heldOut)?.after);
    const before = record(record(d.heldOut)?.before);
    const who = typeof d.requestedBy === 'string' ? ` by <@${d.requestedBy}>` : '';
    const figures = held
      ? ` · server ${bits(before?.server)}→${bits(held.server)}, corpus ${bits(before?.base)}→${bits(held.base)} bits/char`
      : '';
    const mark = v.version === history.current ? ' **(talking now)**' : '';
    const broken = v.complete ? '' : ' ⚠ damaged, cannot be used';
    return `**${v.version}**${mark} · ${dateOf(v.record?.committed ?? v.meta?.created)}${who}${historyShare(d)}${figures}${broken}`;
  });
  lines.push(`**0** (the base model)${history.current === 0 ? ' **(talking now)**' : ''}`);
  const fields: APIEmbedField[] = [{ name: 'Versions (/model rollback version:N)', value: lines.join('\n') }];
  if (history.rejected.length > 0) {
    const rejected = history.rejected.map((r) => {
      const reasons = r.details?.reasons;
      const why = Array.isArray(reasons)
        ? reasons.filter((x) => typeof x === 'string').join(' ')
        : 'no reason recorded';
      const at = /^rejected-(\d{8}T\d{6})/.exec(r.name)?.[1];
      const when = at
        ? dateOf(
            `${at.slice(0, 4)}-${at.slice(4, 6)}-${at.slice(6, 8)}T${at.slice(9, 11)}:${at.slice(11, 13)}:${at.slice(13, 15)}Z`,
          )
        : '';
      return `${when ? `${when}: ` : ''}${why}`;
    });
    fields.push({ name: 'Kept aside (failed the quality check, never used)', value: rejected.join('\n') });
  }
  return fields;
}

/** /model info's embed with the history fields after the model's own. */
export function modelInfoWithHistory(info: ModelInfo, history: History): APIEmbed {
  const embed = modelInfoEmbed(info);
  return clampEmbed({ ...embed, fields: [...(embed.fields ?? []), ...historyFields(history)] });
}

/** Handles `/model rollback [version]`. */
export async function executeRollback(interaction: ChatInputCommandInteraction, deps: ModelHistoryDeps): Promise<void> {
  const guildId = await guildOnly(interaction);
  if (guildId === undefined || !(await requireManageGuild(interaction))) return;
  const running = deps.manager?.get(guildId);
  if (running) {
    await replyEphemeral(
      interaction,
      "A training of this server's model is running or waiting. Wait for it to finish, or stop it with /retrain cancel, then roll back.",
    );
    return;
  }
  const version = interaction.options.getInteger('version') ?? undefined;
  await interaction.deferReply();
  let result: Awaited<ReturnType<typeof deps.registry.rollback>>;
  try {
    result = await deps.registry.rollback(guildId, version);
  } catch (err) {
    if (!(err instanceof RegistryError)) throw err;
    await interaction.editReply({ content: `Could not roll back: ${err.message}`, allowedMentions: noPings() });
    return;
  }
  deps.models.install(guildId, result.version, result.model);
  await interaction.editReply({
    content:
      result.version === 0
        ? 'Rolled back: the base model is talking in this server now.'
        : `Rolled back: version ${result.version} is talking in this server now.`,
    allowedMentions: noPings(),
  });
}
