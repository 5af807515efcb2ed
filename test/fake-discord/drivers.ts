/**
 * What tests drive the fake with: interactions, button presses, user messages, servers joining and leaving. Each
 * changes the state and dispatches the gateway event Discord would send.
 */
import { randomBytes } from 'node:crypto';
import {
  DEFAULT_MEMBER_PERMISSIONS,
  isRecord,
  makeMember,
  makeMessage,
  makeUser,
  mentionedUserIds,
  snowflake,
} from './payloads.js';
import type { ApiObject, FakeChannel, FakeGuild, FakeUser } from './payloads.js';
import type { FakeState } from './state.js';

/** A raw INTERACTION_CREATE partial; `data` and `member` are merged into the defaults one level deep. */
export interface InteractionPartial extends ApiObject {
  /** 2 application command (default), 3 message component. */
  type?: number;
  /** Send as a DM interaction: no guild_id/member, a `user` and a DM channel. */
  dm?: boolean;
  data?: ApiObject;
  member?: ApiObject;
  user?: Partial<FakeUser>;
  guild_id?: string;
  channel_id?: string;
}

export interface SentInteraction {
  id: string;
  token: string;
  /** The INTERACTION_CREATE `d` as dispatched. */
  payload: ApiObject;
}

/** See FakeDiscord.sendInteraction. */
export function sendInteraction(state: FakeState, partial: InteractionPartial = {}): SentInteraction {
  const { dm, data, member, user: userPartial, type, ...rest } = partial;
  const interactionType = type ?? 2;
  const user = userPartial ? makeUser({ ...state.defaultUser, ...userPartial }) : state.defaultUser;
  const id = typeof rest.id === 'string' ? rest.id : snowflake();
  const token =
    typeof rest.token === 'string' ? rest.token : `fake-interaction-${randomBytes(24).toString('base64url')}`;
  let guildId: string | null = null;
  let channel: FakeChannel;
  if (dm) {
    channel = state.dmChannelFor(user, rest.channel_id);
  } else {
    const resolved = state.resolveGuildChannel(rest.guild_id, rest.channel_id);
    guildId = resolved.guildId;
    channel = resolved.channel;
  }
  const permissions = DEFAULT_MEMBER_PERMISSIONS;
  const base: ApiObject = {
    id,
    application_id: state.applicationId,
    type: interactionType,
    token,
    version: 1,
    channel_id: channel.id,
    channel: { ...channel, permissions },
    locale: 'en-US',
    app_permissions: permissions,
    entitlements: [],
    authorizing_integration_owners: guildId ? { '0': guildId } : { '1': user.id },
    context: guildId ? 0 : 1,
    attachment_size_limit: 10 * 1024 * 1024,
  };
  if (guildId) {
    base.guild_id = guildId;
    base.guild = { id: guildId, locale: 'en-US', features: [] };
    base.guild_locale = 'en-US';
    base.member = {
      ...makeMember(user),
      permissions,
      unusual_dm_activity_until: null,
      ...member,
      user: isRecord(member?.user) ? { ...user, ...member.user } : user,
    };
  } else {
    base.user = user;
  }
  let message: ApiObject | null = null;
  if (interactionType === 3) {
    message = isRecord(rest.message) ? rest.message : state.componentMessage(channel.id, guildId);
    base.message = message;
    base.data = { component_type: 2, custom_id: 'button', ...data };
  } else {
    const commandData: ApiObject = { id: snowflake(), name: 'babble', type: 1, ...data };
    const stored = state.storedCommand(guildId, commandData);
    if (stored && data?.id === undefined) commandData.id = stored.id;
    if (stored && guildId && stored.guild_id === guildId && commandData.guild_id === undefined) {
      commandData.guild_id = guildId;
    }
    base.data = commandData;
  }
  const payload: ApiObject = { ...base, ...rest };
  state.interactions.set(token, {
    id,
    token,
    type: interactionType,
    channelId: channel.id,
    guildId,
    user,
    responseType: null,
    original: null,
    followups: [],
    message,
  });
  state.dispatch('INTERACTION_CREATE', payload);
  return { id, token, payload };
}

/** See FakeDiscord.sendMessage. */
export function sendMessage(
  state: FakeState,
  partial: ApiObject & { dm?: boolean; author?: Partial<FakeUser> } = {},
): ApiObject {
  const { dm, author: authorPartial, ...rest } = partial;
  const author = authorPartial ? makeUser({ ...state.defaultUser, ...authorPartial }) : state.defaultUser;
  let guildId: string | null = null;
  let channelId: string;
  if (dm) {
    channelId = state.dmChannelFor(author, typeof rest.channel_id === 'string' ? rest.channel_id : undefined).id;
  } else {
    const resolved = state.resolveGuildChannel(
      typeof rest.guild_id === 'string' ? rest.guild_id : undefined,
      typeof rest.channel_id === 'string' ? rest.channel_id : undefined,
    );
    guildId = resolved.guildId;
    channelId = resolved.channel.id;
  }
  const content = typeof rest.content === 'string' ? rest.content : '';
  const message = makeMessage({
    channel_id: channelId,
    author,
    content,
    mentions: mentionedUserIds(content).map((uid) => state.knownUser(uid)),
    ...(guildId ? { guild_id: guildId, member: { ...makeMember(author), user: undefined } } : {}),
    ...rest,
  });
  if (isRecord(message.member)) delete message.member.user;
  state.storeMessage(message);
  state.dispatch('MESSAGE_CREATE', message);
  return message;
}

/** Adds a guild and dispatches GUILD_CREATE for it. */
export function addGuild(state: FakeState, guild: FakeGuild): void {
  state.addBotMember(guild);
  state.guilds.push(guild);
  state.dispatch('GUILD_CREATE', guild);
}

/** Removes a guild and dispatches GUILD_DELETE (`unavailable: true` simulates an outage instead of a kick). */
export function removeGuild(state: FakeState, guildId: string, unavailable = false): void {
  const index = state.guilds.findIndex((g) => g.id === guildId);
  if (index >= 0) state.guilds.splice(index, 1);
  state.dispatch('GUILD_DELETE', unavailable ? { id: guildId, unavailable: true } : { id: guildId });
}
