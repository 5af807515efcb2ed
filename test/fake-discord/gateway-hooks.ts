/**
 * How the fake's state meets its gateway (gateway.ts): READY and the GUILD_CREATEs after it, which shard a dispatch
 * goes to, and what a session's intents let through.
 */
import type { GatewayHooks, GatewaySessionInfo, ReceivedGatewayPayload } from './gateway.js';
import { isRecord } from './payloads.js';
import type { FakeState } from './state.js';

const INTENT = {
  GuildMessages: 1 << 9,
  GuildMessageTyping: 1 << 11,
  DirectMessages: 1 << 12,
  DirectMessageTyping: 1 << 14,
  MessageContent: 1 << 15,
} as const;

/**
 * Whether a dispatch goes to this session's shard, as Discord routes them: a server's events to shard
 * (server id >> 22) % shard count, everything without a server (DMs) to shard 0.
 */
export function onShard(session: GatewaySessionInfo, t: string, d: unknown): boolean {
  const [id, count] = session.shard;
  if (!(count > 1)) return true;
  const guildId = isRecord(d)
    ? t === 'GUILD_CREATE' || t === 'GUILD_DELETE' || t === 'GUILD_UPDATE'
      ? d.id
      : d.guild_id
    : undefined;
  if (typeof guildId !== 'string' || !/^\d+$/.test(guildId)) return id === 0;
  return Number((BigInt(guildId) >> 22n) % BigInt(count)) === id;
}

/** The hooks FakeGateway calls: READY contents from the state, shard and intent filtering, records, wake-ups. */
export function gatewayHooks(
  state: FakeState,
  onReceive: (payload: ReceivedGatewayPayload) => void,
  onChange: () => void,
): GatewayHooks {
  return {
    token: state.options.token,
    heartbeatIntervalMs: state.options.heartbeatIntervalMs ?? 1000,
    gatewayUrl: () => state.gatewayUrl,
    readyData: (session) => ({
      user: state.botUser,
      guilds: state.guilds
        .filter((g) => onShard(session, 'GUILD_CREATE', g))
        .map((g) => ({ id: g.id, unavailable: true })),
      application: { id: state.applicationId, flags: 0 },
    }),
    afterReady: (session) =>
      state.guilds.filter((g) => onShard(session, 'GUILD_CREATE', g)).map((g) => ({ t: 'GUILD_CREATE', d: g })),
    filterDispatch: (session, t, d) => filterDispatch(state, session, t, d),
    onReceive,
    onChange,
  };
}

function filterDispatch(state: FakeState, session: GatewaySessionInfo, t: string, d: unknown): { d: unknown } | null {
  if (!onShard(session, t, d)) return null;
  if (state.options.enforceIntents === false || !isRecord(d)) return { d };
  const inGuild = typeof d.guild_id === 'string';
  const has = (bit: number): boolean => (session.intents & bit) !== 0;
  if (t === 'MESSAGE_CREATE' || t === 'MESSAGE_UPDATE' || t === 'MESSAGE_DELETE' || t === 'MESSAGE_DELETE_BULK') {
    if (!has(inGuild ? INTENT.GuildMessages : INTENT.DirectMessages)) return null;
    if (t === 'MESSAGE_CREATE' || t === 'MESSAGE_UPDATE') {
      const authorId = isRecord(d.author) ? d.author.id : undefined;
      const mentioned = Array.isArray(d.mentions) && d.mentions.some((m) => isRecord(m) && m.id === state.botUser.id);
      if (inGuild && !has(INTENT.MessageContent) && authorId !== state.botUser.id && !mentioned) {
        return { d: { ...d, content: '', embeds: [], attachments: [], components: [], poll: undefined } };
      }
    }
  }
  if (t === 'TYPING_START' && !has(inGuild ? INTENT.GuildMessageTyping : INTENT.DirectMessageTyping)) return null;
  return { d };
}
