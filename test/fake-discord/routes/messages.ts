/** Routes for messages in channels: create, list, get, edit, delete (with the MESSAGE_* echoes Discord sends). */
import { isRecord, makeMember } from '../payloads.js';
import type { FakeState } from '../state.js';
import { editMessage, isEmptyMessageBody, messageFromBody } from './message-body.js';
import { apiError } from './route.js';
import type { HandlerContext, HandlerResult, Routes } from './route.js';

export function messageRoutes(state: FakeState): Routes {
  return {
    create_message: (ctx) => createChannelMessage(state, ctx),
    list_messages: (ctx) => listMessages(state, ctx),
    get_message: (ctx) => channelMessage(state, ctx, 'get'),
    update_message: (ctx) => channelMessage(state, ctx, 'patch'),
    delete_message: (ctx) => channelMessage(state, ctx, 'delete'),
  };
}

function createChannelMessage(state: FakeState, ctx: HandlerContext): HandlerResult {
  const found = state.findChannel(ctx.params.channel_id ?? '');
  if (!found) return apiError(404, 10003, 'Unknown Channel');
  if (isEmptyMessageBody(ctx)) return apiError(400, 50006, 'Cannot send an empty message');
  const message = messageFromBody(state, ctx, { channelId: found.channel.id, guildId: found.guildId });
  if (found.guildId) message.member = { ...makeMember(state.botUser), user: undefined };
  if (isRecord(message.member)) delete message.member.user;
  state.storeMessage(message);
  state.echo('MESSAGE_CREATE', message);
  return { status: 200, body: message };
}

function listMessages(state: FakeState, ctx: HandlerContext): HandlerResult {
  const found = state.findChannel(ctx.params.channel_id ?? '');
  if (!found) return apiError(404, 10003, 'Unknown Channel');
  const limit = Math.min(100, Math.max(1, Number(ctx.query.limit ?? 50) || 50));
  let list = [...(state.messages.get(found.channel.id) ?? [])].reverse();
  if (ctx.query.before) list = list.filter((m) => BigInt(String(m.id)) < BigInt(ctx.query.before ?? '0'));
  if (ctx.query.after) list = list.filter((m) => BigInt(String(m.id)) > BigInt(ctx.query.after ?? '0'));
  return { status: 200, body: list.slice(0, limit) };
}

function channelMessage(state: FakeState, ctx: HandlerContext, action: 'get' | 'patch' | 'delete'): HandlerResult {
  const found = state.findChannel(ctx.params.channel_id ?? '');
  if (!found) return apiError(404, 10003, 'Unknown Channel');
  const message = (state.messages.get(found.channel.id) ?? []).find((m) => m.id === ctx.params.message_id);
  if (!message) return apiError(404, 10008, 'Unknown Message');
  if (action === 'get') return { status: 200, body: message };
  if (action === 'delete') {
    state.removeStoredMessage(found.channel.id, String(message.id));
    state.echo('MESSAGE_DELETE', { id: message.id, channel_id: message.channel_id, guild_id: message.guild_id });
    return { status: 204 };
  }
  if (!isRecord(message.author) || message.author.id !== state.botUser.id) {
    return apiError(403, 50005, 'Cannot edit a message authored by another user');
  }
  editMessage(state, message, ctx);
  state.echo('MESSAGE_UPDATE', message);
  return { status: 200, body: message };
}
