/**
 * The shape of a slash command module (discord.js create-discord-bot style): `export default { data, execute }
 * satisfies Command`, plus `button` for the buttons the command puts on its messages.
 *
 * Definitions are static (the same for `npm run deploy-commands` and the running bot); what a handler needs at
 * run time — the models, the version registry, the training manager — comes in the CommandContext.
 */
import type {
  ButtonInteraction,
  ChatInputCommandInteraction,
  RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { Logger } from '../log.js';
import type { CollectionService } from '../service/collection.js';
import type { Moderation } from '../service/moderation.js';
import type { ModelCache } from '../service/model-cache.js';
import type { ReplyLimiter } from '../service/rate-limiter.js';
import type { ModelRegistry } from '../service/registry.js';
import type { RetrainManager } from '../service/retrain.js';
import type { TrainingBudget } from '../service/training-budget.js';
import type { GenerationService } from '../service/types.js';

/** What the Discord side needs of the models: a server's generation service, and swapping a version in (rollback). */
export type ModelSource = Pick<ModelCache, 'serviceFor' | 'install'>;

/**
 * One generation service for every server and DM (tests, tools): nothing is loaded per server, and no version can
 * be swapped in (`install` throws), so it goes without a registry. (Here rather than in service/model-cache.ts, which
 * loads the model code: the bot checks its configuration before loading TensorFlow.js.)
 */
export function fixedModels(service: GenerationService): ModelSource {
  return {
    serviceFor: async () => service,
    install() {
      throw new Error('this bot serves one fixed model: no version can be installed');
    },
  };
}

/** What /retrain (and /model rollback, which waits for a running training) need. */
export interface RetrainContext {
  manager: RetrainManager;
  /** BOT_OWNER_IDS: the users who may retrain the shared base model. */
  ownerIds: readonly string[];
  /** TRAIN_MAX_MINUTES: the most minutes one may ask for. */
  maxMinutes: number;
  /** Trainer time per server (TRAIN_DAILY_MINUTES, TRAIN_COOLDOWN_MINUTES); none without. Owners are exempt. */
  budget?: Pick<TrainingBudget, 'check'> | undefined;
  /** TRAIN_DEFAULT_MINUTES: what a /retrain without minutes asks of the budget. Default maxMinutes. */
  defaultMinutes?: number | undefined;
  /** The most epochs one may ask for. Default 100. */
  maxEpochs?: number;
  /** Edits of the progress message at most this often. Default 5000 ms. */
  editIntervalMs?: number;
  /** After this long the interaction token is taken as expired (Discord: 15 min). Default 14.5 min. */
  tokenLifetimeMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

export interface CommandContext {
  /** The model each server talks with: `await models.serviceFor(guildId)` (the base in DMs and without its own). */
  models: ModelSource;
  /** Per-server model versions (/model info's history, /model rollback); absent when one fixed model serves all. */
  registry?: ModelRegistry | undefined;
  /** Retraining (/retrain); absent when the bot doesn't train. */
  retrain?: RetrainContext | undefined;
  /** Per-server settings, collection and member controls. */
  collection: CollectionService;
  log: Logger;
  /** Reply directly when the answer is ready within this many ms; otherwise defer, then edit. */
  deferAfterMs: number;
  /** Rate limits on /babble (none without). */
  limiter?: ReplyLimiter | undefined;
  /** The word filter and the servers' blocked words (/wordfilter); absent: no server lists on this bot. */
  moderation?: Moderation | undefined;
}

/**
 * What `execute` returns when it left the interaction unanswered on purpose (a member flooding refused commands,
 * rate-limiter.ts COMMAND_NOTICES): the router logs it at debug instead of "command done".
 */
export const UNANSWERED = 'unanswered';

export interface Command {
  /** The definition registered with Discord (bounds included). */
  data: RESTPostAPIChatInputApplicationCommandsJSONBody;
  /** Answers the interaction, or returns UNANSWERED when it deliberately did not. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a command that answered returns nothing (Promise<void>)
  execute(interaction: ChatInputCommandInteraction, context: CommandContext): Promise<void | typeof UNANSWERED>;
  /** Presses of buttons whose custom id starts with "<command name>:". */
  button?(interaction: ButtonInteraction, context: CommandContext): Promise<void>;
}

/** Discord's interaction deadline is 3 s; deferring after 1.5 s leaves room for a slow network. */
export const DEFAULT_DEFER_AFTER_MS = 1500;

/** The custom id of a button handled by `command`'s `button`: "<command>:<parts joined by :>". */
export function buttonId(command: string, ...parts: string[]): string {
  return [command, ...parts].join(':');
}
