/**
 * Gateway events → the collection service: new messages (collected where collection is on, and maybe answered
 * unprompted), edits, deletes (single, bulk, and of messages the bot never cached: partials), deleted channels and
 * threads (their messages purged), and the bot leaving a server (erased; a server outage, `unavailable: true`, is
 * not a leave).
 */
import { Events, MessageType, type Client, type Message, type PartialMessage } from 'discord.js';
import type { Logger } from '../log.js';
import type { CollectionService, IncomingMessage } from '../service/collection.js';
import type { ReplyLimiter } from '../service/rate-limiter.js';
import type { ServerErasure } from '../service/server-erasure.js';
import type { ModelSource } from './command.js';
import type { WorkTracker } from './inflight.js';
import { checkReplyLimit } from './rate-limit-check.js';
import { shouldAnswer } from './mentions.js';
import { clampContent, noPingsReply } from './message-rules.js';
import { handleRefusal, messageTarget, SENDS } from './permissions.js';

export interface CollectorContext {
  collection: CollectionService;
  /** The server's model for unprompted replies: `serviceFor(guildId)`. */
  models: Pick<ModelSource, 'serviceFor'>;
  log: Logger;
  /** Rate limits (none without): a refused unprompted reply is skipped silently. */
  limiter?: ReplyLimiter | undefined;
  /**
   * Work in progress (a graceful stop waits for it). While stopping, messages are still collected and edits and
   * deletes applied, but no unprompted reply is started.
   */
  work?: Pick<WorkTracker, 'accepting' | 'track'> | undefined;
  /** Erases a server the bot was removed from (models too); without it only its stored data is purged. */
  erasure?: Pick<ServerErasure, 'eraseServer'> | undefined;
}

/** The facts of a message that collection needs. */
export interface MessageLike {
  id: string;
  guildId: string | null;
  channelId: string;
  content: string;
  createdTimestamp: number;
  author: { id: string; bot: boolean; system?: boolean | null };
  webhookId: string | null;
  system: boolean;
  type: MessageType;
}

/** Written by a person: not a bot, webhook, system message or the bot itself; an ordinary message or reply. */
export function isHuman(message: MessageLike, botId: string): boolean {
  return (
    !message.author.bot &&
    !message.author.system &&
    message.author.id !== botId &&
    message.webhookId === null &&
    !message.system &&
    (message.type === MessageType.Default || message.type === MessageType.Reply)
  );
}

/** A server message as the collection service sees it; undefined outside servers. */
export function toIncoming(message: MessageLike, botId: string): IncomingMessage | undefined {
  if (message.guildId === null) return undefined;
  return {
    id: message.id,
    guildId: message.guildId,
    channelId: message.channelId,
    authorId: message.author.id,
    human: isHuman(message, botId),
    content: message.content,
    createdAt: message.createdTimestamp,
  };
}

/**
 * Collects a new message; then, unless it mentions the bot (that gets the mention reply), maybe babbles back with
 * the server's model.
 */
export async function onMessageCreate(
  message: Message,
  botId: string,
  { collection, models, log, limiter, work }: CollectorContext,
): Promise<void> {
  const incoming = toIncoming(message, botId);
  if (!incoming) return;
  const where = { message: message.id, channel: message.channelId, guild: message.guildId };
  const outcome = await collection.collect(incoming);
  if (outcome === 'collected' || outcome === 'queued') log.debug({ ...where, outcome }, 'message collected');
  if (!incoming.human || shouldAnswer(message, botId)) return;
  if (work && !work.accepting) return;
  const decision = await collection.unpromptedReply(incoming);
  if (!decision) return;
  const verdict = await checkReplyLimit(
    limiter,
    { kind: 'unprompted', userId: incoming.authorId, guildId: incoming.guildId },
    log,
    { ...where, user: incoming.authorId },
  );
  if (!verdict.allowed) return;
  const service = await models.serviceFor(incoming.guildId);
  const text = await service.reply(message.content, { temperature: decision.temperature });
  try {
    await message.reply({ content: clampContent(text), allowedMentions: noPingsReply() });
  } catch (error) {
    // Refused for lack of a permission: logged once per channel and hour; collection goes on.
    const context = { ...where, send: 'unpromptedReply' };
    const shape = SENDS.unpromptedReply.shape;
    if (await handleRefusal(error, { log, target: messageTarget(message), shape, context })) return;
    throw error;
  }
  log.info(where, 'unprompted reply sent');
}

