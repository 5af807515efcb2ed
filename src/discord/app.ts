/**
 * The Discord side of the bot, start to stop: the client (only the intents in use), the interaction router, mention
 * replies, command registration when the definitions changed, and clear messages when Discord says no.
 */
import {
  Client,
  DiscordjsErrorCodes,
  Events,
  GatewayCloseCodes,
  GatewayIntentBits,
  Options,
  Partials,
  type CloseEvent,
} from 'discord.js';
import { TOKEN_HELP } from '../config.js';
import type { Logger } from '../log.js';
import type { CollectionService } from '../service/collection.js';
import type { ModelRegistry } from '../service/registry.js';
import type { GenerationService } from '../service/types.js';
import { attachCollector } from './collector.js';
import { DEFAULT_DEFER_AFTER_MS, fixedModels, type Command, type ModelSource, type RetrainContext } from './command.js';
import { commands as defaultCommands } from './commands/index.js';
import { syncCommands, type SyncResult } from './deploy.js';
import { handleMessage } from './mentions.js';
import { createInteractionRouter } from './router.js';

/**
 * Guilds (interactions in servers, channel cache, the bot leaving a server), GuildMessages (mentions, and
 * messages, edits and deletes in collection channels) and MessageContent (what was said; privileged, so it must
 * be enabled in the developer portal).
 */
export const INTENTS = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent] as const;

export const PORTAL = 'https://discord.com/developers/applications';

/** Something Discord refused that retrying won't fix; the message says what to do. */
export class FatalBotError extends Error {
  override name = 'FatalBotError';
  constructor(message: string, readonly closeCode?: number) {
    super(message);
  }
}

const FATAL_CLOSE_CODES = new Set<number>([
  GatewayCloseCodes.AuthenticationFailed,
  GatewayCloseCodes.InvalidShard,
  GatewayCloseCodes.ShardingRequired,
  GatewayCloseCodes.InvalidAPIVersion,
  GatewayCloseCodes.InvalidIntents,
  GatewayCloseCodes.DisallowedIntents,
]);

const TOKEN_REJECTED = `Discord rejected DISCORD_TOKEN (401 Unauthorized): it is wrong or was reset; ${TOKEN_HELP}`;

/** What to tell a person when the gateway closed for good with this code. */
export function explainCloseCode(code: number): string {
  switch (code) {
    case GatewayCloseCodes.DisallowedIntents:
      return (
        'Discord refused the gateway connection (close code 4014, disallowed intents): this bot needs the privileged ' +
        `"Message Content Intent". Enable it at ${PORTAL} → your app → Bot → Privileged Gateway Intents → ` +
        '"Message Content Intent", save, then start the bot again.'
      );
    case GatewayCloseCodes.AuthenticationFailed:
      return `Discord rejected DISCORD_TOKEN at the gateway (close code 4004, authentication failed); ${TOKEN_HELP}`;
    case GatewayCloseCodes.InvalidIntents:
      return 'Discord refused the gateway connection (close code 4013, invalid intents): this is a bug in the bot.';
    default:
      return `Discord closed the gateway connection for good (close code ${code}, ${GatewayCloseCodes[code] ?? 'unknown'}).`;
  }
}

/** A clear message for a failed login, using the gateway close code if one was seen. */
export function explainLoginError(error: unknown, closeCode: number | undefined, apiUrl: string): string {
  if (closeCode !== undefined && FATAL_CLOSE_CODES.has(closeCode)) return explainCloseCode(closeCode);
  const e = error as { code?: unknown; status?: unknown; message?: unknown } | null;
  if (e?.code === DiscordjsErrorCodes.TokenInvalid || e?.status === 401) return TOKEN_REJECTED;
  const message = e && typeof e.message === 'string' ? e.message : String(error);
  return `Could not log in to Discord at ${apiUrl}: ${message}`;
}

/** Removes every part of the token (and discord.js's "Provided token" line) from a log message. */
export function redactToken(message: string, token: string): string {
  let out = message.replace(/Provided token: \S+/g, 'Provided token: [redacted]');
  for (const part of [token, ...token.split('.')]) {
    if (part.length >= 6) out = out.split(part).join('[redacted]');
  }
  return out;
}

export interface BotOptions {
  token: string;
  /** REST base, e.g. https://discord.com/api (the gateway URL comes from GET /gateway/bot). */
  apiUrl: string;
  /** Register commands to this guild instead of globally. */
  devGuildId?: string | undefined;
  /** The model each server talks with (the bot: a ModelCache over the registry). */
  models?: ModelSource;
  /** Instead of `models`: one fixed service for every server (tests, tools). */
  service?: GenerationService;
  /** Per-server model versions: /model info's history and /model rollback. */
  registry?: ModelRegistry;
  /** Retraining: /retrain. */
  retrain?: RetrainContext;
  /** Per-server settings and message collection. */
  collection: CollectionService;
  log: Logger;
  /** The slash commands (default: src/discord/commands). */
  commands?: readonly Command[];
  deferAfterMs?: number;
  /** Called at most once if Discord ends the connection for good after start-up (e.g. intents revoked). */
  onFatal?: (error: FatalBotError) => void;
}

export interface RunningBot {
  client: Client<true>;
  applicationId: string;
  userId: string;
  /** What start-up did about the commands; undefined if checking them failed (logged). */
  commandSync: SyncResult | undefined;
  /** Logs out and closes the connection. */
  stop(): Promise<void>;
}

