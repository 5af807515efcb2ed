/**
 * Entry point of `npm start`: runs the bot until it stops, then exits with its code. All logic lives in ./bot.ts;
 * with SHARDS set, this process runs the shards instead (./shard.ts), each of them this same entry point.
 */
import dotenv from 'dotenv';
import { main } from './bot.js';
import { isShardManager, runShardManager } from './shard.js';

// Before deciding whether to shard: SHARDS may come from .env (real environment variables win).
dotenv.config({ quiet: true });
process.exit(await (isShardManager(process.env) ? runShardManager() : main()));
