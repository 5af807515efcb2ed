/**
 * Channel permissions for the fake Discord, in their own file.
 *
 * `denyBotPermissions(fake, channelId, bits)` takes permissions from the bot in one channel the way a server admin
 * does, with a channel override for the bot's member: the override goes into the channel (and CHANNEL_UPDATE is
 * dispatched, so discord.js's computed permissions see it), and from then on the fake refuses what Discord refuses
 * there — written from Discord's rules, independently of the bot's own map:
 * - anything under /channels/{id} without View Channel: 403 50001 Missing Access;
 * - a channel message without Send Messages, with embeds without Embed Links, with files without Attach Files, or
 *   replying to a message without Read Message History: 403 50013 Missing Permissions;
 * - interaction answers in that channel (callback, @original edits, follow-ups) need no channel access, but with
 *   embeds they need Embed Links and with files Attach Files (the interaction's `app_permissions`): 50013.
 *
 * `permissionFault(code)` is a Fault for `fake.failNext(matcher, fault, { times })`: any one route answers 50013 or
 * 50001 whatever the channel's permissions say (a refusal the bot's computed permissions can't explain).
 */
import type { Fault } from './faults.js';
import type { RecordedRequest } from './recording.js';
import type { FakeDiscord } from './server.js';
import { Permission, type ApiObject } from './payloads.js';

export const MISSING_ACCESS = 50001;
export const MISSING_PERMISSIONS = 50013;

/** A 403 with Discord's body for 50013 (Missing Permissions) or 50001 (Missing Access). */
export function permissionFault(code: typeof MISSING_ACCESS | typeof MISSING_PERMISSIONS): Fault {
  return { status: 403, body: { message: code === MISSING_ACCESS ? 'Missing Access' : 'Missing Permissions', code } };
}

function isRecord(value: unknown): value is ApiObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const INTERACTION_ROUTES = new Set([
  'create_interaction_response',
  'update_original_webhook_message',
  'execute_webhook',
  'update_webhook_message',
]);

/** The message a request sends, if it sends one. */
function messageOf(request: RecordedRequest): ApiObject {
  const body = isRecord(request.body) ? request.body : {};
  return request.operationId === 'create_interaction_response' && isRecord(body.data) ? body.data : body;
}

/** What the request needs in the channel, per Discord's rules above; undefined when it isn't about `channelId`. */
function needs(fake: FakeDiscord, request: RecordedRequest, channelId: string): bigint | undefined {
  const message = messageOf(request);
  const embeds = Array.isArray(message.embeds) && message.embeds.length > 0;
  const files = request.files.length > 0;
  if (INTERACTION_ROUTES.has(request.operationId ?? '')) {
    const token = request.params.interaction_token ?? request.params.webhook_token ?? '';
    if (fake.getInteraction(token)?.channelId !== channelId) return undefined;
    return (embeds ? Permission.EmbedLinks : 0n) | (files ? Permission.AttachFiles : 0n);
  }
  if (request.params.channel_id !== channelId) return undefined;
  if (request.operationId !== 'create_message') return Permission.ViewChannel;
  return (
    Permission.ViewChannel |
    Permission.SendMessages |
    (embeds ? Permission.EmbedLinks : 0n) |
    (files ? Permission.AttachFiles : 0n) |
    (isRecord(message.message_reference) ? Permission.ReadMessageHistory : 0n)
  );
}

/** Denies `bits` to the bot in a server channel from now on (see the module comment). */
export function denyBotPermissions(fake: FakeDiscord, channelId: string, bits: bigint): void {
  const guild = fake.guilds.find((g) => g.channels.some((c) => c.id === channelId));
  const channel = guild?.channels.find((c) => c.id === channelId);
  if (!guild || !channel) throw new Error(`fake-discord: no server channel ${channelId}`);
  const overwrites = Array.isArray(channel.permission_overwrites) ? (channel.permission_overwrites as ApiObject[]) : [];
  const mine = overwrites.find((o) => o.id === fake.botUser.id);
  const denied = BigInt(String(mine?.deny ?? '0')) | bits;
  channel.permission_overwrites = [
    ...overwrites.filter((o) => o !== mine),
    { id: fake.botUser.id, type: 1, allow: '0', deny: denied.toString() },
  ];
  fake.dispatch('CHANNEL_UPDATE', { ...channel, guild_id: guild.id });

  const refused = (request: RecordedRequest) => (needs(fake, request, channelId) ?? 0n) & bits;
  const viewRoute = (request: RecordedRequest) => request.params.channel_id === channelId;
  fake.failNext((r) => viewRoute(r) && (refused(r) & Permission.ViewChannel) !== 0n, permissionFault(MISSING_ACCESS), {
    times: Infinity,
  });
  fake.failNext((r) => refused(r) !== 0n, permissionFault(MISSING_PERMISSIONS), { times: Infinity });
}
