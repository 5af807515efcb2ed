/**
 * The Discord side of the bot, start to stop: the client (only the intents in use, bounded caches), the
 * interaction router, mention replies, rate limits, command registration when the definitions changed, clear
 * messages when Discord says no, and a graceful stop (no new work, in-flight replies finished, then log out).
 */
import {
  Client,
  DiscordjsErrorCodes,
  Events,
  GatewayCloseCodes,
  GatewayIntentBits,
  MessageFlags,
  Options,
  Partials,
  type CloseEvent,
  type Interaction,
} from 'discord.js';
import { TOKEN_HELP } from '../config.js';
import type { Logger } from '../log.js';
import type { CollectionService } from '../service/collection.js';
import { createModeration, type Moderation } from '../service/moderation.js';
import { createOutputFilter } from '../service/output-filter.js';
import type { ReplyLimiter } from '../service/rate-limiter.js';
import type { ModelRegistry } from '../service/registry.js';
import type { ServerErasure } from '../service/server-erasure.js';
import type { GenerationService } from '../service/types.js';
import { attachCollector } from './collector.js';
import { DEFAULT_DEFER_AFTER_MS, fixedModels, type Command, type ModelSource, type RetrainContext } from './command.js';
import { commands as defaultCommands } from './commands/index.js';
import { syncCommands, type SyncResult } from './deploy.js';
import { createWorkTracker, type WorkTracker } from './inflight.js';
import { handleMessage } from './mentions.js';
import { createInteractionRouter, type InteractionRouter } from './router.js';
import { noPings } from './message-rules.js';

/**
 * Guilds (interactions in servers, channel cache, the bot leaving a server), GuildMessages (mentions, and
 * messages, edits and deletes in collection channels) and MessageContent (what was said; privileged, so it must
 * be enabled in the developer portal).
 */
export const INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.MessageContent,
] as const;

export const PORTAL = 'https://discord.com/developers/applications';

/**
 * The most users and server members kept in discord.js's caches (the bot's own always stays): every message and
 * interaction carries its author, so without a bound these grow with every person ever seen. The least recently
 * added are dropped first, and everything but the bot is swept every hour.
 */
export const CACHE_LIMITS = { users: 1000, membersPerServer: 1000, sweepSeconds: 3600 } as const;

/** What a command gets while the bot is stopping (ephemeral). */
export const RESTARTING =
  'The baby is going to sleep for a moment (the bot is restarting). Please try again in a minute.';

/** How long `stop()` waits for replies in progress by default. */
export const DEFAULT_DRAIN_MS = 7000;

/**
 * discord.js's cache settings: no messages (edits and deletes of uncached messages arrive as partials), bounded
 * users and members, nothing for what the bot never uses (reactions, presences, voice, invites, bans, events,
 * stage instances, thread members, automod rules).
 */
export function cacheSettings(): Parameters<typeof Options.cacheWithLimits>[0] {
  return {
    ...Options.DefaultMakeCacheSettings,
    MessageManager: 0,
    UserManager: { maxSize: CACHE_LIMITS.users, keepOverLimit: (user) => user.id === user.client.user.id },
    GuildMemberManager: {
      maxSize: CACHE_LIMITS.membersPerServer,
      keepOverLimit: (member) => member.id === member.client.user.id,
    },
    ReactionManager: 0,
    ReactionUserManager: 0,
    PresenceManager: 0,
    VoiceStateManager: 0,
    GuildInviteManager: 0,
    GuildBanManager: 0,
    GuildScheduledEventManager: 0,
    StageInstanceManager: 0,
    ThreadMemberManager: 0,
    AutoModerationRuleManager: 0,
  };
}

/** discord.js's sweepers: the default (archived threads), plus users and members other than the bot every hour. */
export function sweeperSettings(): NonNullable<ConstructorParameters<typeof Client>[0]['sweepers']> {
  const interval = CACHE_LIMITS.sweepSeconds;
  return {
    ...Options.DefaultSweeperSettings,
    users: { interval, filter: () => (user) => user.id !== user.client.user.id },
    guildMembers: { interval, filter: () => (member) => member.id !== member.client.user.id },
  };
}

