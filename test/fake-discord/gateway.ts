/**
 * The fake gateway (v10, encoding=json): HELLO, IDENTIFY → READY + GUILD_CREATEs, heartbeats/ACKs,
 * RESUME with replay, op 7 reconnect, op 9 invalid session, close codes, optional compression
 * (`compress=zlib-stream` with a shared zlib context, or IDENTIFY `compress: true` with one zlib
 * payload per message), and fault injection (stalled ACKs, dropped TCP connections).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import zlib from 'node:zlib';
import type { RawData, WebSocket } from 'ws';

export interface GatewayPayload {
  op: number;
  d: unknown;
  s?: number | null;
  t?: string | null;
}

/** A payload the client sent to the gateway. */
export interface ReceivedGatewayPayload {
  op: number;
  d: unknown;
  /** Session the connection belonged to when the payload arrived (null before IDENTIFY/RESUME). */
  sessionId: string | null;
  at: number;
}

export interface GatewaySessionInfo {
  id: string;
  intents: number;
  shard: [number, number];
  /** Last sequence number dispatched in this session. */
  seq: number;
  connected: boolean;
}

export interface GatewayHooks {
  /** Expected token, or undefined to accept any. */
  token: string | undefined;
  heartbeatIntervalMs: number;
  gatewayUrl(): string;
  /** The READY `d` for a new session (without session_id, resume_gateway_url and shard, which are added). */
  readyData(session: GatewaySessionInfo): Record<string, unknown>;
  /** Dispatches sent right after READY (GUILD_CREATE per guild). */
  afterReady(session: GatewaySessionInfo): { t: string; d: unknown }[];
  /** Lets the owner filter or rewrite a dispatch per session (intents); return null to skip this session. */
  filterDispatch(session: GatewaySessionInfo, t: string, d: unknown): { d: unknown } | null;
  onReceive(payload: ReceivedGatewayPayload): void;
  onChange(): void;
}

interface Session {
  info: GatewaySessionInfo;
  events: GatewayPayload[];
  conn: Connection | null;
}

interface Connection {
  ws: WebSocket;
  session: Session | null;
  zlibStream: zlib.Deflate | null;
  identifyCompress: boolean;
  stalled: boolean;
  chain: Promise<void>;
}

const CLOSE = {
  UnknownError: 4000,
  UnknownOpcode: 4001,
  DecodeError: 4002,
  NotAuthenticated: 4003,
  AuthenticationFailed: 4004,
  AlreadyAuthenticated: 4005,
  InvalidSeq: 4007,
  InvalidApiVersion: 4012,
} as const;

export class FakeGateway {
  private readonly sessions = new Map<string, Session>();
  private readonly connections = new Set<Connection>();
  private stallNew = false;
  identifies = 0;
  resumes = 0;
  heartbeats = 0;
  connectionsOpened = 0;

  constructor(private readonly hooks: GatewayHooks) {}

  /** Called for each accepted WebSocket. */
  accept(ws: WebSocket, req: IncomingMessage): void {
    const url = new URL(req.url ?? '/', 'ws://localhost');
    const conn: Connection = {
      ws,
      session: null,
      zlibStream: null,
      identifyCompress: false,
      stalled: this.stallNew,
      chain: Promise.resolve(),
    };
    this.connections.add(conn);
    this.connectionsOpened += 1;
    ws.on('close', (code) => this.detach(conn, code));
    ws.on('error', () => this.detach(conn, 1006));
    const version = url.searchParams.get('v');
    const encoding = url.searchParams.get('encoding') ?? 'json';
    const compress = url.searchParams.get('compress');
    if (version !== null && version !== '10') {
      ws.close(CLOSE.InvalidApiVersion, 'Invalid API version');
      return;
    }
    if (encoding !== 'json') {
      ws.close(CLOSE.DecodeError, 'Only encoding=json is supported by the fake');
      return;
    }
    if (compress !== null && compress !== 'zlib-stream') {
      ws.close(CLOSE.DecodeError, `Unsupported compress=${compress}`);
      return;
    }
    if (compress === 'zlib-stream') {
      conn.zlibStream = zlib.createDeflate();
    }
    ws.on('message', (data, isBinary) => this.onMessage(conn, data, isBinary));
    this.send(conn, { op: 10, d: { heartbeat_interval: this.hooks.heartbeatIntervalMs } });
    this.hooks.onChange();
  }

