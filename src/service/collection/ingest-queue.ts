/**
 * The ingest queue: gateway events (a new message, an edit, deletions, the bot removed from a server) applied to
 * the store, in order per server with the member commands of that server. When the store fails, they wait in a
 * queue and are retried in order (each is decided again when it runs: a message of someone who opted out meanwhile
 * is not stored), and the failure is logged. Also the batched write path (collectMany).
 *
 * Erasures (message deletes, a deleted channel's or a server's purge) are never dropped: past `maxPending` only new
 * messages are dropped, oldest first; and `close()` writes the erasures still waiting or running to the journal
 * (erasure-journal.ts), which `replayJournal()` applies at the next start.
 */
import { bumpDataGeneration } from './data-generation.js';
import { StorageError, type KvEntry } from '../../storage/kv.js';
import { isErasure, readJournal, writeJournal, type Erasure } from './erasure-journal.js';
import {
  key,
  normaliseForTraining,
  ttlFor,
  type ChannelRow,
  type CollectionContext,
  type IndexRow,
  type MessageRow,
} from './layout.js';

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

export interface IngestOptions {
  /** First retry of queued gateway events after a store failure (ms, doubling up to retryMaxMs). Default 1000. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Most gateway events waiting for a failed store; past it the oldest new messages go (logged), never erasures. */
  maxPending?: number;
  /** Called when a server's data was purged (its unprompted-reply cooldowns go too). */
  onPurged?: (guildId: string) => void;
  /** Where erasures not yet applied at close are recorded (fsynced) for the next start. None: they are logged. */
  journalPath?: string;
}

type GatewayOp = { kind: 'collect'; message: IncomingMessage } | { kind: 'edit'; edit: MessageEdit } | Erasure;

class QueuedBehind extends Error {}

function opGuild(op: GatewayOp): string {
  return op.kind === 'collect' ? op.message.guildId : op.kind === 'edit' ? op.edit.guildId : op.guildId;
}

