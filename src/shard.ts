/**
 * `SHARDS=auto|N`: discord.js's ShardingManager runs this same entry point once per shard, each a child process
 * (discord.js gives each child its shard id and count, and the Discord client picks them up). The shards share
 * the storage, the training lock and model swaps through Redis, so sharding needs STORAGE_URL=redis://…
 * `auto` asks Discord (discord.com, not DISCORD_API_URL) how many shards.
 *
 * Shards over several hosts: `SHARD_COUNT` (the total over every host) with `SHARD_IDS` (this host's: "0-3",
 * "4,5,6-7"), given to the manager as totalShards and shardList; each host runs only its own shards, so each server
 * is answered by exactly one host. Hosts share no folder: server versions trained on one host reach the others
 * through an S3 model store (MODEL_STORE_URL=s3://…, pointers in Redis) and every process keeps serving what the
 * pointers name (swap-bus.ts, model-reconcile.ts); with the default folder store each host has only its own.
 *
 * The settings are read and checked with the rest of the configuration (src/config.ts); the manager checks it all
 * once, so a bad setting is reported once, not by every shard. A shard child is recognised by SHARDING_MANAGER in
 * its environment (set by discord.js) and runs the bot as usual.
 * Stopping: SIGTERM is passed on to every shard (each stops gracefully, bot.ts) and the manager exits 0 when all
 * exited 0; on SIGINT the shards, in the same process group, got the signal from the terminal themselves. A shard
 * that dies on its own is not respawned: every other shard is stopped and the manager exits 1 (the supervisor
 * restarts the whole bot).
 */
import { ChildProcess } from 'node:child_process';
import dotenv from 'dotenv';
import { ShardingManager } from 'discord.js';
import { ConfigError, parseConfig, type Config } from './config.js';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from './log.js';
import { errorMessage } from './error-message.js';

/** True in the process that should run the ShardingManager: SHARDS or SHARD_COUNT set and not itself a shard. */
export function isShardManager(env: NodeJS.ProcessEnv): boolean {
  return !env.SHARDING_MANAGER && ((env.SHARDS ?? '').trim() !== '' || (env.SHARD_COUNT ?? '').trim() !== '');
}

export interface ShardManagerOptions {
  env?: NodeJS.ProcessEnv;
  /** The entry script each shard runs (default: the one this process runs). */
  file?: string;
  /** Node options for the shards (default: this process's, e.g. tsx's loader). */
  execArgv?: string[];
  /** Between two shards' logins (Discord allows one IDENTIFY per 5 s). Default 5500 ms. */
  spawnDelayMs?: number;
  /** How long a shard may take to log in. Default 120 000 ms. */
  readyTimeoutMs?: number;
  log?: Logger;
}

/** Runs the shards until they stop; resolves with the exit code. */
export async function runShardManager(options: ShardManagerOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  if (!options.env) dotenv.config({ quiet: true });
  let config: Config;
  try {
    config = parseConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const level = (env.LOG_LEVEL ?? '').trim().toLowerCase();
    const log =
      options.log ?? createLogger((LOG_LEVELS as readonly string[]).includes(level) ? (level as LogLevel) : 'info');
    for (const problem of error.problems) log.fatal(problem);
    return 1;
  }
  const log = options.log ?? createLogger(config.logLevel);
  const { shards, shardList, discordToken: token } = config;
  if (shards === undefined) {
    log.fatal('neither SHARDS nor SHARD_COUNT is set: nothing to shard');
    return 1;
  }
  const file = options.file ?? process.argv[1];
  if (!file) {
    log.fatal('cannot tell which script the shards should run');
    return 1;
  }
  const manager = new ShardingManager(file, {
    totalShards: shards,
    // SHARD_IDS: this host runs these of SHARD_COUNT shards; the other hosts run the rest.
    ...(shardList ? { shardList } : {}),
    token,
    mode: 'process',
    respawn: false,
    execArgv: options.execArgv ?? process.execArgv,
  });

  let stopping = false;
  let failed = false;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const exits = new Map<number, number | null>();
  /** Done once every shard that was started has exited. */
  const checkDone = () => {
    if ([...manager.shards.values()].every((s) => exits.has(s.id) || !s.process)) resolveDone();
  };
  const stopAll = () => {
    for (const shard of manager.shards.values()) {
      if (!exits.has(shard.id) && shard.process && shard.process.exitCode === null) shard.process.kill('SIGTERM');
    }
  };
  manager.on('shardCreate', (shard) => {
    log.info({ shard: shard.id, of: manager.totalShards }, 'shard starting');
    shard.on('spawn', (child) => {
      if (!(child instanceof ChildProcess)) return; // mode 'process': always a child process
      // Started while stopping (a signal during start-up): stop it at once too.
      if (stopping) child.kill('SIGTERM');
      child.once('exit', (code) => {
        exits.set(shard.id, code);
        if (!stopping) {
          failed = true;
          stopping = true;
          log.error({ shard: shard.id, code }, 'a shard stopped on its own: stopping the others');
          stopAll();
        }
        if (stopping) checkDone();
      });
    });
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping the shards');
    if (signal === 'SIGTERM') stopAll();
    checkDone();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    try {
      await manager.spawn({
        amount: shards,
        delay: options.spawnDelayMs ?? 5500,
        timeout: options.readyTimeoutMs ?? 120_000,
      });
      if (!stopping) log.info({ shards: manager.totalShards }, 'all shards serving');
    } catch (error) {
      if (!stopping) {
        log.fatal({ err: error }, `the shards could not start: ${errorMessage(error)}`);
        failed = true;
        stopping = true;
        stopAll();
      }
      checkDone();
    }
    await done;
    const codes = [...exits.values()];
    log.info({ codes }, 'shards stopped');
    return failed || codes.some((c) => c !== 0) ? 1 : 0;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