  /** Dispatches an event to every session; returns how many sessions got it (connected or buffered for resume). */
  dispatch(t: string, d: unknown): number {
    let delivered = 0;
    for (const session of this.sessions.values()) {
      const filtered = this.hooks.filterDispatch(session.info, t, d);
      if (filtered === null) continue;
      this.dispatchTo(session, t, filtered.d);
      delivered += 1;
    }
    return delivered;
  }

  sessionInfos(): GatewaySessionInfo[] {
    return [...this.sessions.values()].map((s) => ({ ...s.info, connected: s.conn !== null }));
  }

  /** Closes every open connection with a close frame carrying `code`. */
  closeAll(code: number, reason: string): void {
    for (const conn of this.connections) conn.ws.close(code, reason);
  }

  /** Destroys every open connection's TCP socket without a close frame (the client sees 1006). */
  terminateAll(): void {
    for (const conn of this.connections) conn.ws.terminate();
  }

  /** Stops ACKing heartbeats on open connections (and on new ones too when `includeNew`). */
  stall(includeNew: boolean): void {
    for (const conn of this.connections) conn.stalled = true;
    this.stallNew = includeNew;
  }

  unstall(): void {
    for (const conn of this.connections) conn.stalled = false;
    this.stallNew = false;
  }

  /** Sends op 7 RECONNECT on every identified connection. */
  requestReconnect(): void {
    for (const conn of this.connections) if (conn.session) this.send(conn, { op: 7, d: null });
  }

  /**
   * Sends op 9 INVALID SESSION on identified connections and un-authenticates them, so the client may
   * RESUME (when `resumable`; discord.js does so on the same socket) or IDENTIFY again. Non-resumable
   * sessions are forgotten.
   */
  invalidateSessions(resumable: boolean): void {
    for (const conn of this.connections) {
      const session = conn.session;
      if (!session) continue;
      this.send(conn, { op: 9, d: resumable });
      conn.session = null;
      if (session.conn === conn) session.conn = null;
    }
    if (!resumable) this.sessions.clear();
  }

  close(): void {
    for (const conn of this.connections) {
      conn.ws.terminate();
      conn.zlibStream?.close();
    }
    this.connections.clear();
    this.sessions.clear();
  }

  /** A normal close (1000/1001) ends the session like on Discord; any other close keeps it resumable. */
  private detach(conn: Connection, code: number): void {
    if (!this.connections.delete(conn)) return;
    const session = conn.session;
    if (session && session.conn === conn) {
      session.conn = null;
      if (code === 1000 || code === 1001) this.sessions.delete(session.info.id);
    }
    conn.zlibStream?.close();
    this.hooks.onChange();
  }

  private dispatchTo(session: Session, t: string, d: unknown): void {
    session.info.seq += 1;
    const payload: GatewayPayload = { op: 0, s: session.info.seq, t, d };
    session.events.push(payload);
    if (session.conn) this.send(session.conn, payload);
  }

