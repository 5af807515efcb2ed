/**
 * The channel permissions the bot needs, in one place: which permission each kind of message needs (the map
 * below, which also gives the invite's permission integer), and what happens when Discord refuses a message for
 * lack of one (50013 Missing Permissions, 50001 Missing Access): the bot works out which permissions are missing
 * — from its computed permissions in that channel when it has them, else the list the message needed — tells the
 * member who asked (when there is one) in a short sentence naming the channel and the permissions, logs it once
 * per channel and hour, and carries on.
 *
 * Messages sent in a channel (channel.send, message.reply) need View Channel and Send Messages there, plus Embed
 * Links for embeds, Attach Files for files and Read Message History for a reply to a message. Interaction answers
 * (reply, deferred edits, follow-ups) need no channel access, but Discord still applies the bot's Embed Links and
 * Attach Files to them (`app_permissions` of the interaction).
 */
import {
  DiscordAPIError,
  MessageFlags,
  OAuth2Scopes,
  PermissionFlagsBits,
  RESTJSONErrorCodes,
  type Client,
  type PermissionsBitField,
  type RepliableInteraction,
} from 'discord.js';
import type { Logger } from '../log.js';
import { clampContent, noPings } from './message-rules.js';

export type PermissionName = 'ViewChannel' | 'SendMessages' | 'EmbedLinks' | 'AttachFiles' | 'ReadMessageHistory';

/** As Discord's client shows them. */
export const PERMISSION_LABELS: Record<PermissionName, string> = {
  ViewChannel: 'View Channel',
  SendMessages: 'Send Messages',
  EmbedLinks: 'Embed Links',
  AttachFiles: 'Attach Files',
  ReadMessageHistory: 'Read Message History',
};

/** The order permissions are listed in (Discord's own). */
const ORDER: readonly PermissionName[] = [
  'ViewChannel',
  'SendMessages',
  'EmbedLinks',
  'AttachFiles',
  'ReadMessageHistory',
];

/** What a message is, as far as permissions go. */
export interface MessageShape {
  /** 'channel': channel.send / message.reply; 'interaction': a reply, deferred edit or follow-up of a command. */
  via: 'channel' | 'interaction';
  embeds?: boolean;
  files?: boolean;
  /** A reply to a message (message_reference). */
  reply?: boolean;
}

/** The rule: the permissions a message of this shape needs in its channel. */
export function permissionsNeeded(shape: MessageShape): PermissionName[] {
  const needed = new Set<PermissionName>(shape.via === 'channel' ? ['ViewChannel', 'SendMessages'] : []);
  if (shape.embeds) needed.add('EmbedLinks');
  if (shape.files) needed.add('AttachFiles');
  if (shape.reply && shape.via === 'channel') needed.add('ReadMessageHistory');
  return ORDER.filter((p) => needed.has(p));
}

/** Everything the bot sends, with its shape: the README's permission list and the invite come from this. */
export const SENDS = {
  collectionNotice: {
    shape: { via: 'channel' },
    what: 'the notice in a channel where /collect switches collection on or off',
  },
  mentionReply: { shape: { via: 'channel', reply: true }, what: 'replies to mentions of the bot' },
  unpromptedReply: { shape: { via: 'channel', reply: true }, what: 'unprompted replies in collection channels' },
  retrainPost: {
    shape: { via: 'channel', embeds: true, files: true },
    what: 'a /retrain result with its loss chart, posted in the channel when the interaction token has expired',
  },
  retrainProgress: { shape: { via: 'interaction', embeds: true }, what: 'the /retrain progress message' },
  retrainResult: {
    shape: { via: 'interaction', embeds: true, files: true },
    what: 'the /retrain result with its loss chart',
  },
  commandEmbed: { shape: { via: 'interaction', embeds: true }, what: '/model info, /help and /privacy (embeds)' },
} as const satisfies Record<string, { shape: MessageShape; what: string }>;

export type SendName = keyof typeof SENDS;

/** Every permission some message needs, in Discord's order. */
export function invitePermissionNames(): PermissionName[] {
  const all = new Set(Object.values(SENDS).flatMap((s) => permissionsNeeded(s.shape)));
  return ORDER.filter((p) => all.has(p));
}

