/**
 * Section `ingest`: messages collected per second into a SQLite file through the collection service (one message
 * per gateway event, as the bot ingests them), with synchronous=NORMAL (before issue 12 item 4) and FULL (now, so
 * that an acknowledged erasure survives power loss), and /forget erasures per second with FULL.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createCollectionService } from '../src/service/collection.js';
import { openStore } from '../src/storage/open.js';

export interface IngestFigures {
  messages: number;
  messages_per_s_normal: number;
  messages_per_s_full: number;
  /** FULL's cost: 1 - full / normal. */
  full_cost_share: number;
  forgets_per_s_full: number;
  dir: string;
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
        guildId: G, channelId: C, authorId, human: true, id: String(100_000 + i),
        content: `me want cookie number ${i}`, createdAt: t0 + i,
      });
    }
    const rate = messages / ((performance.now() - started) / 1000);
    let forgetRate = 0;
    if (synchronous === 'FULL') {
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

export async function measureIngest(options: { messages: number; log: (s: string) => void }): Promise<IngestFigures> {
  // Under the working folder (a real disk), not a tmpfs /tmp where fsync costs nothing.
  const dir = await mkdtemp(path.join(process.cwd(), 'var', 'bench-ingest-'));
  try {
    const normal = await ingestRate(dir, 'NORMAL', options.messages);
    const full = await ingestRate(dir, 'FULL', options.messages);
    options.log(`ingest: ${normal.rate.toFixed(0)} msg/s NORMAL, ${full.rate.toFixed(0)} msg/s FULL`);
    return {
      messages: options.messages,
      messages_per_s_normal: Math.round(normal.rate),
      messages_per_s_full: Math.round(full.rate),
      full_cost_share: Math.round((1 - full.rate / normal.rate) * 1000) / 1000,
      forgets_per_s_full: Math.round(full.forgetRate * 10) / 10,
      dir: os.type() === 'Linux' ? dir : dir,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
