/**
 * The fake Discord: one node:http server on 127.0.0.1 serving REST under /api/v10 and the gateway
 * (WebSocket upgrade on any path of the same port). See index.ts for the usage doc.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { parseBody } from './body.js';
import type { RecordedFile } from './body.js';
import { faultResponse, Faults } from './faults.js';
import type { Fault, FaultOptions, RouteMatcher } from './faults.js';
import { FakeGateway } from './gateway.js';
import type { GatewaySessionInfo, ReceivedGatewayPayload } from './gateway.js';
import {
  DEFAULT_MEMBER_PERMISSIONS,
  isoNow,
  makeBotUser,
  makeDmChannel,
  makeGuild,
  makeMember,
  makeMessage,
  makeUser,
  mentionedUserIds,
  snowflake,
} from './payloads.js';
import type { ApiObject, FakeChannel, FakeGuild, FakeUser } from './payloads.js';
import type { FakeDiscordOptions } from './options.js';
import { describeRequest, Recording } from './recording.js';
import type { RecordedRequest, SpecViolation } from './recording.js';
import { SpecValidator } from './spec-validator.js';
import type { ValidationError } from './spec-validator.js';
import { Waiters } from './waiters.js';

/**
 * Whether a dispatch goes to this session's shard, as Discord routes them: a server's events to shard
 * (server id >> 22) % shard count, everything without a server (DMs) to shard 0.
 */
export function onShard(session: GatewaySessionInfo, t: string, d: unknown): boolean {
  const [id, count] = session.shard;
  if (!(count > 1)) return true;
  const guildId = isRecord(d) ? (t === 'GUILD_CREATE' || t === 'GUILD_DELETE' || t === 'GUILD_UPDATE' ? d.id : d.guild_id) : undefined;
  if (typeof guildId !== 'string' || !/^\d+$/.test(guildId)) return id === 0;
  return Number((BigInt(guildId) >> 22n) % BigInt(count)) === id;
}

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

interface HandlerContext {
  params: Record<string, string>;
  query: Record<string, string>;
  body: unknown;
  files: RecordedFile[];
}

interface HandlerResult {
  status: number;
  body?: unknown;
}

type Handler = (ctx: HandlerContext) => HandlerResult;

const INTENT = {
  GuildMessages: 1 << 9,
  GuildMessageTyping: 1 << 11,
  DirectMessages: 1 << 12,
  DirectMessageTyping: 1 << 14,
  MessageContent: 1 << 15,
} as const;

const MESSAGE_FLAG = { Ephemeral: 64, Loading: 128 } as const;

function apiError(status: number, code: number, message: string, errors?: unknown): HandlerResult {
  return { status, body: errors === undefined ? { message, code } : { message, code, errors } };
}

