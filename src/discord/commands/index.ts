/**
 * Every slash command the bot has, in registration order.
 */
import type { Command } from '../command.js';
import babble from './babble.js';
import help from './help.js';
import model from './model.js';

export const commands: readonly Command[] = [babble, help, model];
