/**
 * Consent-first message collection and per-server data. Free of Discord: the adapter turns gateway events and
 * commands into the calls below.
 *
 * Everything a server has lives under `g:<guildId>:` (isolation by construction; ids are checked to be
 * snowflakes):
 *   g:G:s              settings (reply chance, cooldown, temperature)
 *   g:G:c:C            collection is on in channel C: { since, by }
 *   g:G:o:U            member U opted out: { since }
 *   g:G:m:M            collected message M: { a: author, c: channel, t: normalised text, at: sent }   ttl
 *   g:G:t:I            taught text I: { a, t, at }                                                  ttl
 *   g:G:u:U:m:M        index of U's messages: { c, at }                                            ttl
 *   g:G:u:U:t:I        index of U's taught texts: { at }                                           ttl
 * A row and its index entry are written and deleted together, in one atomic batch. Collected and taught text
 * expires RETENTION_DAYS after it was sent, and the sweeper deletes what is older, whatever time to live a
 * row was written with. Lists (training set, /forget, /privacy, purge, sweep) are cursor scans of a prefix.
 *
 * Gateway events (collect, edit, delete, purge) of one server run one at a time, in order, with the member
 * commands of that server. When the store fails, they wait in a queue and are retried in order (each is
 * decided again when it runs: a message of someone who opted out meanwhile is not stored), and the failure is
 * logged; a member command fails at once and the member is told.
 */
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { normalize } from '../model/vocab.js';
import { StorageError, type KvEntry, type KvStore } from '../storage/kv.js';
import { InvalidRequestError } from './errors.js';
import { checkSettings, withDefaults, type GuildSettings } from './settings.js';

export const DEFAULT_RETENTION_DAYS = 90;
const DAY_MS = 86_400_000;
/** Longest /teach text, in characters. */
export const TEACH_MAX_LENGTH = 500;

export interface IncomingMessage {
  id: string;
  guildId: string;
  channelId: string;
  authorId: string;
  /** From a person: not a bot, webhook or system message. */
  human: boolean;
  content: string;
  /** When it was sent (epoch ms). */
  createdAt: number;
}

export interface MessageEdit {
  id: string;
  guildId: string;
  /** The new text; null when the event didn't carry it (nothing is changed then). */
  content: string | null;
}

/** 'queued': the store failed; the event waits and is retried. */
export type Done = 'done' | 'queued';

export type CollectOutcome = 'collected' | 'not-human' | 'empty' | 'too-old' | 'not-enabled' | 'opted-out' | 'queued';

export interface CollectionChannel {
  channelId: string;
  /** When collection was switched on (epoch ms). */
  since: number;
  /** Who switched it on. */
  by: string;
}

export interface PrivacyReport {
  optedOut: boolean;
  /** Collected messages of this member in this server. */
  messages: number;
  /** Messages per channel, most first. */
  channels: Array<{ channelId: string; messages: number }>;
  /** Texts the member gave with /teach. */
  taught: number;
  /** When the oldest stored item was sent (epoch ms), if any. */
  oldest: number | undefined;
  retentionDays: number;
}

export interface ForgetResult {
  messages: number;
  taught: number;
}

export interface UnpromptedReply {
  temperature: number;
}

export interface CollectionOptions {
  store: KvStore;
  retentionDays?: number;
  log?: Logger;
  /** Clock (epoch ms); default Date.now. */
  now?: () => number;
  /** Uniform in [0, 1); decides unprompted replies. Default Math.random. */
  random?: () => number;
  /** First retry of queued gateway events after a store failure (ms, doubling up to retryMaxMs). Default 1000. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Most gateway events kept waiting for a failed store; the oldest are dropped (and logged) past it. */
  maxPending?: number;
}

interface MessageRow {
  a: string;
  c: string;
  t: string;
  at: number;
}
interface TaughtRow {
  a: string;
  t: string;
  at: number;
}
interface IndexRow {
  c?: string;
  at: number;
}
interface ChannelRow {
  since: number;
  by: string;
}

