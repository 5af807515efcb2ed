/**
 * The one interaction router, with the one error boundary: whatever a command or one of its buttons does wrong,
 * the user gets a short ephemeral message, the log gets the stack, and the process stays up.
 */
import { MessageFlags, type Interaction, type RepliableInteraction } from 'discord.js';
import { newErrorId, withErrorId } from '../service/failure.js';
import { UNANSWERED, type Command, type CommandContext } from './command.js';
import { noPings } from './message-rules.js';
import { handleRefusal, interactionTarget } from './permissions.js';

export const OOPS = 'Oops, the baby dropped something. Try again?';
/** What a member is told when the store failed: nothing was done, try again. */
export const STORAGE_TROUBLE =
  "The baby's memory (its storage) isn't working right now, so that didn't go through. Please try again in a little while.";

export type InteractionRouter = (interaction: Interaction) => Promise<void>;

/**
 * A user-facing message for errors that are the user's doing (InvalidRequestError: its message) or a storage
 * failure (STORAGE_TROUBLE); undefined for anything else (a bug: OOPS).
 */
export function userMessage(error: unknown): string | undefined {
  if (error instanceof Error && error.name === 'InvalidRequestError') return error.message;
  if (error instanceof Error && error.name === 'StorageError') return STORAGE_TROUBLE;
  return undefined;
}

async function answerError(interaction: RepliableInteraction, content: string): Promise<void> {
  if (interaction.deferred && !interaction.replied) {
    await interaction.editReply({ content, allowedMentions: noPings() });
  } else if (interaction.replied) {
    await interaction.followUp({ content, flags: MessageFlags.Ephemeral, allowedMentions: noPings() });
  } else {
    await interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: noPings() });
  }
}

/**
 * Routes chat-input commands by name and buttons by the command name before the first ':'. Never rejects. An
 * answer Discord refused for lack of a permission (an embed without Embed Links…) is explained to the member and
 * logged once per channel and hour (permissions.ts), instead of "Oops".
 */
export function createInteractionRouter(commands: readonly Command[], context: CommandContext): InteractionRouter {
  const byName = new Map(commands.map((c) => [c.data.name, c]));
  const { log } = context;

  return async (interaction) => {
    if (!interaction.isChatInputCommand() && !interaction.isButton()) return;
    const name = interaction.isChatInputCommand() ? interaction.commandName : interaction.customId.split(':')[0]!;
    const command = byName.get(name);
    const where = {
      ...(interaction.isButton() ? { button: interaction.customId } : {}),
      command: name,
      interaction: interaction.id,
      guild: interaction.guildId,
      user: interaction.user.id,
    };
    try {
      const started = Date.now();
      if (interaction.isChatInputCommand()) {
        if (!command) {
          log.warn(where, 'unknown command');
          await interaction.reply({
            content: `I don't know /${name}. Try /help.`,
            flags: MessageFlags.Ephemeral,
            allowedMentions: noPings(),
          });
          return;
        }
        if ((await command.execute(interaction, context)) === UNANSWERED) {
          log.debug({ ...where, ms: Date.now() - started }, 'command left unanswered');
          return;
        }
      } else {
        if (!command?.button) {
          log.warn(where, 'unknown button');
          await interaction.reply({
            content: 'That button no longer does anything.',
            flags: MessageFlags.Ephemeral,
            allowedMentions: noPings(),
          });
          return;
        }
        await command.button(interaction, context);
      }
      log.info({ ...where, ms: Date.now() - started }, 'command done');
    } catch (error) {
      const target = interactionTarget(interaction);
      if (await handleRefusal(error, { log, target, interaction, context: where })) return;
      const forUser = userMessage(error);
      const refused = forUser !== undefined && error instanceof Error && error.name === 'InvalidRequestError';
      // Anything but a refusal: a fixed text and the id of the log line with the details.
      const errorId = refused ? undefined : newErrorId();
      if (refused) log.info({ ...where, reason: forUser }, 'command refused');
      else log.error({ ...where, err: error, errorId }, 'command failed');
      try {
        await answerError(interaction, errorId ? withErrorId(forUser ?? OOPS, errorId) : forUser!);
      } catch (answerFailure) {
        log.error({ ...where, err: answerFailure }, 'could not tell the user about the failure');
      }
    }
  };
}
