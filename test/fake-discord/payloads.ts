/**
 * Builders for Discord API objects (raw v10 JSON shapes) with defaults complete enough for discord.js 14.
 * All builders are pure functions; ids come from `snowflake()`.
 */

/** A raw API object: the named keys plus anything else Discord might send. */
export type ApiObject = Record<string, unknown>;

export interface FakeUser extends ApiObject {
  id: string;
  username: string;
  discriminator: string;
  global_name: string | null;
  avatar: string | null;
  bot?: boolean;
}

export interface FakeChannel extends ApiObject {
  id: string;
  type: number;
  name?: string;
  guild_id?: string;
}

export interface FakeRole extends ApiObject {
  id: string;
  name: string;
  permissions: string;
  position: number;
}

export interface FakeMember extends ApiObject {
  user: FakeUser;
  roles: string[];
  joined_at: string;
}

/** A guild as sent in GUILD_CREATE. Mutating it after start changes what later GUILD_CREATEs carry. */
export interface FakeGuild extends ApiObject {
  id: string;
  name: string;
  owner_id: string;
  channels: FakeChannel[];
  roles: FakeRole[];
  members: FakeMember[];
}

export const ChannelType = { GuildText: 0, DM: 1, GuildVoice: 2, GuildCategory: 4 } as const;

/** Permission bits (as bigint) used by the defaults. */
export const Permission = {
  CreateInstantInvite: 1n << 0n,
  Administrator: 1n << 3n,
  AddReactions: 1n << 6n,
  ViewChannel: 1n << 10n,
  SendMessages: 1n << 11n,
  EmbedLinks: 1n << 14n,
  AttachFiles: 1n << 15n,
  ReadMessageHistory: 1n << 16n,
  MentionEveryone: 1n << 17n,
  UseExternalEmojis: 1n << 18n,
  ChangeNickname: 1n << 26n,
  UseApplicationCommands: 1n << 31n,
  SendMessagesInThreads: 1n << 38n,
} as const;

/** What an ordinary member may do in a fresh server's text channel (also the @everyone role default). */
export const DEFAULT_MEMBER_PERMISSIONS = (
  Permission.CreateInstantInvite |
  Permission.AddReactions |
  Permission.ViewChannel |
  Permission.SendMessages |
  Permission.EmbedLinks |
  Permission.AttachFiles |
  Permission.ReadMessageHistory |
  Permission.UseExternalEmojis |
  Permission.ChangeNickname |
  Permission.UseApplicationCommands |
  Permission.SendMessagesInThreads
).toString();

const DISCORD_EPOCH = 1420070400000n;
let lastSnowflakeMs = 0;
let snowflakeCounter = 0;

/** A unique, time-ordered snowflake string (unique within this process). */
export function snowflake(): string {
  let at = Date.now();
  if (at <= lastSnowflakeMs) {
    at = lastSnowflakeMs;
    snowflakeCounter += 1;
    if (snowflakeCounter > 0xfff) {
      at += 1;
      snowflakeCounter = 0;
    }
  } else {
    snowflakeCounter = 0;
  }
  lastSnowflakeMs = at;
  return (((BigInt(at) - DISCORD_EPOCH) << 22n) | (1n << 17n) | BigInt(snowflakeCounter)).toString();
}

export function isRecord(value: unknown): value is ApiObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isoNow(): string {
  return new Date().toISOString();
}

export function makeUser(partial: Partial<FakeUser> = {}): FakeUser {
  const id = partial.id ?? snowflake();
  return {
    id,
    username: partial.username ?? `user${id.slice(-4)}`,
    discriminator: '0',
    global_name: null,
    avatar: null,
    bot: false,
    system: false,
    public_flags: 0,
    flags: 0,
    banner: null,
    accent_color: null,
    avatar_decoration_data: null,
    primary_guild: null,
    collectibles: null,
    ...partial,
  };
}

export function makeBotUser(partial: Partial<FakeUser> = {}): FakeUser {
  return makeUser({ username: 'babble', bot: true, verified: true, mfa_enabled: false, ...partial });
}

/** A guild text channel (type 0). `guild_id` is filled in by `makeGuild`. */
export function makeTextChannel(partial: Partial<FakeChannel> = {}): FakeChannel {
  return {
    id: snowflake(),
    type: ChannelType.GuildText,
    name: 'general',
    position: 0,
    permission_overwrites: [],
    topic: null,
    nsfw: false,
    last_message_id: null,
    last_pin_timestamp: null,
    rate_limit_per_user: 0,
    parent_id: null,
    flags: 0,
    ...partial,
  };
}

/** A DM channel (type 1) with one recipient. */
export function makeDmChannel(recipient: FakeUser, partial: Partial<FakeChannel> = {}): FakeChannel {
  return {
    id: snowflake(),
    type: ChannelType.DM,
    last_message_id: null,
    flags: 0,
    recipients: [recipient],
    ...partial,
  };
}