type GatewayOp =
  | { kind: 'collect'; message: IncomingMessage }
  | { kind: 'edit'; edit: MessageEdit }
  | { kind: 'remove'; guildId: string; ids: string[] }
  | { kind: 'purge'; guildId: string };

const SNOWFLAKE = /^\d{1,20}$/;

function checkId(value: string, what: string): string {
  if (!SNOWFLAKE.test(value)) throw new Error(`${what} must be a Discord id (digits), got ${JSON.stringify(value)}`);
  return value;
}

const key = {
  guild: (g: string) => `g:${checkId(g, 'guild id')}:`,
  settings: (g: string) => `${key.guild(g)}s`,
  channels: (g: string) => `${key.guild(g)}c:`,
  channel: (g: string, c: string) => `${key.channels(g)}${checkId(c, 'channel id')}`,
  optOut: (g: string, u: string) => `${key.guild(g)}o:${checkId(u, 'user id')}`,
  messages: (g: string) => `${key.guild(g)}m:`,
  message: (g: string, m: string) => `${key.messages(g)}${checkId(m, 'message id')}`,
  taughtAll: (g: string) => `${key.guild(g)}t:`,
  taught: (g: string, t: string) => `${key.taughtAll(g)}${checkId(t, 'teach id')}`,
  user: (g: string, u: string) => `${key.guild(g)}u:${checkId(u, 'user id')}:`,
  userMessage: (g: string, u: string, m: string) => `${key.user(g, u)}m:${checkId(m, 'message id')}`,
  userTaught: (g: string, u: string, t: string) => `${key.user(g, u)}t:${checkId(t, 'teach id')}`,
};
/** Rows that carry a sent time and expire: messages, taught texts and their index entries. */
const DATED_ROW = /^g:\d+:(?:m:|t:|u:\d+:[mt]:)\d+$/;

/** Text as the model learns it: normalised, one utterance per line, or '' if nothing is left. */
export function normaliseForTraining(text: string): string {
  return normalize(text, undefined, { keepNewlines: true });
}

/** Runs tasks one at a time per server, in the order they were given. */
function createLanes() {
  const tails = new Map<string, Promise<void>>();
  return <T>(guildId: string, task: () => Promise<T>): Promise<T> => {
    const previous = tails.get(guildId) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    tails.set(guildId, tail);
    void tail.then(() => {
      if (tails.get(guildId) === tail) tails.delete(guildId);
    });
    return result;
  };
}

export type CollectionService = ReturnType<typeof createCollectionService>;

