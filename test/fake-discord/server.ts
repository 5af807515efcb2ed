/**
 * The fake Discord: one node:http server on 127.0.0.1 serving REST under /api/v10 and the gateway
 * (WebSocket upgrade on any path of the same port). See index.ts for the usage doc.
 *
 * This class is the face tests use; the work is done by the modules it wires together: state.ts (what the fake
 * knows), gateway.ts and gateway-hooks.ts (the gateway side), rest.ts and routes/ (REST by resource), faults.ts
 * and recording.ts (fault injection, what was sent), waiters.ts (waiting), drivers.ts (events tests send).
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { addGuild, removeGuild, sendInteraction, sendMessage } from './drivers.js';
import type { InteractionPartial, SentInteraction } from './drivers.js';
import { Faults } from './faults.js';
import type { Fault, FaultOptions, RouteMatcher } from './faults.js';
import { FakeGateway } from './gateway.js';
import type { GatewaySessionInfo, ReceivedGatewayPayload } from './gateway.js';
import { gatewayHooks } from './gateway-hooks.js';
import type { FakeDiscordOptions } from './options.js';
import type { ApiObject, FakeGuild, FakeUser } from './payloads.js';
import { describeRequest, Recording } from './recording.js';
import type { RecordedRequest, SpecViolation } from './recording.js';
import { RestApi } from './rest.js';
import { buildRoutes } from './routes/index.js';
import { SpecValidator } from './spec-validator.js';
import { FakeState } from './state.js';
import type { InteractionState } from './state.js';
import { Waiters } from './waiters.js';

export { onShard } from './gateway-hooks.js';

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
  private readonly state: FakeState;
  private readonly faults = new Faults();
  private readonly waiters = new Waiters();
  private port = 0;
  private closed = false;

  constructor(options: FakeDiscordOptions, spec: SpecValidator) {
    this.state = new FakeState(options, {
      dispatch: (t, d) => this.dispatch(t, d),
      baseUrl: () => this.baseUrl,
      gatewayUrl: () => this.gatewayUrl,
    });
    this.token = this.state.token;
    this.applicationId = this.state.applicationId;
    this.botUser = this.state.botUser;
    this.defaultUser = this.state.defaultUser;
    this.guilds = this.state.guilds;
    this.gateway = new FakeGateway(
      gatewayHooks(
        this.state,
        (payload) => {
          this.gatewayReceived.push(payload);
        },
        () => this.waiters.notify(),
      ),
    );
    const rest = new RestApi({
      state: this.state,
      spec,
      recording: this.recording,
      faults: this.faults,
      handlers: buildRoutes(this.state),
      notify: () => this.waiters.notify(),
    });
    this.server = createServer((req, res) => {
      rest.handleHttp(req, res).catch((error: unknown) => {
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

  // ---------------------------------------------------------------- events (drivers.ts)

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
    if (this.gateway.sessionInfos().length === 0) {
      throw new Error('fake-discord: no gateway session to dispatch INTERACTION_CREATE to (log a client in first)');
    }
    return sendInteraction(this.state, partial);
  }

  /** Sugar for a button press (type 3, component_type 2) with `custom_id`. */
  sendButton(customId: string, partial: InteractionPartial = {}): SentInteraction {
    return this.sendInteraction({
      ...partial,
      type: 3,
      data: { component_type: 2, custom_id: customId, ...partial.data },
    });
  }

  /**
   * Dispatches MESSAGE_CREATE from `defaultUser` (override `author`) in the first guild's first text channel.
   * `mentions` is filled from `<@id>` in the content when not given. `dm: true` sends it in a DM channel.
   * Returns the full message object (also stored, so GET /channels/:id/messages lists it).
   */
  sendMessage(partial: ApiObject & { dm?: boolean; author?: Partial<FakeUser> } = {}): ApiObject {
    return sendMessage(this.state, partial);
  }

  /** Adds a guild and dispatches GUILD_CREATE for it. */
  addGuild(guild: FakeGuild): void {
    addGuild(this.state, guild);
  }

  /** Removes a guild and dispatches GUILD_DELETE (`unavailable: true` simulates an outage instead of a kick). */
  removeGuild(guildId: string, unavailable = false): void {
    removeGuild(this.state, guildId, unavailable);
  }

  // ---------------------------------------------------------------- gateway faults (gateway.ts)

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
    return this.waiters.waitForValue(
      () => this.gatewayReceived.find(predicate),
      timeoutMs,
      () => 'waitForGatewayPayload: no match',
    );
  }

  /** Resolves once `condition()` is true (re-checked on every request/gateway event). */
  async waitFor(condition: () => boolean, timeoutMs = 5000, label = 'condition'): Promise<void> {
    await this.waiters.waitForValue(
      () => (condition() ? true : undefined),
      timeoutMs,
      () => `waitFor(${label}) timed out`,
    );
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
    return [...(this.state.commands.get(guildId ?? 'global') ?? [])];
  }

  /** Messages stored for a channel, oldest first (sent by users via sendMessage or by the bot via REST). */
  getMessages(channelId: string): ApiObject[] {
    return [...(this.state.messages.get(channelId) ?? [])];
  }

  /** Interaction state by id or token. */
  getInteraction(idOrToken: string): InteractionState | undefined {
    const interactions = this.state.interactions;
    return interactions.get(idOrToken) ?? [...interactions.values()].find((i) => i.id === idOrToken);
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
}

export async function startFakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const spec = new SpecValidator(options.specPath);
  const fake = new FakeDiscord(options, spec);
  await fake.listen();
  return fake;
}
