/**
 * Consent-first message collection and per-server data. Free of Discord: the adapter turns gateway events and
 * commands into the calls below. This module puts the parts together and keeps the server's settings, its
 * collection channels and its training set; the parts:
 *   collection/layout.ts              the key layout in the store, the rows, what the parts share
 *   collection/lanes.ts               per-server ordering (events and member commands of a server, one at a time)
 *   collection/ingest-queue.ts        gateway events, queued and retried in order while the store fails
 *   collection/consent.ts             /teach, /optout, /optin, /forget, /privacy
 *   collection/retention.ts           the retention sweep and its timer
 *   collection/unprompted-replies.ts  whether to babble back unasked, and the channels' cooldowns
 */
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { KvStore } from '../storage/kv.js';
import { createConsent } from './collection/consent.js';
import { dataGeneration } from './collection/data-generation.js';
import { capCollected, DEFAULT_QUOTAS, type Quotas } from './collection/quotas.js';
import type { CollectOutcome, IncomingMessage } from './collection/ingest-queue.js';
import { createIngestQueue } from './collection/ingest-queue.js';
import { createLanes } from './collection/lanes.js';
import {
  checkId,
  key,
  type ChannelRow,
  type CollectionContext,
  type MessageRow,
  type TaughtRow,
} from './collection/layout.js';
import { sweepExpired } from './collection/retention.js';
import { createUnpromptedReplies } from './collection/unprompted-replies.js';
import { checkSettings, withDefaults, type GuildSettings } from './settings.js';

export { DEFAULT_QUOTAS, type Quotas } from './collection/quotas.js';
export { TEACH_MAX_LENGTH, type ForgetResult, type PrivacyReport } from './collection/consent.js';
export type { CollectOutcome, Done, IncomingMessage, MessageEdit } from './collection/ingest-queue.js';
export { normaliseForTraining } from './collection/layout.js';
export { startRetentionSweeper, type Sweeper } from './collection/retention.js';
export type { UnpromptedReply } from './collection/unprompted-replies.js';

export const DEFAULT_RETENTION_DAYS = 90;
const DAY_MS = 86_400_000;

export interface CollectionChannel {
  channelId: string;
  /** When collection was switched on (epoch ms). */
  since: number;
  /** Who switched it on. */
  by: string;
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
  /** Most gateway events waiting for a failed store; past it the oldest new messages go (logged), never erasures. */
  maxPending?: number;
  /** Where erasures not applied at close are recorded for the next start (ERASURE_JOURNAL). */
  journalPath?: string;
  /** /teach and collected-text quotas (collection/quotas.ts); default DEFAULT_QUOTAS. */
  quotas?: Partial<Quotas>;
}

export type CollectionService = ReturnType<typeof createCollectionService>;