/** The permission integer of the invite: the sum of the bits of `invitePermissionNames()`. */
export function invitePermissions(): bigint {
  return invitePermissionNames().reduce((sum, p) => sum | PermissionFlagsBits[p], 0n);
}

/** The OAuth2 URL that adds the bot to a server with its slash commands and exactly the permissions it needs. */
export function inviteUrl(clientId: string): string {
  const query = new URLSearchParams({
    client_id: clientId,
    scope: [OAuth2Scopes.Bot, OAuth2Scopes.ApplicationsCommands].join(' '),
    permissions: invitePermissions().toString(),
  });
  return `https://discord.com/oauth2/authorize?${query.toString()}`;
}

/** 50013 (Missing Permissions) or 50001 (Missing Access) when Discord refused for lack of a permission. */
export function refusalCode(error: unknown): number | undefined {
  if (!(error instanceof DiscordAPIError)) return undefined;
  const code = error.code;
  return code === RESTJSONErrorCodes.MissingPermissions || code === RESTJSONErrorCodes.MissingAccess ? code : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The shape of the message whose request failed, read from the request itself. */
export function shapeOfRequest(error: DiscordAPIError): MessageShape {
  const via = /\/(interactions|webhooks)\//.test(error.url) ? 'interaction' : 'channel';
  const json = isRecord(error.requestBody.json) ? error.requestBody.json : {};
  const message = isRecord(json.data) ? json.data : json; // an interaction callback carries the message in `data`
  const attachments = Array.isArray(message.attachments) && message.attachments.length > 0;
  return {
    via,
    embeds: Array.isArray(message.embeds) && message.embeds.length > 0,
    files: (error.requestBody.files?.length ?? 0) > 0 || attachments,
    reply: isRecord(message.message_reference),
  };
}

/** A message Discord refused for lack of a permission, and what the bot found was missing. */
export interface Refusal {
  code: number;
  channelId: string;
  guildId: string | null;
  /** The permissions to grant, in Discord's order. */
  missing: PermissionName[];
  /** True when `missing` came from the bot's computed permissions; false: the list the message needed. */
  computed: boolean;
}

export interface RefusalTarget {
  client: Client;
  channelId: string;
  guildId: string | null;
  /** The interaction's `appPermissions` (the bot's permissions when it came), for when the channel isn't cached. */
  appPermissions?: Readonly<PermissionsBitField> | null | undefined;
}

/** The bot's permissions in the channel as discord.js computes them from its cache, or null. */
function computedPermissions(target: RefusalTarget): Readonly<PermissionsBitField> | null {
  const channel = target.client.channels.cache.get(target.channelId);
  const me = target.client.user;
  if (channel && me && 'permissionsFor' in channel) {
    const permissions = channel.permissionsFor(me);
    if (permissions) return permissions;
  }
  return target.appPermissions ?? null;
}

/**
 * When `error` is Discord refusing for lack of a permission: which permissions the message (of `shape`, else
 * read from the failed request) needed and the bot lacks in that channel. Undefined for any other error.
 */
export function describeRefusal(error: unknown, target: RefusalTarget, shape?: MessageShape): Refusal | undefined {
  const code = refusalCode(error);
  if (code === undefined) return undefined;
  const needed = permissionsNeeded(shape ?? shapeOfRequest(error as DiscordAPIError));
  if (code === RESTJSONErrorCodes.MissingAccess && !needed.includes('ViewChannel')) needed.unshift('ViewChannel');
  // A channel message names its channel in the URL: that one, even if the command came from another.
  const inUrl = /\/channels\/(\d+)\//.exec((error as DiscordAPIError).url)?.[1];
  if (inUrl !== undefined && inUrl !== target.channelId) target = { ...target, channelId: inUrl, appPermissions: null };
  const permissions = computedPermissions(target);
  const lacking = permissions ? needed.filter((p) => !permissions.has(PermissionFlagsBits[p])) : [];
  const base = { code, channelId: target.channelId, guildId: target.guildId };
  return lacking.length > 0
    ? { ...base, missing: lacking, computed: true }
    : { ...base, missing: needed, computed: false };
}

/** "A", "A and B", "A, B and C". */
function listOf(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** "I can't post in #general: I need Send Messages and Attach Files there." */
export function refusalText(refusal: Pick<Refusal, 'channelId' | 'missing'>): string {
  const needs =
    refusal.missing.length > 0 ? listOf(refusal.missing.map((p) => PERMISSION_LABELS[p])) : 'more permissions';
  return `I can't post in <#${refusal.channelId}>: I need ${needs} there.`;
}

export const REFUSAL_LOG_INTERVAL_MS = 3_600_000;

/** Logs a refusal at most once per channel and `intervalMs` (an hour). */
export class RefusalLog {
  private readonly last = new Map<string, number>();
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(
    private readonly log: Pick<Logger, 'warn'>,
    options: { intervalMs?: number; now?: () => number } = {},
  ) {
    this.intervalMs = options.intervalMs ?? REFUSAL_LOG_INTERVAL_MS;
    this.now = options.now ?? Date.now;
  }

  /** Logs the refusal unless this channel's was logged less than an interval ago; says whether it logged. */
  note(refusal: Refusal, context: Record<string, unknown> = {}): boolean {
    const now = this.now();
    const previous = this.last.get(refusal.channelId);
    if (previous !== undefined && now - previous < this.intervalMs) return false;
    if (this.last.size >= 10_000) this.forgetOlderThan(now - this.intervalMs);
    this.last.set(refusal.channelId, now);
    const { channelId, guildId, ...rest } = refusal;
    this.log.warn(
      { ...context, channel: channelId, guild: guildId, ...rest },
      `missing permissions in a channel (logged once an hour per channel): ${refusalText(refusal)}`,
    );
    return true;
  }

  private forgetOlderThan(cutoff: number): void {
    for (const [channel, at] of this.last) if (at < cutoff) this.last.delete(channel);
  }
}

const logs = new WeakMap<object, RefusalLog>();

/** The refusal log of a logger: the bot has one logger, so refusals are counted once per bot. */
export function refusalLogFor(log: Pick<Logger, 'warn'>): RefusalLog {
  let found = logs.get(log);
  if (!found) {
    found = new RefusalLog(log);
    logs.set(log, found);
  }
  return found;
}

/**
 * Tells the member who used a command: a reply only they see; a follow-up only they see when the command already
 * replied; in the deferred answer itself while that is still "thinking…" (Discord gives the first answer after a
 * defer the defer's visibility anyway, and this ends the loading message).
 */
export async function tellMember(interaction: RepliableInteraction, text: string): Promise<void> {
  const content = clampContent(text);
  if (interaction.deferred && !interaction.replied) {
    await interaction.editReply({ content, embeds: [], files: [], attachments: [], allowedMentions: noPings() });
  } else if (interaction.replied) {
    await interaction.followUp({ content, flags: MessageFlags.Ephemeral, allowedMentions: noPings() });
  } else {
    await interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: noPings() });
  }
}