/** The text of an edited message, or null when the event didn't carry it (a partial update). */
export function editedContent(message: Pick<Message | PartialMessage, 'partial' | 'content'>): string | null {
  return message.partial || typeof message.content !== 'string' ? null : message.content;
}

/** Wires the gateway events to the collection service. Handlers never reject: failures are logged. */
export function attachCollector(client: Client, context: CollectorContext): void {
  const { collection, log } = context;
  const fail = (what: string, extra: Record<string, unknown>) => (error: unknown) =>
    log.error({ ...extra, err: error }, `${what} failed`);
  const track = <T>(p: Promise<T>): Promise<T> => (context.work ? context.work.track(p) : p);

  client.on(Events.MessageCreate, (message) => {
    const botId = client.user?.id;
    if (!botId) return;
    track(onMessageCreate(message, botId, context)).catch(
      fail('message collection or unprompted reply', { message: message.id, guild: message.guildId }),
    );
  });
  client.on(Events.MessageUpdate, (_old, message) => {
    if (!message.guildId) return;
    track(collection.edit({ id: message.id, guildId: message.guildId, content: editedContent(message) })).catch(
      fail('message edit', { message: message.id }),
    );
  });
  client.on(Events.MessageDelete, (message) => {
    if (!message.guildId) return;
    track(collection.remove(message.guildId, [message.id])).catch(fail('message delete', { message: message.id }));
  });
  client.on(Events.MessageBulkDelete, (messages, channel) => {
    if (!channel.guildId) return;
    track(collection.remove(channel.guildId, [...messages.keys()])).catch(
      fail('bulk message delete', { channel: channel.id }),
    );
  });
  client.on(Events.GuildDelete, (guild) => {
    // discord.js emits guildDelete only when the bot was removed (or the server deleted); outages
    // (unavailable: true) come as guildUnavailable and keep the data.
    log.info({ guild: guild.id }, 'removed from a server: purging its data');
    const erase = context.erasure
      ? context.erasure.eraseServer(guild.id).then((r) => r.data)
      : collection.purgeGuild(guild.id);
    track(erase)
      .then((done) =>
        log.info(
          { guild: guild.id, done },
          done === 'done' ? 'server data purged' : 'server purge queued (storage failing)',
        ),
      )
      .catch(fail('server purge', { guild: guild.id }));
  });
  // A deleted channel or thread: its collected messages go (and its collection switch). From the raw gateway event:
  // discord.js drops the delete of a thread it no longer caches (archived threads are swept from its cache).
  client.on(Events.Raw, (packet: { t?: string | null; d?: unknown }) => {
    if (packet.t !== 'CHANNEL_DELETE' && packet.t !== 'THREAD_DELETE') return;
    const d = packet.d as { id?: unknown; guild_id?: unknown } | null;
    if (typeof d?.id !== 'string' || typeof d.guild_id !== 'string') return;
    const where = { channel: d.id, guild: d.guild_id };
    track(collection.purgeChannel(d.guild_id, d.id))
      .then((done) => log.info({ ...where, done }, done === 'done' ? 'deleted channel purged' : 'channel purge queued'))
      .catch(fail('channel purge', where));
  });
  client.on(Events.GuildUnavailable, (guild) =>
    log.warn({ guild: guild.id }, 'server unavailable (outage): data kept'),
  );
}
