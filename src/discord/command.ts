/**
 * The shape of a slash command module (discord.js create-discord-bot style): `export default { data, execute }
 * satisfies Command`, plus `button` for the buttons the command puts on its messages.
 */
import type { ButtonInteraction, ChatInputCommandInteraction, RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import type { Logger } from '../log.js';
import type { CollectionService } from '../service/collection.js';
import type { GenerationService } from '../service/types.js';

export interface CommandContext {
  service: GenerationService;
  /** Per-server settings, collection and member controls. */
  collection: CollectionService;
  log: Logger;
  /** Reply directly when the answer is ready within this many ms; otherwise defer, then edit. */
  deferAfterMs: number;
}

export interface Command {
  /** The definition registered with Discord (bounds included). */
  data: RESTPostAPIChatInputApplicationCommandsJSONBody;
  execute(interaction: ChatInputCommandInteraction, context: CommandContext): Promise<void>;
  /** Presses of buttons whose custom id starts with "<command name>:". */
  button?(interaction: ButtonInteraction, context: CommandContext): Promise<void>;
}

/** Discord's interaction deadline is 3 s; deferring after 1.5 s leaves room for a slow network. */
export const DEFAULT_DEFER_AFTER_MS = 1500;

/** The custom id of a button handled by `command`'s `button`: "<command>:<parts joined by :>". */
export function buttonId(command: string, ...parts: string[]): string {
  return [command, ...parts].join(':');
}
