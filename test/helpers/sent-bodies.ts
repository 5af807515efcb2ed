/**
 * The message bodies a bot sent to the fake Discord, and the checks every one of them must pass: pings nobody
 * (allowed_mentions parse [] and no user/role lists), no raw @everyone/@here or mention markup in the text, and
 * content within Discord's 2,000 characters.
 */
import type { RecordedRequest } from '../fake-discord/index.js';

export const MESSAGE_OPERATIONS = [
  'update_original_webhook_message',
  'execute_webhook',
  'update_webhook_message',
  'create_message',
  'update_message',
] as const;

export interface SentBody {
  request: RecordedRequest;
  /** The message part: `data` of an interaction callback, the whole body otherwise. */
  body: Record<string, unknown>;
}

/** The message bodies among `requests` (interaction callbacks with content or embeds, webhook edits, channel messages). */
export function sentBodies(requests: readonly RecordedRequest[]): SentBody[] {
  const out: SentBody[] = [];
  for (const r of requests) {
    const body = r.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object') continue;
    if (r.operationId === 'create_interaction_response') {
      const data = body.data as Record<string, unknown> | undefined;
      if (data && (data.content !== undefined || data.embeds !== undefined)) out.push({ request: r, body: data });
    } else if ((MESSAGE_OPERATIONS as readonly string[]).includes(r.operationId ?? '')) {
      out.push({ request: r, body });
    }
  }
  return out;
}

/** Why this body could ping someone or break Discord's limits; empty when it is fine. */
export function bodyProblems(sent: SentBody): string[] {
  const problems: string[] = [];
  const { body } = sent;
  const mentions = body.allowed_mentions as
    | { parse?: unknown; users?: unknown; roles?: unknown; replied_user?: unknown }
    | undefined;
  if (!mentions || !Array.isArray(mentions.parse) || mentions.parse.length !== 0)
    problems.push(`allowed_mentions.parse is not []: ${JSON.stringify(mentions)}`);
  if (mentions && Array.isArray(mentions.users) && mentions.users.length > 0)
    problems.push('allowed_mentions lists users');
  if (mentions && Array.isArray(mentions.roles) && mentions.roles.length > 0)
    problems.push('allowed_mentions lists roles');
  if (
    sent.request.operationId === 'create_message' &&
    body.message_reference !== undefined &&
    mentions?.replied_user !== false
  ) {
    problems.push('a reply without replied_user: false');
  }
  const content = body.content;
  if (content !== undefined) {
    if (typeof content !== 'string') problems.push(`content is not a string: ${typeof content}`);
    else {
      if (content.length > 2000) problems.push(`content has ${content.length} characters`);
      if (/@(everyone|here)/i.test(content)) problems.push('content contains a raw @everyone/@here');
      if (/<@[!&]?\d+>/.test(content)) problems.push('content contains user or role mention markup');
    }
  }
  return problems;
}