/**
 * Logs in, waits until ready, registers the commands if they changed, and serves. Rejects with a FatalBotError
 * (clear message, no retry loop) when the token is rejected or the gateway refuses the intents.
 */
export async function startBot(options: BotOptions): Promise<RunningBot> {
  const { log, collection } = options;
  const models = options.models ?? (options.service ? fixedModels(options.service) : undefined);
  if (!models) throw new TypeError('startBot needs `models` or `service`');
  const commands = options.commands ?? defaultCommands;
  const client = new Client({
    intents: [...INTENTS],
    rest: { api: options.apiUrl },
    allowedMentions: { parse: [], repliedUser: false },
    failIfNotExists: false,
    // No message is kept in memory; edits and deletes of uncached messages still arrive, as partials.
    makeCache: Options.cacheWithLimits({ ...Options.DefaultMakeCacheSettings, MessageManager: 0 }),
    partials: [Partials.Message, Partials.Channel],
  });

  let started = false;
  let lastCloseCode: number | undefined;
  let fatal: FatalBotError | undefined;
  let rejectStartup: (error: FatalBotError) => void = () => undefined;
  const fatalDuringStartup = new Promise<never>((_, reject) => {
    rejectStartup = reject;
  });
  fatalDuringStartup.catch(() => undefined);

  client.on(Events.ShardDisconnect, (event: CloseEvent, shardId: number) => {
    lastCloseCode = event.code;
    if (!FATAL_CLOSE_CODES.has(event.code) || fatal) return;
    fatal = new FatalBotError(explainCloseCode(event.code), event.code);
    log.error({ shard: shardId, code: event.code }, 'gateway closed for good');
    if (started) options.onFatal?.(fatal);
    else rejectStartup(fatal);
  });
  let stopping: Promise<void> | undefined;
  client.on(Events.ShardReconnecting, (shardId) => {
    if (!stopping) log.warn({ shard: shardId }, 'gateway reconnecting');
  });
  client.on(Events.ShardResume, (shardId, replayed) => log.info({ shard: shardId, replayed }, 'gateway resumed'));
  client.on(Events.Error, (error) => log.error({ err: error }, 'discord.js error'));
  client.on(Events.Warn, (message) => log.warn({ detail: message }, 'discord.js warning'));
  if (log.isLevelEnabled('trace')) {
    // discord.js's debug lines include "Provided token: <id>.<timestamp>.*****": no part of the token is logged.
    client.on(Events.Debug, (message) => log.trace({ detail: redactToken(message, options.token) }, 'discord.js debug'));
  }
  // One 401 makes @discordjs/rest drop the token: every later authenticated call would fail while the gateway
  // stays up (a bot that looks healthy but cannot speak). Stop for good with the token message instead.
  client.rest.on('response', (request, response) => {
    if (response.status !== 401 || request.data.auth === false || fatal) return;
    fatal = new FatalBotError(TOKEN_REJECTED);
    log.error({ route: request.route }, 'Discord rejected the token on a REST call');
    if (started) options.onFatal?.(fatal);
    else rejectStartup(fatal);
  });
  client.rest.on('rateLimited', (info) => log.warn({ route: info.route, retryAfter: info.retryAfter, global: info.global }, 'rate limited'));

  const route = createInteractionRouter(commands, {
    models,
    registry: options.registry,
    retrain: options.retrain,
    collection,
    log,
    deferAfterMs: options.deferAfterMs ?? DEFAULT_DEFER_AFTER_MS,
  });
  client.on(Events.InteractionCreate, (interaction) => {
    route(interaction).catch((error: unknown) => log.error({ err: error }, 'interaction router failed'));
  });
  client.on(Events.MessageCreate, (message) => {
    const botId = client.user?.id;
    if (!botId) return;
    handleMessage(message, botId, { models, log, collection }).catch((error: unknown) => log.error({ err: error }, 'message handler failed'));
  });
  attachCollector(client, { collection, models, log });

  const ready = new Promise<Client<true>>((resolve) => client.once(Events.ClientReady, resolve));
  try {
    await Promise.race([client.login(options.token), fatalDuringStartup]);
    await Promise.race([ready, fatalDuringStartup]);
  } catch (error) {
    await client.destroy();
    if (error instanceof FatalBotError) throw error;
    throw new FatalBotError(explainLoginError(error, lastCloseCode, options.apiUrl), lastCloseCode);
  }
  const readyClient = await ready;
  const applicationId = readyClient.application.id;
  const userId = readyClient.user.id;
  log.info({ user: readyClient.user.tag, userId, applicationId, guilds: readyClient.guilds.cache.size }, 'logged in');

  let commandSync: SyncResult | undefined;
  try {
    commandSync = await syncCommands(client.rest, applicationId, options.devGuildId, commands.map((c) => c.data), log);
  } catch (error) {
    log.error({ err: error }, 'could not check or register the slash commands; serving anyway (try npm run deploy-commands)');
  }

  if (fatal) {
    await client.destroy();
    throw fatal;
  }
  started = true;
  return {
    client: readyClient,
    applicationId,
    userId,
    commandSync,
    stop: () => {
      stopping ??= client.destroy().then(() => log.info('logged out'));
      return stopping;
    },
  };
}