/**
 * The whole handling of a refused message: when `error` is a permission refusal, logs it (once per channel and
 * hour) and tells the member who asked, if there is one; resolves true. Resolves false for any other error, which
 * the caller handles as before. Never rejects: failing to tell the member is logged.
 */
export async function handleRefusal(
  error: unknown,
  options: {
    log: Pick<Logger, 'warn'>;
    target: RefusalTarget;
    shape?: MessageShape;
    interaction?: RepliableInteraction;
    /** Fields for the log line (what was sent, ids). */
    context?: Record<string, unknown>;
    /** Added after the sentence naming the permissions, for the member. */
    more?: string;
  },
): Promise<boolean> {
  const refusal = describeRefusal(error, options.target, options.shape);
  if (!refusal) return false;
  refusalLogFor(options.log).note(refusal, options.context);
  if (options.interaction) {
    const text = options.more ? `${refusalText(refusal)} ${options.more}` : refusalText(refusal);
    await tellMember(options.interaction, text).catch((failure: unknown) => {
      options.log.warn({ ...options.context, err: failure }, 'could not tell the member which permission is missing');
    });
  }
  return true;
}

/** The refusal target of a message's channel (replies to it). */
export function messageTarget(message: { client: Client; channelId: string; guildId: string | null }): RefusalTarget {
  return { client: message.client, channelId: message.channelId, guildId: message.guildId };
}

/** The refusal target of an interaction's channel. */
export function interactionTarget(interaction: RepliableInteraction): RefusalTarget {
  return {
    client: interaction.client,
    channelId: interaction.channelId ?? '',
    guildId: interaction.guildId,
    appPermissions: interaction.appPermissions,
  };
}
