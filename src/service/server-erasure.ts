/**
 * A server that removes the bot is erased entirely: its training cancelled, its model folder (every version,
 * rejected and temporary folders) deleted, its cache entry dropped, and everything stored under `g:<id>:`
 * (settings, channels, opt-outs, texts, word list, training budget) purged. Re-added later, it starts on the base.
 *
 * Removed while the bot was offline: after the start-up burst (READY and its GUILD_CREATEs), `reconcile` compares
 * the servers that have data or models with the servers the bot is in. A server missing from that list is not
 * erased at once (a Discord outage is not a removal): when it is first seen missing is recorded in the store
 * (`erase:missing:<id>`), and it is erased only once it has been missing for PURGE_AFTER_DAYS; a server seen
 * again has its record cleared. Free of Discord: the adapter says which servers are joined.
 */
import type { ModelCache } from './model-cache.js';
import type { Logger } from '../log.js';
import type { KvStore } from '../storage/kv.js';
import type { Done } from './collection/ingest-queue.js';
import { checkId } from './collection/layout.js';
import { errorMessage } from '../error-message.js';

export const DEFAULT_PURGE_AFTER_DAYS = 7;
const DAY_MS = 86_400_000;
const MISSING_PREFIX = 'erase:missing:';
const GUILD_KEY = /^g:(\d{1,20}):/;

export interface MissingRecord {
  /** When the server was first seen missing (epoch ms). */
  since: number;
}

export interface ServerErasureOptions {
  store: KvStore;
  collection: { purgeGuild(guildId: string): Promise<Done> };
  registry: { removeScope(scope: string): Promise<boolean>; scopes(): Promise<string[]> };
  models: Pick<ModelCache, 'install' | 'invalidate'>;
  /** The training to cancel (its end is awaited, so that it cannot write into the server's folder again). */
  retrain?: { get(scope: string): { cancel(): void; result: Promise<unknown> } | undefined } | undefined;
  log: Logger;
  /** Default DEFAULT_PURGE_AFTER_DAYS. */
  purgeAfterDays?: number;
  now?: () => number;
}

export interface ErasureResult {
  /** Whether a model folder was deleted. */
  models: boolean;
  /** 'queued' when the store was failing: the purge waits in the ingest queue (never dropped). */
  data: Done;
}

export interface ReconcileResult {
  /** Servers seen missing (now or earlier) and still within the grace period. */
  waiting: string[];
  /** Servers erased because they had been missing for the grace period. */
  erased: string[];
}

export type ServerErasure = ReturnType<typeof createServerErasure>;

export function createServerErasure(options: ServerErasureOptions) {
  const { store, log } = options;
  const now = options.now ?? Date.now;
  const graceMs = (options.purgeAfterDays ?? DEFAULT_PURGE_AFTER_DAYS) * DAY_MS;

  /** Erases everything of a server the bot was removed from. */
  async function eraseServer(guildId: string): Promise<ErasureResult> {
    checkId(guildId, 'guild id');
    const job = options.retrain?.get(guildId);
    if (job) {
      job.cancel();
      await job.result;
    }
    const models = await options.registry.removeScope(guildId);
    // Announced (with Redis) as a swap to the base: every other process drops the server's model too, and a host
    // with an S3 store deletes its cached copies (model-store/object-registry.ts resolve).
    options.models.install(guildId, 0, undefined);
    options.models.invalidate(guildId);
    const data = await options.collection.purgeGuild(guildId);
    // A failing store: the purge waits in the ingest queue; a stale record is cleared by the next reconcile.
    await store.deleteMany([`${MISSING_PREFIX}${guildId}`]).catch(() => undefined);
    log.info({ guild: guildId, models, data }, 'server erased');
    return { models, data };
  }

  /** Every server with stored data or a model folder. */
  async function known(): Promise<Set<string>> {
    const ids = new Set(await options.registry.scopes());
    let last = '';
    for await (const page of store.scan('g:', 1000)) {
      for (const row of page) {
        const m = GUILD_KEY.exec(row.key);
        if (m && m[1] !== last) {
          last = m[1]!;
          ids.add(last);
        }
      }
    }
    return ids;
  }

  /**
   * After the start-up burst: `joined` are the servers the bot is in (outages included); `owns` says which servers
   * this process answers for (its shards). Missing servers are recorded, and erased after the grace period.
   */
  async function reconcile(
    joined: ReadonlySet<string>,
    owns: (guildId: string) => boolean = () => true,
  ): Promise<ReconcileResult> {
    const result: ReconcileResult = { waiting: [], erased: [] };
    const servers = await known();
    // Records of servers seen again, or with nothing left to erase, go.
    for await (const page of store.scan<MissingRecord>(MISSING_PREFIX)) {
      const done = page
        .map((r) => r.key)
        .filter((k) => {
          const id = k.slice(MISSING_PREFIX.length);
          return joined.has(id) || !servers.has(id);
        });
      if (done.length > 0) await store.deleteMany(done);
    }
    for (const guildId of servers) {
      if (joined.has(guildId) || !owns(guildId)) continue;
      const k = `${MISSING_PREFIX}${guildId}`;
      const record = await store.get<MissingRecord>(k);
      if (!record) {
        await store.set(k, { since: now() } satisfies MissingRecord);
        const where = { guild: guildId, purgeAfterDays: graceMs / DAY_MS };
        log.warn(where, 'a server with data is no longer joined: erased if still missing after the grace period');
        result.waiting.push(guildId);
      } else if (now() - record.since >= graceMs) {
        try {
          await eraseServer(guildId);
          result.erased.push(guildId);
        } catch (error) {
          const why = errorMessage(error);
          log.error({ guild: guildId, err: error }, `could not erase a server no longer joined: ${why}`);
        }
      } else {
        result.waiting.push(guildId);
      }
    }
    return result;
  }

  return { eraseServer, reconcile };
}