/** Something Discord refused that retrying won't fix; the message says what to do. */
export class FatalBotError extends Error {
  override name = 'FatalBotError';
  constructor(
    message: string,
    readonly closeCode?: number,
  ) {
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
  /** Rate limits on /babble, mentions and unprompted replies (none without). */
  limiter?: ReplyLimiter;
  /**
   * The word filter every generated text passes (/babble, mentions, unprompted replies) and /wordfilter's lists.
   * Default: the built-in list only, no server lists.
   */
  moderation?: Moderation;
  /**
   * Erasing servers that removed the bot (GUILD_DELETE), and after start-up (then daily) those removed while it
   * was away, after the grace period.
   */
  erasure?: ServerErasure;
}

export interface StopOptions {
  /** How long to wait for replies in progress before logging out anyway (default DEFAULT_DRAIN_MS). */
  drainMs?: number;
}

export interface RunningBot {
  client: Client<true>;
  applicationId: string;
  userId: string;
  /** What start-up did about the commands; undefined if checking them failed (logged). */
  commandSync: SyncResult | undefined;
  /**
   * Stops taking work at once (a new command is told the bot is restarting; mentions are not answered; message
   * edits and deletes are still applied), waits for the replies in progress (at most `drainMs`), then logs out.
   */
  stop(options?: StopOptions): Promise<void>;
  /** Handlers still running (interactions, replies, collection). */
  inFlight(): number;
}

/**
 * Logs in, waits until ready, registers the commands if they changed, and serves. Rejects with a FatalBotError
 * (clear message, no retry loop) when the token is rejected or the gateway refuses the intents.
 */
export async function startBot(options: BotOptions): Promise<RunningBot> {
  const { log, collection } = options;
  const { models, moderation } = screenedModels(options);
  const commands = options.commands ?? defaultCommands;
  const client = createClient(options.apiUrl);
  const work = createWorkTracker();
  const dmSweep = startDmSweep(client);
  const watch = watchForFatal((error) => options.onFatal?.(error));
  let stopping: Promise<void> | undefined;
  watchGateway(client, log, watch, () => stopping !== undefined, options.token);
  watchRest(client, log, watch);
  const limiter = options.limiter;
  const route = routerFor(options, commands, models, moderation);
  serveEvents(client, { route, work, models, log, collection, limiter, erasure: options.erasure });
  const readyClient = await logIn(client, options, watch, dmSweep);
  const applicationId = readyClient.application.id;
  const userId = readyClient.user.id;
  log.info({ user: readyClient.user.tag, userId, applicationId, guilds: readyClient.guilds.cache.size }, 'logged in');
  const commandSync = await registerCommands(client, applicationId, options.devGuildId, commands, log);
  if (watch.fatal) {
    clearInterval(dmSweep);
    await client.destroy();
    throw watch.fatal;
  }
  watch.serving();
  const reconciler = options.erasure ? startReconciler(readyClient, options.erasure, log) : undefined;
  return {
    client: readyClient,
    applicationId,
    userId,
    commandSync,
    inFlight: () => work.running(),
    stop: (stopOptions = {}) => {
      if (reconciler) clearInterval(reconciler);
      stopping ??= drainAndLogOut(client, work, dmSweep, log, stopOptions.drainMs ?? DEFAULT_DRAIN_MS);
      return stopping;
    },
  };
}

/** The models and the word filter: every service handed out is screened by it. */
function screenedModels(options: BotOptions): { models: ModelSource; moderation: Moderation } {
  const { log } = options;
  const unscreened = options.models ?? (options.service ? fixedModels(options.service) : undefined);
  if (!unscreened) throw new TypeError('startBot needs `models` or `service`');
  // The one place generation reaches Discord from: every service handed out is screened by the word filter.
  const moderation = options.moderation ?? createModeration({ filter: createOutputFilter(), log });
  return { models: moderation.models(unscreened), moderation };
}

/** The interaction router over the commands, with what they need. */
function routerFor(
  options: BotOptions,
  commands: readonly Command[],
  models: ModelSource,
  moderation: Moderation,
): InteractionRouter {
  return createInteractionRouter(commands, {
    models,
    registry: options.registry,
    retrain: options.retrain,
    collection: options.collection,
    log: options.log,
    deferAfterMs: options.deferAfterMs ?? DEFAULT_DEFER_AFTER_MS,
    limiter: options.limiter,
    moderation,
  });
}

/** The discord.js client: only the intents in use, bounded caches, no pings. */
function createClient(apiUrl: string): Client {
  return new Client({
    intents: [...INTENTS],
    rest: { api: apiUrl },
    allowedMentions: { parse: [], repliedUser: false },
    failIfNotExists: false,
    // No message is kept in memory; edits and deletes of uncached messages still arrive, as partials.
    makeCache: Options.cacheWithLimits(cacheSettings()),
    sweepers: sweeperSettings(),
    partials: [Partials.Message, Partials.Channel],
  });
}

/** DM channels are cached (as partials) for each person who uses a command in DMs; no sweeper covers them. */
function startDmSweep(client: Client): NodeJS.Timeout {
  const sweep = () => client.channels.cache.sweep((channel) => channel.isDMBased());
  const dmSweep = setInterval(sweep, CACHE_LIMITS.sweepSeconds * 1000);
  dmSweep.unref();
  return dmSweep;
}

/** Discord ending the connection for good: during start-up it rejects `startup`, afterwards it calls `onFatal`. */
interface FatalWatch {
  /** The first fatal error seen. */
  readonly fatal: FatalBotError | undefined;
  /** The code of the last gateway close. */
  lastCloseCode: number | undefined;
  /** Rejects with the first fatal error seen during start-up; never resolves. */
  readonly startup: Promise<never>;
  /** Start-up is over: a fatal error now goes to `onFatal`. */
  serving(): void;
  fail(error: FatalBotError): void;
}

function watchForFatal(onFatal: (error: FatalBotError) => void): FatalWatch {
  let started = false;
  let fatal: FatalBotError | undefined;
  let rejectStartup: (error: FatalBotError) => void = () => undefined;
  const startup = new Promise<never>((_, reject) => {
    rejectStartup = reject;
  });
  startup.catch(() => undefined);
  return {
    get fatal() {
      return fatal;
    },
    lastCloseCode: undefined,
    startup,
    serving: () => {
      started = true;
    },
    fail: (error) => {
      fatal = error;
      if (started) onFatal(error);
      else rejectStartup(error);
    },
  };
}

/** Gateway events: a close for good is fatal; reconnects, resumes, errors, warnings (and debug) are logged. */
function watchGateway(client: Client, log: Logger, watch: FatalWatch, stopping: () => boolean, token: string): void {
  client.on(Events.ShardDisconnect, (event: CloseEvent, shardId: number) => {
    watch.lastCloseCode = event.code;
    if (!FATAL_CLOSE_CODES.has(event.code) || watch.fatal) return;
    const fatal = new FatalBotError(explainCloseCode(event.code), event.code);
    log.error({ shard: shardId, code: event.code }, 'gateway closed for good');
    watch.fail(fatal);
  });
  client.on(Events.ShardReconnecting, (shardId) => {
    if (!stopping()) log.warn({ shard: shardId }, 'gateway reconnecting');
  });
  client.on(Events.ShardResume, (shardId, replayed) => log.info({ shard: shardId, replayed }, 'gateway resumed'));
  client.on(Events.Error, (error) => log.error({ err: error }, 'discord.js error'));
  client.on(Events.Warn, (message) => log.warn({ detail: message }, 'discord.js warning'));
  if (log.isLevelEnabled('trace')) {
    // discord.js's debug lines include "Provided token: <id>.<timestamp>.*****": no part of the token is logged.
    client.on(Events.Debug, (message) => log.trace({ detail: redactToken(message, token) }, 'discord.js debug'));
  }
}

/** REST responses: a 401 is fatal, rate limits are logged. */
function watchRest(client: Client, log: Logger, watch: FatalWatch): void {
  // One 401 makes @discordjs/rest drop the token: every later authenticated call would fail while the gateway
  // stays up (a bot that looks healthy but cannot speak). Stop for good with the token message instead.
  client.rest.on('response', (request, response) => {
    if (response.status !== 401 || request.data.auth === false || watch.fatal) return;
    const fatal = new FatalBotError(TOKEN_REJECTED);
    log.error({ route: request.route }, 'Discord rejected the token on a REST call');
    watch.fail(fatal);
  });
  client.rest.on('rateLimited', (info) => {
    log.warn({ route: info.route, retryAfter: info.retryAfter, global: info.global }, 'rate limited');
  });
}

interface EventDeps {
  route: InteractionRouter;
  work: WorkTracker;
  models: ModelSource;
  log: Logger;
  collection: CollectionService;
  limiter: ReplyLimiter | undefined;
  erasure: ServerErasure | undefined;
}

/** Interactions go to the router, mentions to their handler, collection events to the collector (all tracked). */
function serveEvents(client: Client, deps: EventDeps): void {
  const { route, work, models, log, collection, limiter, erasure } = deps;
  client.on(Events.InteractionCreate, (interaction) => {
    if (!work.accepting) {
      work.track(sayRestarting(interaction)).catch((error: unknown) => {
        log.warn({ err: error, interaction: interaction.id }, 'could not say the bot is restarting');
      });
      return;
    }
    work.track(route(interaction)).catch((error: unknown) => log.error({ err: error }, 'interaction router failed'));
  });
  client.on(Events.MessageCreate, (message) => {
    const botId = client.user?.id;
    if (!botId || !work.accepting) return;
    work.track(handleMessage(message, botId, { models, log, collection, limiter })).catch((error: unknown) => {
      log.error({ err: error }, 'message handler failed');
    });
  });
  attachCollector(client, { collection, models, log, limiter, work, erasure });
}

/** Logs in and waits until ready; a failure (or a fatal close meanwhile) becomes a FatalBotError. */
async function logIn(
  client: Client,
  options: BotOptions,
  watch: FatalWatch,
  dmSweep: NodeJS.Timeout,
): Promise<Client<true>> {
  const ready = new Promise<Client<true>>((resolve) => client.once(Events.ClientReady, resolve));
  try {
    await Promise.race([client.login(options.token), watch.startup]);
    await Promise.race([ready, watch.startup]);
  } catch (error) {
    clearInterval(dmSweep);
    await client.destroy();
    if (error instanceof FatalBotError) throw error;
    throw new FatalBotError(explainLoginError(error, watch.lastCloseCode, options.apiUrl), watch.lastCloseCode);
  }
  return await ready;
}

/** Registers the slash commands if they changed; undefined (logged) when that failed. */
async function registerCommands(
  client: Client,
  applicationId: string,
  devGuildId: string | undefined,
  commands: readonly Command[],
  log: Logger,
): Promise<SyncResult | undefined> {
  try {
    return await syncCommands(
      client.rest,
      applicationId,
      devGuildId,
      commands.map((c) => c.data),
      log,
    );
  } catch (error) {
    const what = 'could not check or register the slash commands; serving anyway (try npm run deploy-commands)';
    log.error({ err: error }, what);
    return undefined;
  }
}

/** Stops taking work, waits for the replies in progress (at most `drainMs`), then logs out. */
async function drainAndLogOut(
  client: Client,
  work: WorkTracker,
  dmSweep: NodeJS.Timeout,
  log: Logger,
  drainMs: number,
): Promise<void> {
  work.close();
  clearInterval(dmSweep);
  const running = work.running();
  let left = 0;
  if (running > 0) {
    log.info({ inFlight: running }, 'finishing the replies in progress');
    left = await work.idle(drainMs);
    if (left > 0) log.warn({ inFlight: left }, 'gave up waiting for replies in progress');
    else log.info('replies in progress finished');
  }
  await client.destroy();
  // Collection work from events that came in just before the connection closed (the storage closes next).
  if (left === 0) await work.idle(1000);
  log.info('logged out');
}

/** The servers this process answers for: the shards of this client (all of them without sharding). */
function ownedBy(client: Client<true>): (guildId: string) => boolean {
  const count = client.options.shardCount ?? 1;
  const shards = new Set(Array.isArray(client.options.shards) ? client.options.shards : [0]);
  return (guildId) => shards.has(Number((BigInt(guildId) >> 22n) % BigInt(count)));
}

/** Now (READY and its GUILD_CREATEs are in) and then daily: servers no longer joined, erased after the grace period. */
function startReconciler(client: Client<true>, erasure: ServerErasure, log: Logger): NodeJS.Timeout {
  const run = () => {
    // Servers in an outage are still in the cache (unavailable): an outage is not a removal.
    const joined = new Set(client.guilds.cache.keys());
    erasure
      .reconcile(joined, ownedBy(client))
      .then((r) => log.info({ waiting: r.waiting.length, erased: r.erased }, 'servers no longer joined checked'))
      .catch((error: unknown) => log.error({ err: error }, 'checking for servers no longer joined failed'));
  };
  run();
  const timer = setInterval(run, 86_400_000);
  timer.unref();
  return timer;
}

/** A command or button while stopping: a short ephemeral "restarting" (anything else is left alone). */
async function sayRestarting(interaction: Interaction): Promise<void> {
  if (!interaction.isChatInputCommand() && !interaction.isButton()) return;
  await interaction.reply({ content: RESTARTING, flags: MessageFlags.Ephemeral, allowedMentions: noPings() });
}
