/**
 * The one interaction router, with the one error boundary: whatever a command does wrong, the user gets a short
 * ephemeral message, the log gets the stack, and the process stays up.
 */
import { MessageFlags, type ChatInputCommandInteraction, type Interaction } from 'discord.js';
import type { Command, CommandContext } from './command.js';
import { noPings } from './safety.js';

export const OOPS = 'Oops, the baby dropped something. Try again?';

export type InteractionRouter = (interaction: Interaction) => Promise<void>;

/** A user-facing message for errors that are the user's doing (the service's InvalidRequestError), else undefined. */
function userMessage(error: unknown): string | undefined {
  if (error instanceof Error && error.name === 'InvalidRequestError') return error.message;
  return undefined;
}

async function answerError(interaction: ChatInputCommandInteraction, content: string): Promise<void> {
  if (interaction.deferred && !interaction.replied) {
    await interaction.editReply({ content, allowedMentions: noPings() });
  } else if (interaction.replied) {
    await interaction.followUp({ content, flags: MessageFlags.Ephemeral, allowedMentions: noPings() });
  } else {
    await interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: noPings() });
  }
}

/** Routes chat-input commands by name. The returned function never rejects. */
export function createInteractionRouter(commands: readonly Command[], context: CommandContext): InteractionRouter {
  const byName = new Map(commands.map((c) => [c.data.name, c]));
  const { log } = context;

  return async (interaction) => {
    if (!interaction.isChatInputCommand()) return;
    const command = byName.get(interaction.commandName);
    const where = { command: interaction.commandName, interaction: interaction.id, guild: interaction.guildId, user: interaction.user.id };
    try {
      if (!command) {
        log.warn(where, 'unknown command');
        await interaction.reply({
          content: `I don't know /${interaction.commandName}. Try /help.`,
          flags: MessageFlags.Ephemeral,
          allowedMentions: noPings(),
        });
        return;
      }
      const started = Date.now();
      await command.execute(interaction, context);
      log.info({ ...where, ms: Date.now() - started }, 'command done');
    } catch (error) {
      const forUser = userMessage(error);
      if (forUser) log.info({ ...where, reason: forUser }, 'command refused');
      else log.error({ ...where, err: error }, 'command failed');
      try {
        await answerError(interaction, forUser ?? OOPS);
      } catch (answerFailure) {
        log.error({ ...where, err: answerFailure }, 'could not tell the user about the failure');
      }
    }
  };
}
