/**
 * Entry point of `npm start`: runs the bot until it stops, then exits with its code. All logic lives in ./bot.ts.
 */
import { main } from './bot.js';

process.exit(await main());
