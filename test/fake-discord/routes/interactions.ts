/**
 * Routes for answering interactions: the callback (reply, defer, component update…), the @original message and
 * follow-ups over the interaction's webhook.
 */
import { isRecord } from '../payloads.js';
import type { ApiObject } from '../payloads.js';
import type { FakeState, InteractionState } from '../state.js';
import { MESSAGE_FLAG, editMessage, isEmptyMessageBody, messageFromBody } from './message-body.js';
import { apiError, checkApp } from './route.js';
import type { HandlerContext, HandlerResult, Routes } from './route.js';

export function interactionRoutes(state: FakeState): Routes {
  return {
    create_interaction_response: (ctx) => interactionCallback(state, ctx),
    get_original_webhook_message: (ctx) => originalMessage(state, ctx, 'get'),
    update_original_webhook_message: (ctx) => originalMessage(state, ctx, 'patch'),
    delete_original_webhook_message: (ctx) => originalMessage(state, ctx, 'delete'),
    execute_webhook: (ctx) => followup(state, ctx),
    get_webhook_message: (ctx) => webhookMessage(state, ctx, 'get'),
    update_webhook_message: (ctx) => webhookMessage(state, ctx, 'patch'),
    delete_webhook_message: (ctx) => webhookMessage(state, ctx, 'delete'),
  };
}

function interactionMetadata(state: InteractionState): ApiObject {
  return {
    id: state.id,
    type: state.type,
    user: state.user,
    authorizing_integration_owners: state.guildId ? { '0': state.guildId } : { '1': state.user.id },
  };
}

function interactionMessage(
  fake: FakeState,
  ctx: HandlerContext,
  state: InteractionState,
  loading: boolean,
): ApiObject {
  const message = messageFromBody(fake, ctx, {
    channelId: state.channelId,
    guildId: state.guildId,
    extra: {
      type: state.type === 2 ? 20 : 19,
      webhook_id: fake.applicationId,
      application_id: fake.applicationId,
      interaction_metadata: interactionMetadata(state),
    },
  });
  if (loading) message.flags = Number(message.flags ?? 0) | MESSAGE_FLAG.Loading;
  return message;
}

function publishNew(fake: FakeState, message: ApiObject): void {
  if ((Number(message.flags ?? 0) & MESSAGE_FLAG.Ephemeral) !== 0) return;
  fake.storeMessage(message);
  fake.echo('MESSAGE_CREATE', message);
}

function interactionCallback(fake: FakeState, ctx: HandlerContext): HandlerResult {
  const state = fake.interactions.get(ctx.params.interaction_token ?? '');
  if (!state || state.id !== ctx.params.interaction_id) return apiError(404, 10062, 'Unknown interaction');
  if (state.responseType !== null) return apiError(400, 40060, 'Interaction has already been acknowledged.');
  const b = isRecord(ctx.body) ? ctx.body : {};
  const type = Number(b.type);
  const data: ApiObject = isRecord(b.data) ? b.data : {};
  const dataCtx: HandlerContext = { ...ctx, body: data };
  let resourceMessage: ApiObject | null = null;
  switch (type) {
    case 4:
      if (isEmptyMessageBody(dataCtx)) return apiError(400, 50006, 'Cannot send an empty message');
      state.original = interactionMessage(fake, dataCtx, state, false);
      publishNew(fake, state.original);
      resourceMessage = state.original;
      break;
    case 5:
      state.original = interactionMessage(fake, { ...dataCtx, body: { flags: data.flags ?? 0 } }, state, true);
      publishNew(fake, state.original);
      resourceMessage = state.original;
      break;
    case 6:
    case 7:
      if (state.type !== 3 || !state.message) {
        return apiError(400, 40043, 'Interaction callback type is not valid for this interaction');
      }
      state.original = state.message;
      if (type === 7) {
        editMessage(fake, state.message, dataCtx);
        fake.echo('MESSAGE_UPDATE', state.message);
      }
      resourceMessage = state.message;
      break;
    case 8:
    case 9:
    case 1:
      break;
    default:
      return apiError(400, 50035, 'Invalid Form Body');
  }
  state.responseType = type;
  if (ctx.query.with_response !== 'true') return { status: 204 };
  return {
    status: 200,
    body: {
      interaction: {
        id: state.id,
        type: state.type,
        response_message_id: resourceMessage?.id ?? null,
        response_message_loading: type === 5,
        response_message_ephemeral: resourceMessage
          ? (Number(resourceMessage.flags ?? 0) & MESSAGE_FLAG.Ephemeral) !== 0
          : false,
      },
      resource: resourceMessage ? { type, message: resourceMessage } : { type },
    },
  };
}

function interactionForWebhook(fake: FakeState, ctx: HandlerContext): InteractionState | HandlerResult {
  const bad = checkApp(fake, ctx, 'webhook_id');
  if (bad) return apiError(404, 10015, 'Unknown Webhook');
  const state = fake.interactions.get(ctx.params.webhook_token ?? '');
  if (!state || state.responseType === null) return apiError(404, 10015, 'Unknown Webhook');
  return state;
}

function originalMessage(fake: FakeState, ctx: HandlerContext, action: 'get' | 'patch' | 'delete'): HandlerResult {
  const state = interactionForWebhook(fake, ctx);
  if (!('token' in state)) return state;
  const original = state.original;
  if (!original) return apiError(404, 10008, 'Unknown Message');
  if (action === 'get') return { status: 200, body: original };
  if (action === 'delete') {
    state.original = null;
    if (fake.removeStoredMessage(String(original.channel_id), String(original.id))) {
      fake.echo('MESSAGE_DELETE', { id: original.id, channel_id: original.channel_id, guild_id: original.guild_id });
    }
    return { status: 204 };
  }
  editMessage(fake, original, ctx);
  if ((Number(original.flags ?? 0) & MESSAGE_FLAG.Ephemeral) === 0) fake.echo('MESSAGE_UPDATE', original);
  return { status: 200, body: original };
}

function followup(fake: FakeState, ctx: HandlerContext): HandlerResult {
  const state = interactionForWebhook(fake, ctx);
  if (!('token' in state)) return state;
  if (isEmptyMessageBody(ctx)) return apiError(400, 50006, 'Cannot send an empty message');
  const message = interactionMessage(fake, ctx, state, false);
  state.followups.push(message);
  publishNew(fake, message);
  return ctx.query.wait === 'false' ? { status: 204 } : { status: 200, body: message };
}

function webhookMessage(fake: FakeState, ctx: HandlerContext, action: 'get' | 'patch' | 'delete'): HandlerResult {
  const state = interactionForWebhook(fake, ctx);
  if (!('token' in state)) return state;
  const all = [...(state.original ? [state.original] : []), ...state.followups];
  const message = all.find((m) => m.id === ctx.params.message_id);
  if (!message) return apiError(404, 10008, 'Unknown Message');
  if (action === 'get') return { status: 200, body: message };
  if (action === 'delete') {
    state.followups = state.followups.filter((m) => m !== message);
    if (state.original === message) state.original = null;
    if (fake.removeStoredMessage(String(message.channel_id), String(message.id))) {
      fake.echo('MESSAGE_DELETE', { id: message.id, channel_id: message.channel_id, guild_id: message.guild_id });
    }
    return { status: 204 };
  }
  editMessage(fake, message, ctx);
  if ((Number(message.flags ?? 0) & MESSAGE_FLAG.Ephemeral) === 0) fake.echo('MESSAGE_UPDATE', message);
  return { status: 200, body: message };
}
