/**
 * What the fake Discord knows: the bot and its application, the servers with their channels and members, DM
 * channels, stored messages, registered commands, interactions and uploaded attachments. Routes and drivers read
 * and change it; `dispatch`/`echo` send gateway events through the owner.
 */
import {
  isRecord,
  makeBotUser,
  makeDmChannel,
  makeGuild,
  makeMember,
  makeMessage,
  makeUser,
  snowflake,
} from './payloads.js';
import type { ApiObject, FakeChannel, FakeGuild, FakeUser } from './payloads.js';
import type { FakeDiscordOptions } from './options.js';

/** State of an interaction as seen through its callback and webhook routes. */
export interface InteractionState {
  id: string;
  token: string;
  type: number;
  channelId: string;
  guildId: string | null;
  user: FakeUser;
  /** Callback type used (4 reply, 5 deferred, 6/7 component updates, 9 modal), null before the callback. */
  responseType: number | null;
  /** The @original message; null before a callback that creates one or after it was deleted. */
  original: ApiObject | null;
  followups: ApiObject[];
  /** For component interactions: the message the component is on. */
  message: ApiObject | null;
}

/** What the state needs from its owner. */
export interface StateHooks {
  /** Dispatches an event to every gateway session; returns how many got it. */
  dispatch(eventName: string, data: unknown): number;
  baseUrl(): string;
  gatewayUrl(): string;
}

export class FakeState {
  readonly options: FakeDiscordOptions;
  readonly applicationId: string;
  readonly botUser: FakeUser;
  /** The guilds sent after READY (mutable; `addGuild` also appends). */
  readonly guilds: FakeGuild[];
  /** The human user used by default in sendInteraction/sendMessage. */
  readonly defaultUser: FakeUser;
  readonly token: string | undefined;
  readonly messages = new Map<string, ApiObject[]>();
  readonly dmChannels = new Map<string, FakeChannel>();
  readonly interactions = new Map<string, InteractionState>();
  readonly commands = new Map<string, ApiObject[]>();
  readonly attachmentsData = new Map<string, { data: Buffer; contentType: string }>();
  private readonly hooks: StateHooks;

  constructor(options: FakeDiscordOptions, hooks: StateHooks) {
    this.options = options;
    this.hooks = hooks;
    this.token = options.token;
    this.applicationId = options.applicationId ?? snowflake();
    this.botUser = makeBotUser({
      id: options.botUserId ?? snowflake(),
      username: options.botUsername ?? 'babble',
    });
    this.defaultUser = makeUser({ username: 'tester', global_name: 'Tester', ...options.defaultUser });
    this.guilds = options.guilds ?? [makeGuild()];
    for (const guild of this.guilds) this.addBotMember(guild);
  }

  get baseUrl(): string {
    return this.hooks.baseUrl();
  }

  get gatewayUrl(): string {
    return this.hooks.gatewayUrl();
  }

  dispatch(eventName: string, data: unknown): number {
    return this.hooks.dispatch(eventName, data);
  }

  /** Dispatches an event about the bot's own REST doings, unless `echoBotMessages` is off. */
  echo(t: string, d: unknown): void {
    if (this.options.echoBotMessages === false) return;
    this.dispatch(t, d);
  }

  addBotMember(guild: FakeGuild): void {
    if (!guild.members.some((m) => m.user.id === this.botUser.id)) guild.members.push(makeMember(this.botUser));
    guild.member_count = Math.max(Number(guild.member_count ?? 0), guild.members.length);
  }

  resolveGuildChannel(guildId?: string, channelId?: string): { guildId: string; channel: FakeChannel } {
    for (const guild of this.guilds) {
      if (guildId !== undefined && guild.id !== guildId) continue;
      const channel = guild.channels.find((c) =>
        channelId === undefined ? c.type === 0 || c.type === 5 : c.id === channelId,
      );
      if (channel) return { guildId: guild.id, channel: { guild_id: guild.id, ...channel } };
    }
    throw new Error(
      `fake-discord: no guild text channel for guild_id=${guildId ?? '(any)'} channel_id=${channelId ?? '(any)'}`,
    );
  }

  dmChannelFor(user: FakeUser, channelId?: string): FakeChannel {
    const existing = [...this.dmChannels.values()].find(
      (c) =>
        (channelId !== undefined && c.id === channelId) || (channelId === undefined && dmRecipientId(c) === user.id),
    );
    if (existing) return existing;
    const channel = makeDmChannel(user, channelId === undefined ? {} : { id: channelId });
    this.dmChannels.set(channel.id, channel);
    return channel;
  }

  findChannel(channelId: string): { channel: FakeChannel; guildId: string | null } | null {
    for (const guild of this.guilds) {
      const channel = guild.channels.find((c) => c.id === channelId);
      if (channel) return { channel: { guild_id: guild.id, ...channel }, guildId: guild.id };
    }
    const dm = this.dmChannels.get(channelId);
    return dm ? { channel: dm, guildId: null } : null;
  }

  knownUser(id: string): FakeUser {
    if (id === this.botUser.id) return this.botUser;
    if (id === this.defaultUser.id) return this.defaultUser;
    for (const guild of this.guilds) {
      const member = guild.members.find((m) => m.user.id === id);
      if (member) return member.user;
    }
    return makeUser({ id });
  }

  /** The registered command an interaction refers to (guild commands first), if any. */
  storedCommand(guildId: string | null, data: ApiObject): ApiObject | undefined {
    const scopes = guildId ? [guildId, 'global'] : ['global'];
    for (const scope of scopes) {
      const found = (this.commands.get(scope) ?? []).find((c) => c.name === data.name && c.type === (data.type ?? 1));
      if (found) return found;
    }
    return undefined;
  }

  componentMessage(channelId: string, guildId: string | null): ApiObject {
    const fromBot = (this.messages.get(channelId) ?? []).filter(
      (m) => isRecord(m.author) && m.author.id === this.botUser.id,
    );
    const last = fromBot[fromBot.length - 1];
    if (last) return last;
    return makeMessage({
      channel_id: channelId,
      author: this.botUser,
      ...(guildId ? { guild_id: guildId } : {}),
      content: '',
      components: [{ type: 1, components: [{ type: 2, style: 1, custom_id: 'button', label: 'Button' }] }],
    });
  }

  storeMessage(message: ApiObject): void {
    const channelId = String(message.channel_id);
    const list = this.messages.get(channelId) ?? [];
    list.push(message);
    this.messages.set(channelId, list);
  }

  removeStoredMessage(channelId: string, messageId: string): ApiObject | null {
    const list = this.messages.get(channelId) ?? [];
    const index = list.findIndex((m) => m.id === messageId);
    if (index < 0) return null;
    const [removed] = list.splice(index, 1);
    return removed ?? null;
  }
}

function dmRecipientId(channel: FakeChannel): string | undefined {
  const recipients = Array.isArray(channel.recipients) ? channel.recipients : [];
  const first: unknown = recipients[0];
  return isRecord(first) && typeof first.id === 'string' ? first.id : undefined;
}