export function createIngestQueue(ctx: CollectionContext, options: IngestOptions = {}) {
  const { store, lane, log } = ctx;
  const retryInitialMs = options.retryInitialMs ?? 1000;
  const retryMaxMs = options.retryMaxMs ?? 60_000;
  const maxPending = options.maxPending ?? 100_000;

  async function doCollect(message: IncomingMessage): Promise<CollectOutcome> {
    const { guildId, channelId, authorId, id } = message;
    if (!message.human) return 'not-human';
    const text = normaliseForTraining(message.content);
    if (text === '') return 'empty';
    if (ttlFor(ctx, message.createdAt) === undefined) return 'too-old';
    const [channel, optedOut] = await store.getMany<unknown>([
      key.channel(guildId, channelId),
      key.optOut(guildId, authorId),
    ]);
    const on = channel as ChannelRow | undefined;
    // Only what was said after the notice went up.
    if (!on || message.createdAt < on.since) return 'not-enabled';
    if (optedOut !== undefined) return 'opted-out';
    const ttl = ttlFor(ctx, message.createdAt);
    if (ttl === undefined) return 'too-old';
    await store.setMany([
      {
        key: key.message(guildId, id),
        value: { a: authorId, c: channelId, t: text, at: message.createdAt } satisfies MessageRow,
        ttlMs: ttl,
      },
      {
        key: key.userMessage(guildId, authorId, id),
        value: { c: channelId, at: message.createdAt } satisfies IndexRow,
        ttlMs: ttl,
      },
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
    if (doomed.length > 0) await bumpDataGeneration(store, guildId); // a retrain reading it trains again
    return doomed.length / 2;
  }

  async function doEdit(edit: MessageEdit): Promise<void> {
    if (edit.content === null) return;
    const k = key.message(edit.guildId, edit.id);
    const row = await store.get<MessageRow>(k);
    if (!row) return;
    const text = normaliseForTraining(edit.content);
    const ttl = ttlFor(ctx, row.at);
    if (text === '' || ttl === undefined) {
      await removeMessages(edit.guildId, [edit.id]);
      return;
    }
    if (text === row.t) return;
    await store.set(k, { ...row, t: text } satisfies MessageRow, ttl);
    await store.scrub?.(); // the words the edit took out leave the disk
    await bumpDataGeneration(store, edit.guildId);
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

  /** A deleted channel or thread: its messages (and their index entries) and its collection switch. */
  async function doPurgeChannel(guildId: string, channelId: string): Promise<number> {
    let n = 0;
    for await (const page of store.scan<MessageRow>(key.messages(guildId))) {
      const doomed: string[] = [];
      for (const row of page) {
        if (row.value.c !== channelId) continue;
        const id = row.key.slice(key.messages(guildId).length);
        doomed.push(row.key, key.userMessage(guildId, row.value.a, id));
      }
      if (doomed.length > 0) await store.deleteMany(doomed);
      n += doomed.length / 2;
    }
    await store.deleteMany([key.channel(guildId, channelId)]);
    return n;
  }

  async function doPurge(guildId: string): Promise<number> {
    const n = await deletePrefix(key.guild(guildId));
    await bumpDataGeneration(store, guildId);
    options.onPurged?.(guildId);
    return n;
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
      case 'purgeChannel':
        await doPurgeChannel(op.guildId, op.channelId);
        return undefined;
    }
  }

  // Erasures being applied now (a slow store at shutdown): recorded in the journal too.
  const running = new Set<GatewayOp>();
  async function runTracked(op: GatewayOp): Promise<CollectOutcome | undefined> {
    running.add(op);
    try {
      return await runOp(op);
    } finally {
      running.delete(op);
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
      // Only a new message may be dropped: never an erasure (nor an edit, which may take text away).
      const at = pending.findIndex((p) => p.kind === 'collect');
      if (at < 0) {
        scheduleRetry();
        return;
      }
      const lost = pending.splice(at, 1)[0]!;
      dropped += 1;
      if (dropped === 1 || dropped % 1000 === 0) {
        const where = { dropped, kind: lost.kind, guild: opGuild(lost) };
        log.error(where, 'storage unavailable too long: dropping the oldest waiting new messages');
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
          await lane(opGuild(op), () => runTracked(op));
        } catch (error) {
          if (error instanceof StorageError) {
            retryDelay = Math.min(retryDelay * 2, retryMaxMs);
            log.warn(
              { waiting: pending.length, retryInMs: retryDelay, err: error },
              'storage still failing; gateway events keep waiting',
            );
            return;
          }
          log.error(
            { err: error, kind: op.kind, guild: opGuild(op) },
            'gateway event failed for good (not a storage failure); skipped',
          );
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
      return await lane(opGuild(op), () => (pending.length > 0 ? Promise.reject(new QueuedBehind()) : runTracked(op)));
    } catch (error) {
      if (error instanceof QueuedBehind) {
        enqueue(op);
        return 'queued';
      }
      if (!(error instanceof StorageError)) throw error;
      log.error(
        { err: error, kind: op.kind, guild: opGuild(op), waiting: pending.length + 1 },
        'storage failed: gateway event queued for retry',
      );
      enqueue(op);
      return 'queued';
    }
  }

  /**
   * The batched write path (imports, backfills, tests): the same rules as `collect` for each message, decided
   * with one read per channel and member, written in atomic batches. Rejects with a StorageError on failure.
   */
  async function collectMany(
    messages: readonly IncomingMessage[],
    batchSize = 500,
  ): Promise<Record<CollectOutcome, number>> {
    const counts: Record<CollectOutcome, number> = {
      collected: 0,
      'not-human': 0,
      empty: 0,
      'too-old': 0,
      'not-enabled': 0,
      'opted-out': 0,
      queued: 0,
    };
    const channelCache = new Map<string, ChannelRow | undefined>();
    const optOutCache = new Map<string, boolean>();
    let batch: KvEntry[] = [];
    for (const m of messages) {
      if (!m.human) {
        counts['not-human'] += 1;
        continue;
      }
      const text = normaliseForTraining(m.content);
      if (text === '') {
        counts.empty += 1;
        continue;
      }
      const ttl = ttlFor(ctx, m.createdAt);
      if (ttl === undefined) {
        counts['too-old'] += 1;
        continue;
      }
      const ck = key.channel(m.guildId, m.channelId);
      if (!channelCache.has(ck)) channelCache.set(ck, await store.get<ChannelRow>(ck));
      const on = channelCache.get(ck);
      if (!on || m.createdAt < on.since) {
        counts['not-enabled'] += 1;
        continue;
      }
      const ok = key.optOut(m.guildId, m.authorId);
      if (!optOutCache.has(ok)) optOutCache.set(ok, (await store.get(ok)) !== undefined);
      if (optOutCache.get(ok)) {
        counts['opted-out'] += 1;
        continue;
      }
      batch.push(
        {
          key: key.message(m.guildId, m.id),
          value: { a: m.authorId, c: m.channelId, t: text, at: m.createdAt } satisfies MessageRow,
          ttlMs: ttl,
        },
        {
          key: key.userMessage(m.guildId, m.authorId, m.id),
          value: { c: m.channelId, at: m.createdAt } satisfies IndexRow,
          ttlMs: ttl,
        },
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

  return {
    /** A new message. Resolves with what was decided ('queued' if the store failed; it is retried). */
    collect: (message: IncomingMessage) => submit({ kind: 'collect', message }) as Promise<CollectOutcome>,
    /** An edit: a stored message gets the new text (or is removed if nothing is left of it). */
    edit: async (edit: MessageEdit): Promise<Done> =>
      (await submit({ kind: 'edit', edit })) === 'queued' ? 'queued' : 'done',
    /** Deleted messages (single, bulk or uncached): removed if stored. */
    remove: async (guildId: string, ids: readonly string[]): Promise<Done> =>
      ids.length > 0 && (await submit({ kind: 'remove', guildId, ids: [...ids] })) === 'queued' ? 'queued' : 'done',
    /** A channel or thread was deleted: its collected messages go. */
    purgeChannel: async (guildId: string, channelId: string): Promise<Done> => {
      key.channel(guildId, channelId);
      return (await submit({ kind: 'purgeChannel', guildId, channelId })) === 'queued' ? 'queued' : 'done';
    },
    /** The bot left the server (not an outage): everything of that server is deleted. */
    purgeGuild: async (guildId: string): Promise<Done> => {
      key.guild(guildId);
      return (await submit({ kind: 'purge', guildId })) === 'queued' ? 'queued' : 'done';
    },
    collectMany,
    /** Gateway events waiting for the store. */
    pendingCount: () => pending.length,
    /** Retries the waiting gateway events now; resolves when the queue is empty or the store failed again. */
    retryNow: async (): Promise<void> => {
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      await drain();
    },
    /**
     * Stops retrying. Erasures still waiting or running are written to the journal (fsynced) for the next start;
     * other waiting events are logged as lost. Does not close the store.
     */
    close: async (): Promise<void> => {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      const erasures = [...running, ...pending].filter(isErasure);
      const lost = pending.length - pending.filter(isErasure).length;
      if (lost > 0) log.error({ lost }, 'closing with new messages or edits waiting for the store; they are lost');
      if (erasures.length === 0) return;
      if (!options.journalPath) {
        log.error({ erasures: erasures.length }, 'closing with erasures not applied and no journal to record them in');
        return;
      }
      await writeJournal(options.journalPath, erasures);
      const where = { erasures: erasures.length, journal: options.journalPath };
      log.warn(where, 'erasures not yet applied recorded; applied at the next start');
    },
    /**
     * At start: applies the erasures the last run recorded, and removes the journal once all are applied (when the
     * store fails they wait in the queue, and the journal stays until they are).
     */
    replayJournal: async (): Promise<number> => {
      if (!options.journalPath) return 0;
      const erasures = await readJournal(options.journalPath);
      let queued = false;
      for (const e of erasures) if ((await submit(e)) === 'queued') queued = true;
      if (!queued) await writeJournal(options.journalPath, []);
      if (erasures.length > 0) log.info({ erasures: erasures.length, queued }, 'erasures recorded at the last stop');
      return erasures.length;
    },
  };
}