export function makeRole(partial: Partial<FakeRole> & { id: string }): FakeRole {
  return {
    name: 'role',
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    icon: null,
    unicode_emoji: null,
    position: 0,
    permissions: '0',
    managed: false,
    mentionable: false,
    flags: 0,
    ...partial,
  };
}

export function makeMember(user: FakeUser, partial: Partial<FakeMember> = {}): FakeMember {
  return {
    user,
    nick: null,
    avatar: null,
    banner: null,
    roles: [],
    joined_at: isoNow(),
    premium_since: null,
    deaf: false,
    mute: false,
    flags: 0,
    pending: false,
    communication_disabled_until: null,
    ...partial,
  };
}

export interface MakeGuildOptions {
  id?: string;
  name?: string;
  /** Channels (partials are completed with `makeTextChannel`). Default: one text channel named "general". */
  channels?: Partial<FakeChannel>[];
  ownerId?: string;
  /** Permissions of the @everyone role (a bigint string). Default `DEFAULT_MEMBER_PERMISSIONS`. */
  everyonePermissions?: string;
  roles?: FakeRole[];
  members?: FakeMember[];
  /** Anything else to put in the GUILD_CREATE payload. */
  extra?: ApiObject;
}

/** A guild with an @everyone role (id = guild id) and text channels. The bot's member is added at start. */
export function makeGuild(options: MakeGuildOptions = {}): FakeGuild {
  const id = options.id ?? snowflake();
  const channelPartials = options.channels ?? [{ name: 'general' }];
  const channels = channelPartials.map((c, i) => makeTextChannel({ position: i, ...c, guild_id: id }));
  const everyone = makeRole({
    id,
    name: '@everyone',
    permissions: options.everyonePermissions ?? DEFAULT_MEMBER_PERMISSIONS,
  });
  return {
    id,
    name: options.name ?? 'Test Server',
    icon: null,
    icon_hash: null,
    splash: null,
    discovery_splash: null,
    banner: null,
    description: null,
    owner_id: options.ownerId ?? snowflake(),
    afk_channel_id: null,
    afk_timeout: 300,
    widget_enabled: false,
    widget_channel_id: null,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    features: [],
    mfa_level: 0,
    application_id: null,
    system_channel_id: null,
    system_channel_flags: 0,
    rules_channel_id: null,
    public_updates_channel_id: null,
    safety_alerts_channel_id: null,
    max_presences: null,
    max_members: 500000,
    vanity_url_code: null,
    premium_tier: 0,
    premium_subscription_count: 0,
    premium_progress_bar_enabled: false,
    preferred_locale: 'en-US',
    max_video_channel_users: 25,
    max_stage_video_channel_users: 50,
    nsfw_level: 0,
    incidents_data: null,
    unavailable: false,
    large: false,
    lazy: true,
    joined_at: isoNow(),
    member_count: (options.members?.length ?? 0) + 1,
    channels,
    threads: [],
    roles: [everyone, ...(options.roles ?? [])],
    members: [...(options.members ?? [])],
    emojis: [],
    stickers: [],
    presences: [],
    voice_states: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
    embedded_activities: [],
    ...options.extra,
  };
}

/** A guild as sent in READY: `{ id, unavailable: true }`. */
export function unavailableGuild(guild: FakeGuild): ApiObject {
  return { id: guild.id, unavailable: true };
}

/** A complete message object; `partial` overrides any default. */
export function makeMessage(partial: ApiObject & { channel_id: string; author: FakeUser }): ApiObject {
  return {
    id: snowflake(),
    type: 0,
    content: '',
    timestamp: isoNow(),
    edited_timestamp: null,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    mention_channels: [],
    attachments: [],
    embeds: [],
    reactions: [],
    pinned: false,
    flags: 0,
    components: [],
    ...partial,
  };
}

/** Ids of users mentioned as `<@id>` or `<@!id>` in a message's text. */
export function mentionedUserIds(content: string): string[] {
  const ids = new Set<string>();
  for (const m of content.matchAll(/<@!?(\d+)>/g)) if (m[1]) ids.add(m[1]);
  return [...ids];
}

export type OptionValue = string | number | boolean;

/**
 * An application command option with a value; the type follows the value (3 string, 4 integer, 10 number,
 * 5 boolean).
 */
export function option(name: string, value: OptionValue, type?: number): ApiObject {
  const inferred = typeof value === 'string' ? 3 : typeof value === 'boolean' ? 5 : Number.isInteger(value) ? 4 : 10;
  return { name, type: type ?? inferred, value };
}

/** A subcommand option (type 1) holding `options`. */
export function subcommand(name: string, options: ApiObject[] = []): ApiObject {
  return { name, type: 1, options };
}

/** A subcommand group option (type 2) holding subcommands. */
export function subcommandGroup(name: string, subcommands: ApiObject[]): ApiObject {
  return { name, type: 2, options: subcommands };
}