  private send(conn: Connection, payload: GatewayPayload): void {
    const text = JSON.stringify(payload);
    if (conn.zlibStream) {
      const deflate = conn.zlibStream;
      conn.chain = conn.chain.then(
        () =>
          new Promise<void>((resolve) => {
            const chunks: Buffer[] = [];
            const onData = (chunk: Buffer): void => {
              chunks.push(chunk);
            };
            deflate.on('data', onData);
            deflate.write(text);
            deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
              deflate.off('data', onData);
              if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(Buffer.concat(chunks));
              resolve();
            });
          }),
      );
      return;
    }
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    if (conn.identifyCompress && payload.op === 0) {
      conn.ws.send(zlib.deflateSync(text));
      return;
    }
    conn.ws.send(text);
  }

  private onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    let payload: GatewayPayload;
    try {
      if (isBinary) throw new Error('binary frames are not supported');
      const text = Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data as ArrayBuffer).toString('utf8');
      payload = JSON.parse(text) as GatewayPayload;
      if (typeof payload !== 'object' || payload === null || typeof payload.op !== 'number') throw new Error('no op');
    } catch {
      conn.ws.close(CLOSE.DecodeError, 'Decode error');
      return;
    }
    this.hooks.onReceive({ op: payload.op, d: payload.d, sessionId: conn.session?.info.id ?? null, at: Date.now() });
    switch (payload.op) {
      case 1:
        this.heartbeats += 1;
        if (!conn.stalled) this.send(conn, { op: 11, d: null });
        break;
      case 2:
        this.onIdentify(conn, payload.d);
        break;
      case 6:
        this.onResume(conn, payload.d);
        break;
      case 3:
      case 4:
      case 8:
      case 31:
        if (!conn.session) conn.ws.close(CLOSE.NotAuthenticated, 'Not authenticated');
        break;
      default:
        conn.ws.close(CLOSE.UnknownOpcode, 'Unknown opcode');
    }
    this.hooks.onChange();
  }

  private tokenOk(token: unknown): boolean {
    return typeof token === 'string' && (this.hooks.token === undefined || token === this.hooks.token);
  }

  private onIdentify(conn: Connection, d: unknown): void {
    const data = (d ?? {}) as { token?: unknown; intents?: unknown; shard?: unknown; compress?: unknown };
    if (conn.session) {
      conn.ws.close(CLOSE.AlreadyAuthenticated, 'Already authenticated');
      return;
    }
    if (!this.tokenOk(data.token)) {
      conn.ws.close(CLOSE.AuthenticationFailed, 'Authentication failed');
      return;
    }
    if (typeof data.intents !== 'number') {
      conn.ws.close(CLOSE.DecodeError, 'intents must be a number');
      return;
    }
    this.identifies += 1;
    conn.identifyCompress = data.compress === true && conn.zlibStream === null;
    const shard: [number, number] =
      Array.isArray(data.shard) && data.shard.length === 2 ? [Number(data.shard[0]), Number(data.shard[1])] : [0, 1];
    const info: GatewaySessionInfo = {
      id: randomBytes(16).toString('hex'),
      intents: data.intents,
      shard,
      seq: 0,
      connected: true,
    };
    const session: Session = { info, events: [], conn };
    this.sessions.set(info.id, session);
    conn.session = session;
    const ready = {
      v: 10,
      user_settings: {},
      private_channels: [],
      presences: [],
      relationships: [],
      guild_join_requests: [],
      geo_ordered_rtc_regions: ['local'],
      session_type: 'normal',
      auth: {},
      ...this.hooks.readyData(info),
      session_id: info.id,
      resume_gateway_url: this.hooks.gatewayUrl(),
      shard,
    };
    this.dispatchTo(session, 'READY', ready);
    for (const event of this.hooks.afterReady(info)) this.dispatchTo(session, event.t, event.d);
  }

  private onResume(conn: Connection, d: unknown): void {
    const data = (d ?? {}) as { token?: unknown; session_id?: unknown; seq?: unknown };
    if (conn.session) {
      conn.ws.close(CLOSE.AlreadyAuthenticated, 'Already authenticated');
      return;
    }
    if (!this.tokenOk(data.token)) {
      conn.ws.close(CLOSE.AuthenticationFailed, 'Authentication failed');
      return;
    }
    const session = typeof data.session_id === 'string' ? this.sessions.get(data.session_id) : undefined;
    const seq = typeof data.seq === 'number' ? data.seq : 0;
    if (!session || seq > session.info.seq) {
      this.send(conn, { op: 9, d: false });
      return;
    }
    this.resumes += 1;
    if (session.conn && session.conn !== conn) session.conn.ws.terminate();
    session.conn = conn;
    conn.session = session;
    for (const event of session.events) if ((event.s ?? 0) > seq) this.send(conn, event);
    this.dispatchTo(session, 'RESUMED', null);
  }
}