function isRecord(value: unknown): value is ApiObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class FakeDiscord {
  readonly applicationId: string;
  readonly botUser: FakeUser;
  /** The guilds sent after READY (mutable; `addGuild` also appends). */
  readonly guilds: FakeGuild[];
  /** The human user used by default in sendInteraction/sendMessage. */
  readonly defaultUser: FakeUser;
  readonly token: string | undefined;
  private readonly recording = new Recording();
  readonly requests: RecordedRequest[] = this.recording.requests;
  readonly unhandled: RecordedRequest[] = this.recording.unhandled;
  readonly violations: SpecViolation[] = this.recording.violations;
  /** Payloads the client sent on the gateway (heartbeats, identify, resume, presence…). */
  readonly gatewayReceived: ReceivedGatewayPayload[] = this.recording.gatewayReceived;
  /** Exceptions thrown inside fake route handlers (answered with 500). Should stay empty. */
  readonly internalErrors: string[] = this.recording.internalErrors;

  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly gateway: FakeGateway;
  private readonly spec: SpecValidator;
  private readonly options: FakeDiscordOptions;
  private readonly faults = new Faults();
  private readonly waiters = new Waiters();
  private readonly messages = new Map<string, ApiObject[]>();
  private readonly dmChannels = new Map<string, FakeChannel>();
  private readonly interactions = new Map<string, InteractionState>();
  private readonly commands = new Map<string, ApiObject[]>();
  private readonly attachmentsData = new Map<string, { data: Buffer; contentType: string }>();
  private readonly handlers: Record<string, Handler>;
  private port = 0;
  private closed = false;
  private requestCounter = 0;

  constructor(options: FakeDiscordOptions, spec: SpecValidator) {
    this.options = options;
    this.spec = spec;
    this.token = options.token;
    this.applicationId = options.applicationId ?? snowflake();
    this.botUser = makeBotUser({
      id: options.botUserId ?? snowflake(),
      username: options.botUsername ?? 'babble',
    });
    this.defaultUser = makeUser({ username: 'tester', global_name: 'Tester', ...options.defaultUser });
    this.guilds = options.guilds ?? [makeGuild()];
    for (const guild of this.guilds) this.addBotMember(guild);
    this.gateway = new FakeGateway({
      token: options.token,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1000,
      gatewayUrl: () => this.gatewayUrl,
      readyData: (session) => ({
        user: this.botUser,
        guilds: this.guilds.filter((g) => onShard(session, 'GUILD_CREATE', g)).map((g) => ({ id: g.id, unavailable: true })),
        application: { id: this.applicationId, flags: 0 },
      }),
      afterReady: (session) => this.guilds.filter((g) => onShard(session, 'GUILD_CREATE', g)).map((g) => ({ t: 'GUILD_CREATE', d: g })),
      filterDispatch: (session, t, d) => this.filterDispatch(session, t, d),
      onReceive: (payload) => {
        this.gatewayReceived.push(payload);
      },
      onChange: () => this.waiters.notify(),
    });
    this.handlers = this.buildHandlers();
    this.server = createServer((req, res) => {
      this.handleHttp(req, res).catch((error: unknown) => {
        this.internalErrors.push(String(error));
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `fake internal error: ${String(error)}`, code: 0 }));
      });
    });
    this.wss = new WebSocketServer({ server: this.server });
    this.wss.on('connection', (ws, req) => this.gateway.accept(ws, req));
  }

  /** Starts listening on 127.0.0.1 with an ephemeral port. */
  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Give this to discord.js as `rest: { api: fake.apiUrl }`. */
  get apiUrl(): string {
    return `${this.baseUrl}/api`;
  }

  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  get identifies(): number {
    return this.gateway.identifies;
  }

  get resumes(): number {
    return this.gateway.resumes;
  }

  get heartbeats(): number {
    return this.gateway.heartbeats;
  }

  /** WebSocket connections accepted so far. */
  get gatewayConnections(): number {
    return this.gateway.connectionsOpened;
  }

  sessions(): GatewaySessionInfo[] {
    return this.gateway.sessionInfos();
  }

  // ---------------------------------------------------------------- events

  /** Dispatches any event to every gateway session; returns how many sessions got it (0 if filtered out). */
  dispatch(eventName: string, data: unknown): number {
    const delivered = this.gateway.dispatch(eventName, data);
    this.waiters.notify();
    return delivered;
  }

  /**
   * Dispatches INTERACTION_CREATE. Defaults: type 2 chat-input command "babble" in the first guild's first
   * text channel, from `defaultUser` with `DEFAULT_MEMBER_PERMISSIONS`. Throws when no gateway session exists.
   */
  sendInteraction(partial: InteractionPartial = {}): SentInteraction {
    const { dm, data, member, user: userPartial, type, ...rest } = partial;
    if (this.gateway.sessionInfos().length === 0) {
      throw new Error('fake-discord: no gateway session to dispatch INTERACTION_CREATE to (log a client in first)');
    }
    const interactionType = type ?? 2;
    const user = userPartial ? makeUser({ ...this.defaultUser, ...userPartial }) : this.defaultUser;
    const id = typeof rest.id === 'string' ? rest.id : snowflake();
    const token = typeof rest.token === 'string' ? rest.token : `fake-interaction-${randomBytes(24).toString('base64url')}`;
    let guildId: string | null = null;
    let channel: FakeChannel;
    if (dm) {
      channel = this.dmChannelFor(user, rest.channel_id);
    } else {
      const resolved = this.resolveGuildChannel(rest.guild_id, rest.channel_id);
      guildId = resolved.guildId;
      channel = resolved.channel;
    }
    const permissions = DEFAULT_MEMBER_PERMISSIONS;
    const base: ApiObject = {
      id,
      application_id: this.applicationId,
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
      message = isRecord(rest.message) ? rest.message : this.componentMessage(channel.id, guildId);
      base.message = message;
      base.data = { component_type: 2, custom_id: 'button', ...data };
    } else {
      const commandData: ApiObject = { id: snowflake(), name: 'babble', type: 1, ...data };
      const stored = this.storedCommand(guildId, commandData);
      if (stored && data?.id === undefined) commandData.id = stored.id;
      if (stored && guildId && stored.guild_id === guildId && commandData.guild_id === undefined) commandData.guild_id = guildId;
      base.data = commandData;
    }
    const payload: ApiObject = { ...base, ...rest };
    this.interactions.set(token, {
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
    this.dispatch('INTERACTION_CREATE', payload);
    return { id, token, payload };
  }

  /** Sugar for a button press (type 3, component_type 2) with `custom_id`. */
  sendButton(customId: string, partial: InteractionPartial = {}): SentInteraction {
    return this.sendInteraction({ ...partial, type: 3, data: { component_type: 2, custom_id: customId, ...partial.data } });
  }

  /**
   * Dispatches MESSAGE_CREATE from `defaultUser` (override `author`) in the first guild's first text channel.
   * `mentions` is filled from `<@id>` in the content when not given. `dm: true` sends it in a DM channel.
   * Returns the full message object (also stored, so GET /channels/:id/messages lists it).
   */
  sendMessage(partial: ApiObject & { dm?: boolean; author?: Partial<FakeUser> } = {}): ApiObject {
    const { dm, author: authorPartial, ...rest } = partial;
    const author = authorPartial ? makeUser({ ...this.defaultUser, ...authorPartial }) : this.defaultUser;
    let guildId: string | null = null;
    let channelId: string;
    if (dm) {
      channelId = this.dmChannelFor(author, typeof rest.channel_id === 'string' ? rest.channel_id : undefined).id;
    } else {
      const resolved = this.resolveGuildChannel(
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
      mentions: mentionedUserIds(content).map((uid) => this.knownUser(uid)),
      ...(guildId ? { guild_id: guildId, member: { ...makeMember(author), user: undefined } } : {}),
      ...rest,
    });
    if (isRecord(message.member)) delete message.member.user;
    this.storeMessage(message);
    this.dispatch('MESSAGE_CREATE', message);
    return message;
  }

  /** Adds a guild and dispatches GUILD_CREATE for it. */
  addGuild(guild: FakeGuild): void {
    this.addBotMember(guild);
    this.guilds.push(guild);
    this.dispatch('GUILD_CREATE', guild);
  }

  /** Removes a guild and dispatches GUILD_DELETE (`unavailable: true` simulates an outage instead of a kick). */
  removeGuild(guildId: string, unavailable = false): void {
    const index = this.guilds.findIndex((g) => g.id === guildId);
    if (index >= 0) this.guilds.splice(index, 1);
    this.dispatch('GUILD_DELETE', unavailable ? { id: guildId, unavailable: true } : { id: guildId });
  }

  // ---------------------------------------------------------------- gateway faults

  /** Closes every gateway connection with a close frame (`code` 1000 or 3000–4999). */
  closeGateway(code = 4000, reason = 'fake-discord closeGateway'): void {
    this.gateway.closeAll(code, reason);
  }

  /** Destroys every gateway TCP connection without a close frame (client sees 1006 and resumes). */
  dropConnection(): void {
    this.gateway.terminateAll();
  }

  /** Stops ACKing heartbeats on open connections (and new ones with `includeNewConnections`). */
  stallGateway(options: { includeNewConnections?: boolean } = {}): void {
    this.gateway.stall(options.includeNewConnections ?? false);
  }

  unstallGateway(): void {
    this.gateway.unstall();
  }

  /** Sends op 7 RECONNECT. */
  requestReconnect(): void {
    this.gateway.requestReconnect();
  }

  /** Sends op 9 INVALID SESSION (`resumable` is its `d`); non-resumable sessions are forgotten. */
  invalidateSession(resumable = false): void {
    this.gateway.invalidateSessions(resumable);
  }

  // ---------------------------------------------------------------- REST faults and observability

  /**
   * The next `times` (default 1) requests matching get `fault` instead of being handled.
   * `matcher`: an operationId (`create_message`), a spec route (`/channels/{channel_id}/messages`),
   * `METHOD route`, a RegExp tested on `METHOD /decoded/path`, or a predicate on the RecordedRequest.
   */
  failNext(matcher: RouteMatcher, fault: Fault, options: FaultOptions = {}): void {
    this.faults.add(matcher, fault, options);
  }

  /** Resolves with the first recorded request (past or future) matching `predicate`. */
  waitForRequest(predicate: (request: RecordedRequest) => boolean, timeoutMs = 5000): Promise<RecordedRequest> {
    return this.waiters.waitForValue(
      () => this.requests.find(predicate),
      timeoutMs,
      () => `waitForRequest: no match; recorded:\n  ${this.requests.map(describeRequest).join('\n  ') || '(none)'}`,
    );
  }

  /** Resolves with the first received gateway payload (past or future) matching `predicate`. */
  waitForGatewayPayload(
    predicate: (payload: ReceivedGatewayPayload) => boolean,
    timeoutMs = 5000,
  ): Promise<ReceivedGatewayPayload> {
    return this.waiters.waitForValue(() => this.gatewayReceived.find(predicate), timeoutMs, () => 'waitForGatewayPayload: no match');
  }

  /** Resolves once `condition()` is true (re-checked on every request/gateway event). */
  async waitFor(condition: () => boolean, timeoutMs = 5000, label = 'condition'): Promise<void> {
    await this.waiters.waitForValue(() => (condition() ? true : undefined), timeoutMs, () => `waitFor(${label}) timed out`);
  }

  /** Throws a readable error listing every spec violation recorded so far. */
  assertNoViolations(): void {
    this.recording.assertNoViolations();
  }

  /** Forgets recorded requests, violations and gateway payloads (not the stored messages/commands). */
  clearRecords(): void {
    this.recording.clear();
  }

  /** Commands as stored by PUT/POST (global when no guildId). */
  getCommands(guildId?: string): ApiObject[] {
    return [...(this.commands.get(guildId ?? 'global') ?? [])];
  }

  /** Messages stored for a channel, oldest first (sent by users via sendMessage or by the bot via REST). */
  getMessages(channelId: string): ApiObject[] {
    return [...(this.messages.get(channelId) ?? [])];
  }

  /** Interaction state by id or token. */
  getInteraction(idOrToken: string): InteractionState | undefined {
    return this.interactions.get(idOrToken) ?? [...this.interactions.values()].find((i) => i.id === idOrToken);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.waiters.close();
    this.gateway.close();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---------------------------------------------------------------- internals: model

  private addBotMember(guild: FakeGuild): void {
    if (!guild.members.some((m) => m.user.id === this.botUser.id)) guild.members.push(makeMember(this.botUser));
    guild.member_count = Math.max(Number(guild.member_count ?? 0), guild.members.length);
  }

  private resolveGuildChannel(guildId?: string, channelId?: string): { guildId: string; channel: FakeChannel } {
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

  private dmChannelFor(user: FakeUser, channelId?: string): FakeChannel {
    const existing = [...this.dmChannels.values()].find(
      (c) => (channelId !== undefined && c.id === channelId) || (channelId === undefined && dmRecipientId(c) === user.id),
    );
    if (existing) return existing;
    const channel = makeDmChannel(user, channelId === undefined ? {} : { id: channelId });
    this.dmChannels.set(channel.id, channel);
    return channel;
  }

  private findChannel(channelId: string): { channel: FakeChannel; guildId: string | null } | null {
    for (const guild of this.guilds) {
      const channel = guild.channels.find((c) => c.id === channelId);
      if (channel) return { channel: { guild_id: guild.id, ...channel }, guildId: guild.id };
    }
    const dm = this.dmChannels.get(channelId);
    return dm ? { channel: dm, guildId: null } : null;
  }

  private knownUser(id: string): FakeUser {
    if (id === this.botUser.id) return this.botUser;
    if (id === this.defaultUser.id) return this.defaultUser;
    for (const guild of this.guilds) {
      const member = guild.members.find((m) => m.user.id === id);
      if (member) return member.user;
    }
    return makeUser({ id });
  }

  /** The registered command an interaction refers to (guild commands first), if any. */
  private storedCommand(guildId: string | null, data: ApiObject): ApiObject | undefined {
    const scopes = guildId ? [guildId, 'global'] : ['global'];
    for (const scope of scopes) {
      const found = (this.commands.get(scope) ?? []).find((c) => c.name === data.name && c.type === (data.type ?? 1));
      if (found) return found;
    }
    return undefined;
  }

  private componentMessage(channelId: string, guildId: string | null): ApiObject {
    const fromBot = (this.messages.get(channelId) ?? []).filter((m) => isRecord(m.author) && m.author.id === this.botUser.id);
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

  private storeMessage(message: ApiObject): void {
    const channelId = String(message.channel_id);
    const list = this.messages.get(channelId) ?? [];
    list.push(message);
    this.messages.set(channelId, list);
  }

  private removeStoredMessage(channelId: string, messageId: string): ApiObject | null {
    const list = this.messages.get(channelId) ?? [];
    const index = list.findIndex((m) => m.id === messageId);
    if (index < 0) return null;
    const [removed] = list.splice(index, 1);
    return removed ?? null;
  }

  private filterDispatch(session: GatewaySessionInfo, t: string, d: unknown): { d: unknown } | null {
    if (!onShard(session, t, d)) return null;
    if (this.options.enforceIntents === false || !isRecord(d)) return { d };
    const inGuild = typeof d.guild_id === 'string';
    const has = (bit: number): boolean => (session.intents & bit) !== 0;
    if (t === 'MESSAGE_CREATE' || t === 'MESSAGE_UPDATE' || t === 'MESSAGE_DELETE' || t === 'MESSAGE_DELETE_BULK') {
      if (!has(inGuild ? INTENT.GuildMessages : INTENT.DirectMessages)) return null;
      if (t === 'MESSAGE_CREATE' || t === 'MESSAGE_UPDATE') {
        const authorId = isRecord(d.author) ? d.author.id : undefined;
        const mentioned = Array.isArray(d.mentions) && d.mentions.some((m) => isRecord(m) && m.id === this.botUser.id);
        if (inGuild && !has(INTENT.MessageContent) && authorId !== this.botUser.id && !mentioned) {
          return { d: { ...d, content: '', embeds: [], attachments: [], components: [], poll: undefined } };
        }
      }
    }
    if (t === 'TYPING_START' && !has(inGuild ? INTENT.GuildMessageTyping : INTENT.DirectMessageTyping)) return null;
    return { d };
  }

  private echo(t: string, d: unknown): void {
    if (this.options.echoBotMessages === false) return;
    this.dispatch(t, d);
  }

  // ---------------------------------------------------------------- internals: HTTP

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requestCounter += 1;
    const seq = this.requestCounter;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', this.baseUrl);
    const method = (req.method ?? 'GET').toUpperCase();

    if (method === 'GET' && url.pathname.startsWith('/attachments/')) {
      const stored = this.attachmentsData.get(url.pathname);
      res.writeHead(stored ? 200 : 404, { 'content-type': stored?.contentType ?? 'text/plain' });
      res.end(stored?.data ?? 'not found');
      return;
    }

    const prefix = '/api/v10';
    const underApi = url.pathname === prefix || url.pathname.startsWith(`${prefix}/`);
    const rawRest = underApi ? url.pathname.slice(prefix.length) : url.pathname;
    const path = rawRest
      .split('/')
      .map((segment) => {
        try {
          return decodeURIComponent(segment);
        } catch {
          return segment;
        }
      })
      .join('/');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const query: Record<string, string> = {};
    for (const [key, value] of url.searchParams) query[key] = value;
    const parsed = await parseBody(raw, req.headers['content-type']);
    const found = underApi ? this.spec.matchPath(path) : null;
    const operation = found?.methods.get(method) ?? null;
    const record: RecordedRequest = {
      seq,
      method,
      path,
      rawPath: url.pathname,
      route: found?.template ?? null,
      operationId: operation?.operationId ?? null,
      params: found?.params ?? {},
      query,
      headers,
      contentType: parsed.kind,
      body: parsed.body,
      files: parsed.files,
      status: 0,
      response: undefined,
      injected: null,
      handled: true,
      at: Date.now(),
    };

    const errors: ValidationError[] = [];
    if (!underApi) errors.push({ instancePath: '', message: `path is not under ${prefix}` });
    else if (!found) errors.push({ instancePath: '', message: 'path not in the spec' });
    else if (!operation) errors.push({ instancePath: '', message: `method ${method} not in the spec for ${found.template}` });
    if (parsed.error) errors.push({ instancePath: '', message: parsed.error });
    else if (operation) {
      errors.push(...this.spec.validateBody(operation, parsed.body, parsed.kind === 'multipart' ? 'multipart' : 'json'));
    }
    if (errors.length > 0) {
      this.violations.push({ method, path, operationId: operation?.operationId ?? null, errors, requestSeq: record.seq });
    }

    const result = this.respond(record, errors, parsed.error !== undefined);
    record.status = result.status;
    record.response = result.body;
    this.requests.push(record);
    if (!record.handled) this.unhandled.push(record);

    const outHeaders: Record<string, string> = { ...(result.headers ?? {}) };
    if (result.body !== undefined) outHeaders['content-type'] = 'application/json';
    res.writeHead(result.status, outHeaders);
    res.end(result.body === undefined ? undefined : JSON.stringify(result.body));
    this.waiters.notify();
  }

  private respond(
    record: RecordedRequest,
    errors: ValidationError[],
    unparsable: boolean,
  ): HandlerResult & { headers?: Record<string, string> } {
    const route = record.route ?? '';
    const authExempt =
      route.startsWith('/interactions/') || route.startsWith('/webhooks/{webhook_id}/{webhook_token}') || route === '/gateway';
    if (this.token !== undefined && !authExempt && record.headers.authorization !== `Bot ${this.token}`) {
      return apiError(401, 0, '401: Unauthorized');
    }
    const fault = this.faults.take(record);
    if (fault) return faultResponse(record, fault);
    if (unparsable) return apiError(400, 50109, 'The request body contains invalid JSON.');
    if (this.options.rejectInvalidBodies === true && errors.length > 0 && record.operationId !== null) {
      return apiError(400, 50035, 'Invalid Form Body', errors);
    }
    const handler = record.operationId ? this.handlers[record.operationId] : undefined;
    if (!handler) {
      record.handled = false;
      return apiError(404, 0, '404: Not Found');
    }
    return handler({ params: record.params, query: record.query, body: record.body, files: record.files });
  }

  // ---------------------------------------------------------------- internals: routes

  private buildHandlers(): Record<string, Handler> {
    const body = (ctx: HandlerContext): ApiObject => (isRecord(ctx.body) ? ctx.body : {});
    return {
      get_bot_gateway: () => ({
        status: 200,
        body: {
          url: this.gatewayUrl,
          shards: this.options.shards ?? 1,
          session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
        },
      }),
      get_gateway: () => ({ status: 200, body: { url: this.gatewayUrl } }),
      get_my_user: () => ({ status: 200, body: this.botUser }),
      get_user: (ctx) => ({ status: 200, body: this.knownUser(ctx.params.user_id ?? '') }),
      get_my_application: () => ({ status: 200, body: this.applicationObject() }),
      get_my_oauth2_application: () => ({ status: 200, body: this.applicationObject() }),
      get_channel: (ctx) => {
        const found = this.findChannel(ctx.params.channel_id ?? '');
        return found ? { status: 200, body: found.channel } : apiError(404, 10003, 'Unknown Channel');
      },
      get_guild: (ctx) => {
        const guild = this.guilds.find((g) => g.id === ctx.params.guild_id);
        if (!guild) return apiError(404, 10004, 'Unknown Guild');
        const { channels: _c, members: _m, threads: _t, presences: _p, voice_states: _v, ...rest } = guild;
        return { status: 200, body: rest };
      },
      get_guild_member: (ctx) => {
        const guild = this.guilds.find((g) => g.id === ctx.params.guild_id);
        const member = guild?.members.find((m) => m.user.id === ctx.params.user_id);
        return member ? { status: 200, body: member } : apiError(404, 10007, 'Unknown Member');
      },
      create_dm: (ctx) => {
        const recipientId = String(body(ctx).recipient_id ?? '');
        return { status: 200, body: this.dmChannelFor(this.knownUser(recipientId)) };
      },
      trigger_typing_indicator: (ctx) =>
        this.findChannel(ctx.params.channel_id ?? '') ? { status: 204 } : apiError(404, 10003, 'Unknown Channel'),

      list_application_commands: (ctx) => this.listCommands(ctx, 'global'),
      bulk_set_application_commands: (ctx) => this.putCommands(ctx, 'global'),
      create_application_command: (ctx) => this.createCommand(ctx, 'global'),
      get_application_command: (ctx) => this.oneCommand(ctx, 'global', 'get'),
      delete_application_command: (ctx) => this.oneCommand(ctx, 'global', 'delete'),
      list_guild_application_commands: (ctx) => this.listCommands(ctx, ctx.params.guild_id ?? ''),
      bulk_set_guild_application_commands: (ctx) => this.putCommands(ctx, ctx.params.guild_id ?? ''),
      create_guild_application_command: (ctx) => this.createCommand(ctx, ctx.params.guild_id ?? ''),
      get_guild_application_command: (ctx) => this.oneCommand(ctx, ctx.params.guild_id ?? '', 'get'),
      delete_guild_application_command: (ctx) => this.oneCommand(ctx, ctx.params.guild_id ?? '', 'delete'),

      create_interaction_response: (ctx) => this.interactionCallback(ctx),
      get_original_webhook_message: (ctx) => this.originalMessage(ctx, 'get'),
      update_original_webhook_message: (ctx) => this.originalMessage(ctx, 'patch'),
      delete_original_webhook_message: (ctx) => this.originalMessage(ctx, 'delete'),
      execute_webhook: (ctx) => this.followup(ctx),
      get_webhook_message: (ctx) => this.webhookMessage(ctx, 'get'),
      update_webhook_message: (ctx) => this.webhookMessage(ctx, 'patch'),
      delete_webhook_message: (ctx) => this.webhookMessage(ctx, 'delete'),

      create_message: (ctx) => this.createChannelMessage(ctx),
      list_messages: (ctx) => this.listMessages(ctx),
      get_message: (ctx) => this.channelMessage(ctx, 'get'),
      update_message: (ctx) => this.channelMessage(ctx, 'patch'),
      delete_message: (ctx) => this.channelMessage(ctx, 'delete'),
    };
  }

  private applicationObject(): ApiObject {
    return {
      id: this.applicationId,
      name: this.botUser.username,
      icon: null,
      description: '',
      type: null,
      bot: this.botUser,
      bot_public: true,
      bot_require_code_grant: false,
      verify_key: '0'.repeat(64),
      flags: 0,
      owner: this.defaultUser,
      team: null,
      summary: '',
      tags: [],
      install_params: null,
      integration_types_config: { '0': {} },
      approximate_guild_count: this.guilds.length,
    };
  }

  private checkApp(ctx: HandlerContext, key: 'application_id' | 'webhook_id'): HandlerResult | null {
    return ctx.params[key] === this.applicationId ? null : apiError(404, 10002, 'Unknown Application');
  }

  private checkCommandGuild(scope: string): HandlerResult | null {
    if (scope === 'global' || this.guilds.some((g) => g.id === scope)) return null;
    return apiError(403, 50001, 'Missing Access');
  }

  private toCommand(input: ApiObject, scope: string, existing: ApiObject[]): ApiObject {
    const type = typeof input.type === 'number' ? input.type : 1;
    const previous = existing.find((c) => c.name === input.name && c.type === type);
    const dmp = input.default_member_permissions;
    return {
      id: previous?.id ?? snowflake(),
      application_id: this.applicationId,
      version: snowflake(),
      type,
      name: input.name,
      name_localizations: input.name_localizations ?? null,
      description: input.description ?? '',
      description_localizations: input.description_localizations ?? null,
      default_member_permissions: dmp === undefined || dmp === null ? null : String(dmp),
      dm_permission: input.dm_permission ?? true,
      contexts: input.contexts ?? null,
      integration_types: input.integration_types ?? [0],
      nsfw: input.nsfw ?? false,
      ...(Array.isArray(input.options) && input.options.length > 0 ? { options: input.options } : {}),
      ...(scope === 'global' ? {} : { guild_id: scope }),
    };
  }

  private listCommands(ctx: HandlerContext, scope: string): HandlerResult {
    const bad = this.checkApp(ctx, 'application_id') ?? this.checkCommandGuild(scope);
    if (bad) return bad;
    return { status: 200, body: this.commands.get(scope) ?? [] };
  }

  private putCommands(ctx: HandlerContext, scope: string): HandlerResult {
    const bad = this.checkApp(ctx, 'application_id') ?? this.checkCommandGuild(scope);
    if (bad) return bad;
    if (!Array.isArray(ctx.body)) return apiError(400, 50035, 'Invalid Form Body');
    const existing = this.commands.get(scope) ?? [];
    const stored = ctx.body.filter(isRecord).map((c) => this.toCommand(c, scope, existing));
    this.commands.set(scope, stored);
    return { status: 200, body: stored };
  }

  private createCommand(ctx: HandlerContext, scope: string): HandlerResult {
    const bad = this.checkApp(ctx, 'application_id') ?? this.checkCommandGuild(scope);
    if (bad) return bad;
    if (!isRecord(ctx.body)) return apiError(400, 50035, 'Invalid Form Body');
    const existing = this.commands.get(scope) ?? [];
    const command = this.toCommand(ctx.body, scope, existing);
    const replaced = existing.some((c) => c.id === command.id);
    this.commands.set(scope, [...existing.filter((c) => c.id !== command.id), command]);
    return { status: replaced ? 200 : 201, body: command };
  }

  private oneCommand(ctx: HandlerContext, scope: string, action: 'get' | 'delete'): HandlerResult {
    const bad = this.checkApp(ctx, 'application_id') ?? this.checkCommandGuild(scope);
    if (bad) return bad;
    const existing = this.commands.get(scope) ?? [];
    const command = existing.find((c) => c.id === ctx.params.command_id);
    if (!command) return apiError(404, 10063, 'Unknown application command');
    if (action === 'delete') {
      this.commands.set(scope, existing.filter((c) => c !== command));
      return { status: 204 };
    }
    return { status: 200, body: command };
  }

  /** Builds a message object from a create/edit body; attachments come from the uploaded files. */
  private messageFromBody(
    ctx: HandlerContext,
    base: { channelId: string; guildId: string | null; extra?: ApiObject },
  ): ApiObject {
    const b = isRecord(ctx.body) ? ctx.body : {};
    const content = typeof b.content === 'string' ? b.content : '';
    const message = makeMessage({
      channel_id: base.channelId,
      author: this.botUser,
      ...(base.guildId ? { guild_id: base.guildId } : {}),
      content,
      tts: b.tts === true,
      embeds: Array.isArray(b.embeds) ? b.embeds : [],
      components: Array.isArray(b.components) ? b.components : [],
      flags: Number(b.flags ?? 0) & ~MESSAGE_FLAG.Loading,
      mentions: this.allowedMentionUsers(content, b.allowed_mentions),
      attachments: this.attachmentsFor(ctx, base.channelId, []),
      ...(b.nonce !== undefined ? { nonce: b.nonce } : {}),
      ...(isRecord(b.message_reference) ? { message_reference: b.message_reference, type: 19 } : {}),
      ...(b.poll !== undefined ? { poll: b.poll } : {}),
      ...base.extra,
    });
    if (isRecord(b.message_reference) && typeof b.message_reference.message_id === 'string') {
      const referenced = (this.messages.get(base.channelId) ?? []).find((m) => m.id === (b.message_reference as ApiObject).message_id);
      message.referenced_message = referenced ?? null;
    }
    return message;
  }

  /** Applies an edit body to a stored message in place and returns it. */
  private editMessage(message: ApiObject, ctx: HandlerContext): ApiObject {
    const b = isRecord(ctx.body) ? ctx.body : {};
    if ('content' in b) message.content = typeof b.content === 'string' ? b.content : '';
    if ('embeds' in b) message.embeds = Array.isArray(b.embeds) ? b.embeds : [];
    if ('components' in b) message.components = Array.isArray(b.components) ? b.components : [];
    if ('flags' in b && b.flags !== null && b.flags !== undefined) {
      message.flags = (Number(message.flags ?? 0) & MESSAGE_FLAG.Ephemeral) | (Number(b.flags) & ~MESSAGE_FLAG.Loading);
    }
    message.flags = Number(message.flags ?? 0) & ~MESSAGE_FLAG.Loading;
    if ('content' in b) message.mentions = this.allowedMentionUsers(String(message.content), b.allowed_mentions);
    const existing = Array.isArray(message.attachments) ? (message.attachments as ApiObject[]) : [];
    if ('attachments' in b || ctx.files.length > 0) {
      message.attachments = this.attachmentsFor(ctx, String(message.channel_id), existing);
    }
    message.edited_timestamp = isoNow();
    return message;
  }

  private attachmentsFor(ctx: HandlerContext, channelId: string, existing: ApiObject[]): ApiObject[] {
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
      this.attachmentsData.set(urlPath, { data: file.data, contentType: file.contentType });
      return {
        id,
        filename,
        size: file.size,
        url: `${this.baseUrl}${urlPath}`,
        proxy_url: `${this.baseUrl}${urlPath}`,
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

  private allowedMentionUsers(content: string, allowed: unknown): FakeUser[] {
    const ids = mentionedUserIds(content);
    if (!isRecord(allowed)) return ids.map((id) => this.knownUser(id));
    const parse = Array.isArray(allowed.parse) ? allowed.parse : [];
    const users = Array.isArray(allowed.users) ? allowed.users.map(String) : [];
    return ids.filter((id) => parse.includes('users') || users.includes(id)).map((id) => this.knownUser(id));
  }

  private isEmptyMessageBody(ctx: HandlerContext): boolean {
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

  private interactionMetadata(state: InteractionState): ApiObject {
    return {
      id: state.id,
      type: state.type,
      user: state.user,
      authorizing_integration_owners: state.guildId ? { '0': state.guildId } : { '1': state.user.id },
    };
  }

  private interactionMessage(ctx: HandlerContext, state: InteractionState, loading: boolean): ApiObject {
    const message = this.messageFromBody(ctx, {
      channelId: state.channelId,
      guildId: state.guildId,
      extra: {
        type: state.type === 2 ? 20 : 19,
        webhook_id: this.applicationId,
        application_id: this.applicationId,
        interaction_metadata: this.interactionMetadata(state),
      },
    });
    if (loading) message.flags = Number(message.flags ?? 0) | MESSAGE_FLAG.Loading;
    return message;
  }

  private publishNew(message: ApiObject): void {
    if ((Number(message.flags ?? 0) & MESSAGE_FLAG.Ephemeral) !== 0) return;
    this.storeMessage(message);
    this.echo('MESSAGE_CREATE', message);
  }

  private interactionCallback(ctx: HandlerContext): HandlerResult {
    const state = this.interactions.get(ctx.params.interaction_token ?? '');
    if (!state || state.id !== ctx.params.interaction_id) return apiError(404, 10062, 'Unknown interaction');
    if (state.responseType !== null) return apiError(400, 40060, 'Interaction has already been acknowledged.');
    const b = isRecord(ctx.body) ? ctx.body : {};
    const type = Number(b.type);
    const data: ApiObject = isRecord(b.data) ? b.data : {};
    const dataCtx: HandlerContext = { ...ctx, body: data };
    let resourceMessage: ApiObject | null = null;
    switch (type) {
      case 4:
        if (this.isEmptyMessageBody(dataCtx)) return apiError(400, 50006, 'Cannot send an empty message');
        state.original = this.interactionMessage(dataCtx, state, false);
        this.publishNew(state.original);
        resourceMessage = state.original;
        break;
      case 5:
        state.original = this.interactionMessage({ ...dataCtx, body: { flags: data.flags ?? 0 } }, state, true);
        this.publishNew(state.original);
        resourceMessage = state.original;
        break;
      case 6:
      case 7:
        if (state.type !== 3 || !state.message) return apiError(400, 40043, 'Interaction callback type is not valid for this interaction');
        state.original = state.message;
        if (type === 7) {
          this.editMessage(state.message, dataCtx);
          this.echo('MESSAGE_UPDATE', state.message);
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
          response_message_ephemeral: resourceMessage ? (Number(resourceMessage.flags ?? 0) & MESSAGE_FLAG.Ephemeral) !== 0 : false,
        },
        resource: resourceMessage ? { type, message: resourceMessage } : { type },
      },
    };
  }

  private interactionForWebhook(ctx: HandlerContext): InteractionState | HandlerResult {
    const bad = this.checkApp(ctx, 'webhook_id');
    if (bad) return apiError(404, 10015, 'Unknown Webhook');
    const state = this.interactions.get(ctx.params.webhook_token ?? '');
    if (!state || state.responseType === null) return apiError(404, 10015, 'Unknown Webhook');
    return state;
  }

  private originalMessage(ctx: HandlerContext, action: 'get' | 'patch' | 'delete'): HandlerResult {
    const state = this.interactionForWebhook(ctx);
    if (!('token' in state)) return state;
    const original = state.original;
    if (!original) return apiError(404, 10008, 'Unknown Message');
    if (action === 'get') return { status: 200, body: original };
    if (action === 'delete') {
      state.original = null;
      if (this.removeStoredMessage(String(original.channel_id), String(original.id))) {
        this.echo('MESSAGE_DELETE', { id: original.id, channel_id: original.channel_id, guild_id: original.guild_id });
      }
      return { status: 204 };
    }
    this.editMessage(original, ctx);
    if ((Number(original.flags ?? 0) & MESSAGE_FLAG.Ephemeral) === 0) this.echo('MESSAGE_UPDATE', original);
    return { status: 200, body: original };
  }

  private followup(ctx: HandlerContext): HandlerResult {
    const state = this.interactionForWebhook(ctx);
    if (!('token' in state)) return state;
    if (this.isEmptyMessageBody(ctx)) return apiError(400, 50006, 'Cannot send an empty message');
    const message = this.interactionMessage(ctx, state, false);
    state.followups.push(message);
    this.publishNew(message);
    return ctx.query.wait === 'false' ? { status: 204 } : { status: 200, body: message };
  }

  private webhookMessage(ctx: HandlerContext, action: 'get' | 'patch' | 'delete'): HandlerResult {
    const state = this.interactionForWebhook(ctx);
    if (!('token' in state)) return state;
    const all = [...(state.original ? [state.original] : []), ...state.followups];
    const message = all.find((m) => m.id === ctx.params.message_id);
    if (!message) return apiError(404, 10008, 'Unknown Message');
    if (action === 'get') return { status: 200, body: message };
    if (action === 'delete') {
      state.followups = state.followups.filter((m) => m !== message);
      if (state.original === message) state.original = null;
      if (this.removeStoredMessage(String(message.channel_id), String(message.id))) {
        this.echo('MESSAGE_DELETE', { id: message.id, channel_id: message.channel_id, guild_id: message.guild_id });
      }
      return { status: 204 };
    }
    this.editMessage(message, ctx);
    if ((Number(message.flags ?? 0) & MESSAGE_FLAG.Ephemeral) === 0) this.echo('MESSAGE_UPDATE', message);
    return { status: 200, body: message };
  }

  private createChannelMessage(ctx: HandlerContext): HandlerResult {
    const found = this.findChannel(ctx.params.channel_id ?? '');
    if (!found) return apiError(404, 10003, 'Unknown Channel');
    if (this.isEmptyMessageBody(ctx)) return apiError(400, 50006, 'Cannot send an empty message');
    const message = this.messageFromBody(ctx, { channelId: found.channel.id, guildId: found.guildId });
    if (found.guildId) message.member = { ...makeMember(this.botUser), user: undefined };
    if (isRecord(message.member)) delete message.member.user;
    this.storeMessage(message);
    this.echo('MESSAGE_CREATE', message);
    return { status: 200, body: message };
  }

  private listMessages(ctx: HandlerContext): HandlerResult {
    const found = this.findChannel(ctx.params.channel_id ?? '');
    if (!found) return apiError(404, 10003, 'Unknown Channel');
    const limit = Math.min(100, Math.max(1, Number(ctx.query.limit ?? 50) || 50));
    let list = [...(this.messages.get(found.channel.id) ?? [])].reverse();
    if (ctx.query.before) list = list.filter((m) => BigInt(String(m.id)) < BigInt(ctx.query.before ?? '0'));
    if (ctx.query.after) list = list.filter((m) => BigInt(String(m.id)) > BigInt(ctx.query.after ?? '0'));
    return { status: 200, body: list.slice(0, limit) };
  }

  private channelMessage(ctx: HandlerContext, action: 'get' | 'patch' | 'delete'): HandlerResult {
    const found = this.findChannel(ctx.params.channel_id ?? '');
    if (!found) return apiError(404, 10003, 'Unknown Channel');
    const message = (this.messages.get(found.channel.id) ?? []).find((m) => m.id === ctx.params.message_id);
    if (!message) return apiError(404, 10008, 'Unknown Message');
    if (action === 'get') return { status: 200, body: message };
    if (action === 'delete') {
      this.removeStoredMessage(found.channel.id, String(message.id));
      this.echo('MESSAGE_DELETE', { id: message.id, channel_id: message.channel_id, guild_id: message.guild_id });
      return { status: 204 };
    }
    if (!isRecord(message.author) || message.author.id !== this.botUser.id) {
      return apiError(403, 50005, 'Cannot edit a message authored by another user');
    }
    this.editMessage(message, ctx);
    this.echo('MESSAGE_UPDATE', message);
    return { status: 200, body: message };
  }
}

function dmRecipientId(channel: FakeChannel): string | undefined {
  const recipients = Array.isArray(channel.recipients) ? channel.recipients : [];
  const first: unknown = recipients[0];
  return isRecord(first) && typeof first.id === 'string' ? first.id : undefined;
}

export async function startFakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const spec = new SpecValidator(options.specPath);
  const fake = new FakeDiscord(options, spec);
  await fake.listen();
  return fake;
}