export function createCollectionService(options: CollectionOptions) {
  const { store } = options;
  const retentionDays = options.retentionDays ?? DEFAULT_RETENTION_DAYS;
  if (!Number.isFinite(retentionDays) || retentionDays <= 0)
    throw new Error(`retentionDays must be positive (got ${retentionDays})`);
  const ctx: CollectionContext = {
    store,
    log: options.log ?? silentLogger(),
    now: options.now ?? Date.now,
    retentionMs: retentionDays * DAY_MS,
    lane: createLanes(),
  };
  const { lane, now } = ctx;
  const unprompted = createUnpromptedReplies(ctx, options.random ?? Math.random);
  const ingest = createIngestQueue(ctx, {
    ...(options.retryInitialMs !== undefined ? { retryInitialMs: options.retryInitialMs } : {}),
    ...(options.retryMaxMs !== undefined ? { retryMaxMs: options.retryMaxMs } : {}),
    ...(options.maxPending !== undefined ? { maxPending: options.maxPending } : {}),
    onPurged: unprompted.forgetServer,
    ...(options.journalPath !== undefined ? { journalPath: options.journalPath } : {}),
  });
  const quotas: Quotas = { ...DEFAULT_QUOTAS, ...options.quotas };
  const consent = createConsent(ctx, retentionDays, quotas);
  const sinceCap = new Map<string, number>();
  /** Collects, and every `messagesPerServer / 10` collected messages of a server drops its oldest past the cap. */
  async function collect(message: IncomingMessage): Promise<CollectOutcome> {
    const outcome = await ingest.collect(message);
    if (outcome !== 'collected') return outcome;
    const n = (sinceCap.get(message.guildId) ?? 0) + 1;
    if (n < Math.max(1, Math.floor(quotas.messagesPerServer / 10))) {
      sinceCap.set(message.guildId, n);
    } else {
      sinceCap.delete(message.guildId);
      await lane(message.guildId, () => capCollected(ctx, quotas.messagesPerServer, message.guildId));
    }
    return outcome;
  }

  async function getSettings(guildId: string): Promise<GuildSettings> {
    return withDefaults(await store.get(key.settings(guildId)));
  }

  /** Checks and saves some settings; returns them all. Throws InvalidRequestError for a bad value. */
  async function updateSettings(guildId: string, patch: Partial<GuildSettings>): Promise<GuildSettings> {
    checkSettings(patch);
    return lane(guildId, async () => {
      const next = { ...(await getSettings(guildId)) };
      for (const [k, v] of Object.entries(patch) as Array<[keyof GuildSettings, number | undefined]>)
        if (v !== undefined) next[k] = v;
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
      for (const row of page)
        out.push({ channelId: row.key.slice(prefix.length), since: row.value.since, by: row.value.by });
    }
    return out.sort((a, b) => a.since - b.since);
  }

  /** Rows read per page for a /retrain: a page (read and parsed at once) takes ~10 ms, the event loop runs between. */
  const TRAINING_TEXT_PAGE = 500;

  /**
   * What /retrain learns from for one server: its live collected messages and taught texts, normalised, one
   * utterance per entry (a message of several lines gives several), oldest first. Nothing of another server.
   */
  async function trainingText(guildId: string): Promise<string[]> {
    await lane(guildId, () => capCollected(ctx, quotas.messagesPerServer, guildId)); // the oldest past the cap go
    const rows: Array<{ at: number; key: string; text: string }> = [];
    for (const prefix of [key.messages(guildId), key.taughtAll(guildId)]) {
      for await (const page of store.scan<MessageRow | TaughtRow>(prefix, TRAINING_TEXT_PAGE)) {
        for (const row of page) rows.push({ at: row.value.at, key: row.key, text: row.value.t });
      }
    }
    rows.sort((a, b) => a.at - b.at || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const out: string[] = [];
    for (const r of rows) for (const line of r.text.split('\n')) if (line !== '') out.push(line);
    return out;
  }

  return {
    retentionDays,
    getSettings,
    updateSettings,
    setChannel,
    channels,
    collect,
    edit: ingest.edit,
    remove: ingest.remove,
    purgeGuild: ingest.purgeGuild,
    purgeChannel: ingest.purgeChannel,
    replayJournal: ingest.replayJournal,
    collectMany: ingest.collectMany,
    teach: consent.teach,
    isOptedOut: consent.isOptedOut,
    optOut: consent.optOut,
    optIn: consent.optIn,
    forget: consent.forget,
    privacy: consent.privacy,
    trainingText,
    /** A token that changes whenever something of the server is erased (collection/data-generation.ts). */
    dataGeneration: (guildId: string) => dataGeneration(store, guildId),
    /**
     * Whether to babble a reply to this message without being asked: it is from a person who has not opted out,
     * in a collection channel, the channel's cooldown has passed, and the dice say so (reply chance in percent).
     * Starts the cooldown when it says yes.
     */
    unpromptedReply: unprompted.decide,
    /** Deletes every message and taught text sent more than RETENTION_DAYS ago (and their index entries). */
    sweep: () => sweepExpired(ctx),
    pendingCount: ingest.pendingCount,
    retryNow: ingest.retryNow,
    close: ingest.close,
  };
}
