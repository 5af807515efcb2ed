/**
 * Section `ingest`: messages collected per second into a SQLite file through the collection service (one message
 * per gateway event, as the bot ingests them), with synchronous=NORMAL (shipped; no erasure among these writes)
 * and FULL (so that every write survives power loss: not chosen, see sqlite.ts), and /forget erasures per
 * second as shipped.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { createCollectionService } from '../src/service/collection.js';
import { openStore } from '../src/storage/open.js';
import type { Outcome, Section } from './report.js';

export interface IngestFigures {
  messages: number;
  messages_per_s_normal: number;
  messages_per_s_full: number;
  /** FULL's cost: 1 - full / normal. */
  full_cost_share: number;
  /** /forget of a member with 60 messages, as shipped (NORMAL, each erasure checkpointed and synced). */
  forgets_per_s: number;
}

const G = '1000';
const C = '2000';

async function ingestRate(dir: string, synchronous: 'NORMAL' | 'FULL', messages: number) {
  const store = await openStore(`sqlite://${path.join(dir, `ingest-${synchronous}.sqlite`)}`, { synchronous });
  const collection = createCollectionService({ store, quotas: { messagesPerServer: 10 * messages } });
  try {
    await collection.setChannel(G, C, true, '1');
    const t0 = Date.now() - 1000;
    const started = performance.now();
    for (let i = 0; i < messages; i++) {
      const authorId = String(3000 + (i % 50));
      await collection.collect({
        guildId: G,
        channelId: C,
        authorId,
        human: true,
        id: String(100_000 + i),
        content: `me want cookie number ${i}`,
        createdAt: t0 + i,
      });
    }
    const rate = messages / ((performance.now() - started) / 1000);
    let forgetRate = 0;
    if (synchronous === 'NORMAL') {
      const f0 = performance.now();
      for (let u = 0; u < 50; u++) await collection.forget(G, String(3000 + u));
      forgetRate = 50 / ((performance.now() - f0) / 1000);
    }
    return { rate, forgetRate };
  } finally {
    collection.close();
    await store.close();
  }
}

/** The JSON section: not judged (no target); the figures that chose the sync mode. */
export function ingestSection(o: Outcome<IngestFigures>): Section {
  return {
    ...(o.ok ? o.value : {}),
    shipped: 'NORMAL, with a synced WAL checkpoint after every erasure (sqlite.ts)',
    pass: null,
    reason: o.ok ? null : o.reason,
  };
}

export async function measureIngest(options: { messages: number; log: (s: string) => void }): Promise<IngestFigures> {
  // Under the working folder (a real disk), not a tmpfs /tmp where fsync costs nothing.
  // var/ is the bot's working folder (git-ignored): a fresh clone has none until the bot first runs.
  const parent = path.join(process.cwd(), 'var');
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(path.join(parent, 'bench-ingest-'));
  try {
    const normal = await ingestRate(dir, 'NORMAL', options.messages);
    const full = await ingestRate(dir, 'FULL', options.messages);
    options.log(`ingest: ${normal.rate.toFixed(0)} msg/s NORMAL, ${full.rate.toFixed(0)} msg/s FULL`);
    return {
      messages: options.messages,
      messages_per_s_normal: Math.round(normal.rate),
      messages_per_s_full: Math.round(full.rate),
      full_cost_share: Math.round((1 - full.rate / normal.rate) * 1000) / 1000,
      forgets_per_s: Math.round(normal.forgetRate * 10) / 10,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
