/**
 * Members' consent and erasure: /teach, /optout, /optin, /forget and /privacy. Each runs in its server's lane
 * (after the gateway events already given), and a store failure fails it at once (the member is told).
 */
import type { KvEntry } from '../../storage/kv.js';
import { bumpDataGeneration } from './data-generation.js';
import { checkTeachQuota, DEFAULT_QUOTAS, type Quotas } from './quotas.js';
import { InvalidRequestError } from '../errors.js';
import { key, normaliseForTraining, type CollectionContext, type IndexRow, type TaughtRow } from './layout.js';

/** Longest /teach text, in characters. */
export const TEACH_MAX_LENGTH = 500;

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

export function createConsent(ctx: CollectionContext, retentionDays: number, quotas: Quotas = DEFAULT_QUOTAS) {
  const { store, lane, now } = ctx;

  async function teach(guildId: string, userId: string, teachId: string, text: string): Promise<{ text: string }> {
    if (text.length > TEACH_MAX_LENGTH)
      throw new InvalidRequestError(
        `That is too long: at most ${TEACH_MAX_LENGTH} characters (yours has ${text.length}).`,
      );
    const normalised = normaliseForTraining(text);
    if (normalised === '') {
      throw new InvalidRequestError(
        'The baby found no words in that to learn (it knows letters, digits and basic punctuation).',
      );
    }
    const at = now();
    const ttl = ctx.retentionMs;
    const entries: KvEntry[] = [
      { key: key.taught(guildId, teachId), value: { a: userId, t: normalised, at } satisfies TaughtRow, ttlMs: ttl },
      { key: key.userTaught(guildId, userId, teachId), value: { at } satisfies IndexRow, ttlMs: ttl },
    ];
    return lane(guildId, async () => {
      await checkTeachQuota(ctx, quotas, guildId, userId, normalised.length);
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
      await bumpDataGeneration(store, guildId);
      await store.scrub?.(); // durable (synced) before the member is told
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
        if (seen === 0) {
          await bumpDataGeneration(store, guildId); // a retrain that read this member's text trains again
          await store.scrub?.(); // the opt-out too is durable (synced) before the member is told
          return result;
        }
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
    const channelsList = [...perChannel]
      .map(([channelId, n]) => ({ channelId, messages: n }))
      .sort((a, b) => b.messages - a.messages);
    return {
      optedOut: await isOptedOut(guildId, userId),
      messages,
      channels: channelsList,
      taught,
      oldest,
      retentionDays,
    };
  }

  return { teach, isOptedOut, optOut, optIn, forget, privacy };
}
