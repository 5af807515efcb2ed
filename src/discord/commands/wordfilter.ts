/**
 * /wordfilter add word:<word> · remove word:<word> · list — the words the baby never says in this server, on top
 * of the built-in profanity and slur list (server managers). Manage Server only: by default permissions, and
 * checked again here. Answers only the member sees; listed words are shown as spoilers.
 */
import {
  ApplicationIntegrationType,
  InteractionContextType,
  PermissionFlagsBits,
  SlashCommandBuilder,
} from 'discord.js';
import { BLOCKED_WORDS } from '../../service/blocked-words.js';
import type { Command } from '../command.js';
import { guildOnly, replyEphemeral, requireManageGuild } from '../respond.js';

/** The answer to /wordfilter list. */
export function wordListText(words: readonly string[], builtIn: boolean): string {
  const base = builtIn
    ? 'The built-in list of swear words and slurs is on (it also catches look-alike spellings).'
    : 'The built-in list of swear words and slurs is switched off on this bot.';
  if (words.length === 0) return `${base}\nThis server blocks no words of its own. Add one with \`/wordfilter add\`.`;
  const listed = words.map((w) => `||${w}||`).join(', ');
  return `${base}\nThis server also blocks ${words.length} of at most ${BLOCKED_WORDS.maxWords} words: ${listed}`;
}

const data = new SlashCommandBuilder()
  .setName('wordfilter')
  .setDescription('Words the baby never says in this server (server managers)')
  .setContexts(InteractionContextType.Guild)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
  .addSubcommand((s) =>
    s
      .setName('add')
      .setDescription('Block a word: babbles that contain it (or a look-alike spelling) are never sent')
      .addStringOption((o) =>
        o
          .setName('word')
          .setDescription('One word, letters only')
          .setRequired(true)
          .setMinLength(BLOCKED_WORDS.minLength)
          .setMaxLength(BLOCKED_WORDS.maxLength),
      ),
  )
  .addSubcommand((s) =>
    s
      .setName('remove')
      .setDescription('Unblock a word this server blocked')
      .addStringOption((o) =>
        o.setName('word').setDescription('The word').setRequired(true).setMaxLength(BLOCKED_WORDS.maxLength),
      ),
  )
  .addSubcommand((s) =>
    s.setName('list').setDescription('The words blocked in this server, and whether the built-in list is on'),
  )
  .toJSON();

export default {
  data,
  async execute(interaction, { moderation, log }) {
    const guildId = await guildOnly(interaction);
    if (guildId === undefined || !(await requireManageGuild(interaction))) return;
    const words = moderation?.words;
    if (!moderation || !words) {
      await replyEphemeral(interaction, 'Server word lists are switched off on this bot.');
      return;
    }
    const sub = interaction.options.getSubcommand(true);
    if (sub === 'list') {
      await replyEphemeral(interaction, wordListText(await words.list(guildId), moderation.builtIn));
      return;
    }
    const word = interaction.options.getString('word', true);
    const where = { guild: guildId, user: interaction.user.id };
    if (sub === 'add') {
      const added = await words.add(guildId, word);
      if (added) log.info(where, 'word filter: a word was added');
      const text = added ? 'Blocked: the baby will never say it here.' : 'That word was already blocked here.';
      await replyEphemeral(interaction, text);
      return;
    }
    const removed = await words.remove(guildId, word);
    if (removed) log.info(where, 'word filter: a word was removed');
    await replyEphemeral(interaction, removed ? 'Unblocked.' : "That word was not on this server's list.");
  },
} satisfies Command;