export function createCollectionService(options: CollectionOptions) {
  const { store } = options;
  const log = options.log ?? silentLogger();
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const retentionDays = options.retentionDays ?? DEFAULT_RETENTION_DAYS;
  if (!Number.isFinite(retentionDays) || retentionDays <= 0) throw new Error(`retentionDays must be positive (got ${retentionDays})`);
  const retentionMs = retentionDays * DAY_MS;
  const retryInitialMs = options.retryInitialMs ?? 1000;
  const retryMaxMs = options.retryMaxMs ?? 60_000;
  const maxPending = options.maxPending ?? 100_000;
  const lane = createLanes();
  /** Last unprompted reply per channel (guild:channel → epoch ms). */
  const lastReply = new Map<string, number>();

  /** Time to live of something sent at `at`, or undefined if it is already past retention. */
  function ttlFor(at: number): number | undefined {
    const ttl = at + retentionMs - now();
    return ttl > 0 ? ttl : undefined;
  }

  // ------------------------------------------------------------------ settings and channels

  async function getSettings(guildId: string): Promise<GuildSettings> {
    return withDefaults(await store.get(key.settings(guildId)));
  }

  /** Checks and saves some settings; returns them all. Throws InvalidRequestError for a bad value. */
  async function updateSettings(guildId: string, patch: Partial<GuildSettings>): Promise<GuildSettings> {
    checkSettings(patch);
    return lane(guildId, async () => {
      const next = { ...(await getSettings(guildId)) };
      for (const [k, v] of Object.entries(patch) as Array<[keyof GuildSettings, number | undefined]>) if (v !== undefined) next[k] = v;
      await store.set(key.settings(guildId), next);
      return next;
    });
  }

  /** Switches collection on or off in a channel; returns whether that changed anything. */
  async function setChannel(guildId: string, channelId: string, enabled: boolean, by: string): Promise<boolean> {
    checkId(by, 'user id');
    return lane(guildId, async () => {
      const k = key.channel(guildId, channelId);
      const current = await store.get<ChannelRow>(k);
      if (enabled === (current !== undefined)) return false;
      if (enabled) await store.set(k, { since: now(), by } satisfies ChannelRow);
      else await store.deleteMany([k]);
      return true;
    });
  }

  async function channels(guildId: string): Promise<CollectionChannel[]> {
    const prefix = key.channels(guildId);
    const out: CollectionChannel[] = [];
    for await (const page of store.scan<ChannelRow>(prefix)) {
      for (const row of page) out.push({ channelId: row.key.slice(prefix.length), since: row.value.since, by: row.value.by });
    }
    return out.sort((a, b) => a.since - b.since);
  }

  // ------------------------------------------------------------------ gateway events

  async function doCollect(message: IncomingMessage): Promise<CollectOutcome> {
    const { guildId, channelId, authorId, id } = message;
    if (!message.human) return 'not-human';
    const text = normaliseForTraining(message.content);
    if (text === '') return 'empty';
    if (ttlFor(message.createdAt) === undefined) return 'too-old';
    const [channel, optedOut] = await store.getMany<unknown>([key.channel(guildId, channelId), key.optOut(guildId, authorId)]);
    const on = channel as ChannelRow | undefined;
    // Only what was said after the notice went up.
    if (!on || message.createdAt < on.since) return 'not-enabled';
    if (optedOut !== undefined) return 'opted-out';
    const ttl = ttlFor(message.createdAt);
    if (ttl === undefined) return 'too-old';
    await store.setMany([
      { key: key.message(guildId, id), value: { a: authorId, c: channelId, t: text, at: message.createdAt } satisfies MessageRow, ttlMs: ttl },
      { key: key.userMessage(guildId, authorId, id), value: { c: channelId, at: message.createdAt } satisfies IndexRow, ttlMs: ttl },
    ]);
    return 'collected';
  }

  async function removeMessages(guildId: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const rows = await store.getMany<MessageRow>(ids.map((id) => key.message(guildId, id)));
    const doomed: string[] = [];
    rows.forEach((row, i) => {
      if (!row) return;
      const id = ids[i]!;
      doomed.push(key.message(guildId, id), key.userMessage(guildId, row.a, id));
    });
    await store.deleteMany(doomed);
    return doomed.length / 2;
  }

  async function doEdit(edit: MessageEdit): Promise<void> {
    if (edit.content === null) return;
    const k = key.message(edit.guildId, edit.id);
    const row = await store.get<MessageRow>(k);
    if (!row) return;
    const text = normaliseForTraining(edit.content);
    const ttl = ttlFor(row.at);
    if (text === '' || ttl === undefined) {
      await removeMessages(edit.guildId, [edit.id]);
      return;
    }
    if (text !== row.t) await store.set(k, { ...row, t: text } satisfies MessageRow, ttl);
  }

  /** Deletes every key under a prefix, page by page; returns how many. */
  async function deletePrefix(prefix: string): Promise<number> {
    let n = 0;
    for (;;) {
      let deletedThisPass = 0;
      for await (const page of store.scan(prefix)) {
        await store.deleteMany(page.map((r) => r.key));
        deletedThisPass += page.length;
      }
      n += deletedThisPass;
      if (deletedThisPass === 0) return n;
    }
  }

  async function doPurge(guildId: string): Promise<number> {
    const n = await deletePrefix(key.guild(guildId));
    for (const k of lastReply.keys()) if (k.startsWith(`${guildId}:`)) lastReply.delete(k);
    return n;
  }

  function opGuild(op: GatewayOp): string {
    return op.kind === 'collect' ? op.message.guildId : op.kind === 'edit' ? op.edit.guildId : op.guildId;
  }

  async function runOp(op: GatewayOp): Promise<CollectOutcome | undefined> {
    switch (op.kind) {
      case 'collect':
        return doCollect(op.message);
      case 'edit':
        await doEdit(op.edit);
        return undefined;
      case 'remove':
        await removeMessages(op.guildId, op.ids);
        return undefined;
      case 'purge':
        await doPurge(op.guildId);
        return undefined;
    }
  }

  // Gateway events waiting for a failed store, oldest first. While any wait, new ones queue behind them.
  const pending: GatewayOp[] = [];
  let retryTimer: NodeJS.Timeout | undefined;
  let retryDelay = retryInitialMs;
  let draining = false;
  let closed = false;
  let dropped = 0;

  function enqueue(op: GatewayOp): void {
    pending.push(op);
    if (pending.length > maxPending) {
      const lost = pending.shift()!;
      dropped += 1;
      if (dropped === 1 || dropped % 1000 === 0) {
        log.error({ dropped, kind: lost.kind, guild: opGuild(lost) }, 'storage unavailable too long: dropping the oldest waiting gateway events');
      }
    }
    scheduleRetry();
  }

  function scheduleRetry(): void {
    if (retryTimer || draining || closed || pending.length === 0) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void drain();
    }, retryDelay);
    retryTimer.unref();
  }

  async function drain(): Promise<void> {
    if (draining) return;
    draining = true;
    let written = 0;
    try {
      while (pending.length > 0 && !closed) {
        const op = pending[0]!;
        try {
          await lane(opGuild(op), () => runOp(op));
        } catch (error) {
          if (error instanceof StorageError) {
            retryDelay = Math.min(retryDelay * 2, retryMaxMs);
            log.warn({ waiting: pending.length, retryInMs: retryDelay, err: error }, 'storage still failing; gateway events keep waiting');
            return;
          }
          log.error({ err: error, kind: op.kind, guild: opGuild(op) }, 'gateway event failed for good (not a storage failure); skipped');
        }
        pending.shift();
        written += 1;
      }
      retryDelay = retryInitialMs;
      if (written > 0) log.info({ written }, 'storage back: waiting gateway events written');
    } finally {
      draining = false;
      scheduleRetry();
    }
  }

  /** Runs a gateway event now, or queues it behind earlier ones / after a store failure. Never rejects for storage. */
  async function submit(op: GatewayOp): Promise<CollectOutcome | undefined> {
    if (closed) throw new Error('collection service is closed');
    if (pending.length > 0) {
      enqueue(op);
      return 'queued';
    }
    try {
      return await lane(opGuild(op), () => (pending.length > 0 ? Promise.reject(new QueuedBehind()) : runOp(op)));
    } catch (error) {
      if (error instanceof QueuedBehind) {
        enqueue(op);
        return 'queued';
      }
      if (!(error instanceof StorageError)) throw error;
      log.error({ err: error, kind: op.kind, guild: opGuild(op), waiting: pending.length + 1 }, 'storage failed: gateway event queued for retry');
      enqueue(op);
      return 'queued';
    }
  }

  // ------------------------------------------------------------------ member controls

  async function teach(guildId: string, userId: string, teachId: string, text: string): Promise<{ text: string }> {
    if (text.length > TEACH_MAX_LENGTH) throw new InvalidRequestError(`That is too long: at most ${TEACH_MAX_LENGTH} characters (yours has ${text.length}).`);
    const normalised = normaliseForTraining(text);
    if (normalised === '') {
      throw new InvalidRequestError('The baby found no words in that to learn (it knows letters, digits and basic punctuation).');
    }
    const at = now();
    const ttl = retentionMs;
    const entries: KvEntry[] = [
      { key: key.taught(guildId, teachId), value: { a: userId, t: normalised, at } satisfies TaughtRow, ttlMs: ttl },
      { key: key.userTaught(guildId, userId, teachId), value: { at } satisfies IndexRow, ttlMs: ttl },
    ];
    return lane(guildId, async () => {
      await store.setMany(entries);
      return { text: normalised };
    });
  }

  async function isOptedOut(guildId: string, userId: string): Promise<boolean> {
    return (await store.get(key.optOut(guildId, userId))) !== undefined;
  }

  /** Stops collecting this member's messages here; returns false if they had already opted out. */
  function optOut(guildId: string, userId: string): Promise<boolean> {
    return lane(guildId, async () => {
      if (await isOptedOut(guildId, userId)) return false;
      await store.set(key.optOut(guildId, userId), { since: now() });
      return true;
    });
  }

  /** Collects this member's messages again (in collection channels); returns false if they weren't opted out. */
  function optIn(guildId: string, userId: string): Promise<boolean> {
    return lane(guildId, async () => {
      if (!(await isOptedOut(guildId, userId))) return false;
      await store.deleteMany([key.optOut(guildId, userId)]);
      return true;
    });
  }

  /** Opts the member out first (nothing new is stored meanwhile), then erases everything of theirs here. */
  function forget(guildId: string, userId: string): Promise<ForgetResult> {
    return lane(guildId, async () => {
      if (!(await isOptedOut(guildId, userId))) await store.set(key.optOut(guildId, userId), { since: now() });
      const prefix = key.user(guildId, userId);
      const result: ForgetResult = { messages: 0, taught: 0 };
      for (;;) {
        let seen = 0;
        for await (const page of store.scan<IndexRow>(prefix)) {
          const doomed: string[] = [];
          for (const row of page) {
            const rest = row.key.slice(prefix.length); // "m:<id>" or "t:<id>"
            const id = rest.slice(2);
            if (rest.startsWith('m:')) {
              doomed.push(row.key, key.message(guildId, id));
              result.messages += 1;
            } else if (rest.startsWith('t:')) {
              doomed.push(row.key, key.taught(guildId, id));
              result.taught += 1;
            } else {
              doomed.push(row.key);
            }
          }
          await store.deleteMany(doomed);
          seen += page.length;
        }
        if (seen === 0) return result;
      }
    });
  }

  async function privacy(guildId: string, userId: string): Promise<PrivacyReport> {
    const prefix = key.user(guildId, userId);
    const perChannel = new Map<string, number>();
    let messages = 0;
    let taught = 0;
    let oldest: number | undefined;
    for await (const page of store.scan<IndexRow>(prefix)) {
      for (const row of page) {
        const kind = row.key.slice(prefix.length, prefix.length + 2);
        if (kind === 'm:') {
          messages += 1;
          const c = row.value.c ?? 'unknown';
          perChannel.set(c, (perChannel.get(c) ?? 0) + 1);
        } else if (kind === 't:') {
          taught += 1;
        }
        if (oldest === undefined || row.value.at < oldest) oldest = row.value.at;
      }
    }
    const channelsList = [...perChannel].map(([channelId, n]) => ({ channelId, messages: n })).sort((a, b) => b.messages - a.messages);
    return { optedOut: await isOptedOut(guildId, userId), messages, channels: channelsList, taught, oldest, retentionDays };
  }

  // ------------------------------------------------------------------ training set

  /**
   * What /retrain learns from for one server: its live collected messages and taught texts, normalised, one
   * utterance per entry (a message of several lines gives several), oldest first. Nothing of another server.
   */
  async function trainingText(guildId: string): Promise<string[]> {
    const rows: Array<{ at: number; key: string; text: string }> = [];
    for (const prefix of [key.messages(guildId), key.taughtAll(guildId)]) {
      for await (const page of store.scan<MessageRow | TaughtRow>(prefix)) {
        for (const row of page) rows.push({ at: row.value.at, key: row.key, text: row.value.t });
      }
    }
    rows.sort((a, b) => a.at - b.at || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const out: string[] = [];
    for (const r of rows) for (const line of r.text.split('\n')) if (line !== '') out.push(line);
    return out;
  }

  /**
   * The batched write path (imports, backfills, tests): the same rules as `collect` for each message, decided
   * with one read per channel and member, written in atomic batches. Rejects with a StorageError on failure.
   */
  async function collectMany(messages: readonly IncomingMessage[], batchSize = 500): Promise<Record<CollectOutcome, number>> {
    const counts: Record<CollectOutcome, number> = { collected: 0, 'not-human': 0, empty: 0, 'too-old': 0, 'not-enabled': 0, 'opted-out': 0, queued: 0 };
    const channelCache = new Map<string, ChannelRow | undefined>();
    const optOutCache = new Map<string, boolean>();
    let batch: KvEntry[] = [];
    for (const m of messages) {
      if (!m.human) { counts['not-human'] += 1; continue; }
      const text = normaliseForTraining(m.content);
      if (text === '') { counts.empty += 1; continue; }
      const ttl = ttlFor(m.createdAt);
      if (ttl === undefined) { counts['too-old'] += 1; continue; }
      const ck = key.channel(m.guildId, m.channelId);
      if (!channelCache.has(ck)) channelCache.set(ck, await store.get<ChannelRow>(ck));
      const on = channelCache.get(ck);
      if (!on || m.createdAt < on.since) { counts['not-enabled'] += 1; continue; }
      const ok = key.optOut(m.guildId, m.authorId);
      if (!optOutCache.has(ok)) optOutCache.set(ok, (await store.get(ok)) !== undefined);
      if (optOutCache.get(ok)) { counts['opted-out'] += 1; continue; }
      batch.push(
        { key: key.message(m.guildId, m.id), value: { a: m.authorId, c: m.channelId, t: text, at: m.createdAt } satisfies MessageRow, ttlMs: ttl },
        { key: key.userMessage(m.guildId, m.authorId, m.id), value: { c: m.channelId, at: m.createdAt } satisfies IndexRow, ttlMs: ttl },
      );
      counts.collected += 1;
      if (batch.length >= batchSize * 2) {
        await store.setMany(batch);
        batch = [];
      }
    }
    await store.setMany(batch);
    return counts;
  }

  // ------------------------------------------------------------------ unprompted replies

  /**
   * Whether to babble a reply to this message without being asked: it is from a person who has not opted out,
   * in a collection channel, the channel's cooldown has passed, and the dice say so (reply chance in percent).
   * Starts the cooldown when it says yes.
   */
  async function unpromptedReply(message: Pick<IncomingMessage, 'guildId' | 'channelId' | 'authorId' | 'human'>): Promise<UnpromptedReply | undefined> {
    if (!message.human) return undefined;
    const { guildId, channelId, authorId } = message;
    const [channel, optedOut, stored] = await store.getMany<unknown>([key.channel(guildId, channelId), key.optOut(guildId, authorId), key.settings(guildId)]);
    if (channel === undefined || optedOut !== undefined) return undefined;
    const settings = withDefaults(stored);
    if (settings.replyChance <= 0) return undefined;
    const cooldownKey = `${guildId}:${channelId}`;
    const t = now();
    const last = lastReply.get(cooldownKey);
    if (last !== undefined && t - last < settings.cooldownSeconds * 1000) return undefined;
    if (random() * 100 >= settings.replyChance) return undefined;
    lastReply.set(cooldownKey, t);
    if (lastReply.size > 10_000) {
      for (const [k, at] of lastReply) if (t - at > 86_400_000) lastReply.delete(k);
    }
    return { temperature: settings.temperature };
  }

  // ------------------------------------------------------------------ retention

  /** Deletes every message and taught text sent more than RETENTION_DAYS ago (and their index entries). */
  async function sweep(): Promise<{ deleted: number; purged: number }> {
    const cutoff = now() - retentionMs;
    let deleted = 0;
    // Every key of every server: streamed (a row may come twice; deleting it twice is harmless), not remembered.
    for await (const page of store.scan<{ at?: unknown }>('g:', 1000, { distinct: false })) {
      const doomed = page.filter((r) => DATED_ROW.test(r.key) && typeof r.value.at === 'number' && r.value.at <= cutoff).map((r) => r.key);
      if (doomed.length > 0) {
        await store.deleteMany(doomed);
        deleted += doomed.length;
      }
    }
    const purged = await store.purgeExpired();
    return { deleted, purged };
  }

  return {
    retentionDays,
    getSettings,
    updateSettings,
    setChannel,
    channels,
    /** A new message. Resolves with what was decided ('queued' if the store failed; it is retried). */
    collect: (message: IncomingMessage) => submit({ kind: 'collect', message }) as Promise<CollectOutcome>,
    /** An edit: a stored message gets the new text (or is removed if nothing is left of it). */
    edit: async (edit: MessageEdit): Promise<Done> => ((await submit({ kind: 'edit', edit })) === 'queued' ? 'queued' : 'done'),
    /** Deleted messages (single, bulk or uncached): removed if stored. */
    remove: async (guildId: string, ids: readonly string[]): Promise<Done> =>
      ids.length > 0 && (await submit({ kind: 'remove', guildId, ids: [...ids] })) === 'queued' ? 'queued' : 'done',
    /** The bot left the server (not an outage): everything of that server is deleted. */
    purgeGuild: async (guildId: string): Promise<Done> => {
      key.guild(guildId);
      return (await submit({ kind: 'purge', guildId })) === 'queued' ? 'queued' : 'done';
    },
    collectMany,
    teach,
    isOptedOut,
    optOut,
    optIn,
    forget,
    privacy,
    trainingText,
    unpromptedReply,
    sweep,
    /** Gateway events waiting for the store. */
    pendingCount: () => pending.length,
    /** Retries the waiting gateway events now; resolves when the queue is empty or the store failed again. */
    retryNow: async (): Promise<void> => {
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      await drain();
    },
    /** Stops retrying (waiting events are logged as lost). Does not close the store. */
    close: (): void => {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      if (pending.length > 0) log.error({ lost: pending.length }, 'closing with gateway events still waiting for the store; they are lost');
    },
  };
}

class QueuedBehind extends Error {}

export interface Sweeper {
  stop(): void;
  /** The running sweep, if any (for shutdown). */
  running(): Promise<void> | undefined;
}

/** Sweeps now and then every `intervalMs` (default 1 h); failures are logged and retried next time. */
export function startRetentionSweeper(collection: Pick<CollectionService, 'sweep'>, log: Logger, intervalMs = 3_600_000): Sweeper {
  let current: Promise<void> | undefined;
  const run = () => {
    if (current) return;
    const started = Date.now();
    current = collection
      .sweep()
      .then(
        (r) => log.info({ ...r, ms: Date.now() - started }, 'retention sweep done'),
        (error: unknown) => log.error({ err: error }, 'retention sweep failed; retrying at the next interval'),
      )
      .finally(() => {
        current = undefined;
      });
  };
  const first = setTimeout(run, 0);
  const timer = setInterval(run, intervalMs);
  first.unref();
  timer.unref();
  return {
    stop: () => {
      clearTimeout(first);
      clearInterval(timer);
    },
    running: () => current,
  };
}
