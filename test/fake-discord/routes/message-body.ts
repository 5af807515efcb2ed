/**
 * Messages the bot sends or edits over REST (channel messages and interaction answers alike): the stored message
 * built from a create/edit body, its allowed mentions and its uploaded attachments.
 */
import type { RecordedFile } from '../body.js';
import { isoNow, isRecord, makeMessage, mentionedUserIds, snowflake } from '../payloads.js';
import type { ApiObject, FakeUser } from '../payloads.js';
import type { FakeState } from '../state.js';
import type { HandlerContext } from './route.js';

export const MESSAGE_FLAG = { Ephemeral: 64, Loading: 128 } as const;

/** Builds a message object from a create/edit body; attachments come from the uploaded files. */
export function messageFromBody(
  state: FakeState,
  ctx: HandlerContext,
  base: { channelId: string; guildId: string | null; extra?: ApiObject },
): ApiObject {
  const b = isRecord(ctx.body) ? ctx.body : {};
  const content = typeof b.content === 'string' ? b.content : '';
  const message = makeMessage({
    channel_id: base.channelId,
    author: state.botUser,
    ...(base.guildId ? { guild_id: base.guildId } : {}),
    content,
    tts: b.tts === true,
    embeds: Array.isArray(b.embeds) ? b.embeds : [],
    components: Array.isArray(b.components) ? b.components : [],
    flags: Number(b.flags ?? 0) & ~MESSAGE_FLAG.Loading,
    mentions: allowedMentionUsers(state, content, b.allowed_mentions),
    attachments: attachmentsFor(state, ctx, base.channelId, []),
    ...(b.nonce !== undefined ? { nonce: b.nonce } : {}),
    ...(isRecord(b.message_reference) ? { message_reference: b.message_reference, type: 19 } : {}),
    ...(b.poll !== undefined ? { poll: b.poll } : {}),
    ...base.extra,
  });
  if (isRecord(b.message_reference) && typeof b.message_reference.message_id === 'string') {
    const referencedId = (b.message_reference as ApiObject).message_id;
    const referenced = (state.messages.get(base.channelId) ?? []).find((m) => m.id === referencedId);
    message.referenced_message = referenced ?? null;
  }
  return message;
}

/** Applies an edit body to a stored message in place and returns it. */
export function editMessage(state: FakeState, message: ApiObject, ctx: HandlerContext): ApiObject {
  const b = isRecord(ctx.body) ? ctx.body : {};
  if ('content' in b) message.content = typeof b.content === 'string' ? b.content : '';
  if ('embeds' in b) message.embeds = Array.isArray(b.embeds) ? b.embeds : [];
  if ('components' in b) message.components = Array.isArray(b.components) ? b.components : [];
  if ('flags' in b && b.flags !== null && b.flags !== undefined) {
    message.flags = (Number(message.flags ?? 0) & MESSAGE_FLAG.Ephemeral) | (Number(b.flags) & ~MESSAGE_FLAG.Loading);
  }
  message.flags = Number(message.flags ?? 0) & ~MESSAGE_FLAG.Loading;
  if ('content' in b) message.mentions = allowedMentionUsers(state, String(message.content), b.allowed_mentions);
  const existing = Array.isArray(message.attachments) ? (message.attachments as ApiObject[]) : [];
  if ('attachments' in b || ctx.files.length > 0) {
    message.attachments = attachmentsFor(state, ctx, String(message.channel_id), existing);
  }
  message.edited_timestamp = isoNow();
  return message;
}

export function isEmptyMessageBody(ctx: HandlerContext): boolean {
  const b = isRecord(ctx.body) ? ctx.body : {};
  const nonEmptyArray = (v: unknown): boolean => Array.isArray(v) && v.length > 0;
  return (
    !(typeof b.content === 'string' && b.content.length > 0) &&
    !nonEmptyArray(b.embeds) &&
    !nonEmptyArray(b.components) &&
    !nonEmptyArray(b.sticker_ids) &&
    b.poll === undefined &&
    ctx.files.length === 0
  );
}

function attachmentsFor(state: FakeState, ctx: HandlerContext, channelId: string, existing: ApiObject[]): ApiObject[] {
  const b = isRecord(ctx.body) ? ctx.body : {};
  const declared = Array.isArray(b.attachments) ? b.attachments.filter(isRecord) : null;
  const fileById = new Map(ctx.files.map((f) => [f.field.replace(/^files\[(\d+)\]$/, '$1'), f]));
  const out: ApiObject[] = [];
  const used = new Set<RecordedFile>();
  const upload = (file: RecordedFile, meta: ApiObject): ApiObject => {
    used.add(file);
    const id = snowflake();
    const filename = typeof meta.filename === 'string' ? meta.filename : file.filename;
    const urlPath = `/attachments/${channelId}/${id}/${encodeURIComponent(filename)}`;
    state.attachmentsData.set(urlPath, { data: file.data, contentType: file.contentType });
    return {
      id,
      filename,
      size: file.size,
      url: `${state.baseUrl}${urlPath}`,
      proxy_url: `${state.baseUrl}${urlPath}`,
      content_type: file.contentType,
      ...(typeof meta.description === 'string' ? { description: meta.description } : {}),
      ...(file.contentType.startsWith('image/') ? { width: 1, height: 1 } : {}),
    };
  };
  if (declared) {
    for (const meta of declared) {
      const kept = existing.find((a) => a.id === String(meta.id));
      const file = fileById.get(String(meta.id));
      if (file) out.push(upload(file, meta));
      else if (kept) out.push(kept);
    }
  } else {
    out.push(...existing);
  }
  for (const file of ctx.files) if (!used.has(file)) out.push(upload(file, {}));
  return out;
}

function allowedMentionUsers(state: FakeState, content: string, allowed: unknown): FakeUser[] {
  const ids = mentionedUserIds(content);
  if (!isRecord(allowed)) return ids.map((id) => state.knownUser(id));
  const parse = Array.isArray(allowed.parse) ? allowed.parse : [];
  const users = Array.isArray(allowed.users) ? allowed.users.map(String) : [];
  return ids.filter((id) => parse.includes('users') || users.includes(id)).map((id) => state.knownUser(id));
}
