/**
 * Every slash command the bot has, in registration order. The same list is registered by `npm run
 * deploy-commands` and checked by the bot at start-up; run-time dependencies come in the CommandContext.
 */
import type { Command } from '../command.js';
import babble from './babble.js';
import collect from './collect.js';
import forget from './forget.js';
import help from './help.js';
import model from './model.js';
import optin from './optin.js';
import optout from './optout.js';
import privacy from './privacy.js';
import retrain from './retrain.js';
import settings from './settings.js';
import teach from './teach.js';
import wordfilter from './wordfilter.js';

export const commands: readonly Command[] = [
  babble,
  help,
  model,
  teach,
  privacy,
  optout,
  optin,
  forget,
  collect,
  settings,
  retrain,
  wordfilter,
];
