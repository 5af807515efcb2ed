/** Retention (service/collection/retention.ts): nothing older than RETENTION_DAYS is kept, the sweeper's timer. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startRetentionSweeper } from '../src/service/collection.js';
import { createLogger } from '../src/log.js';
import { StorageError } from '../src/storage/kv.js';
import { closeStores, DAY, G, C, U, T0, setup, msg } from './helpers/collection-setup.js';

afterEach(async () => {
  vi.useRealTimers();
  await closeStores();
});

describe('retention', () => {
  it('does not collect a message already older than the retention period', async () => {
    const { collection, store } = await setup({ retentionDays: 2 });
    const { collection: earlier } = await setup({ now: () => T0 - 10 * DAY }, store);
    await earlier.setChannel(G, C, true, '1');
    expect(await collection.collect(msg({ id: '1', createdAt: T0 - 2 * DAY - 1 }))).toBe('too-old');
    expect(await collection.collect(msg({ id: '2', createdAt: T0 - DAY, content: 'recent' }))).toBe('collected');
    expect(await collection.trainingText(G)).toEqual(['recent']);
  });

  it('the sweeper deletes messages and taught texts older than RETENTION_DAYS, and keeps the rest', async () => {
    const { collection, advance, store } = await setup({ retentionDays: 3 });
    await collection.setChannel(G, C, true, '1');
    await collection.collect(msg({ id: '1', content: 'old one', createdAt: T0 + 1000 }));
    await collection.teach(G, U, '10', 'old lesson');
    advance(2 * DAY);
    await collection.collect(msg({ id: '2', content: 'newer one', createdAt: T0 + 2 * DAY }));
    advance(DAY + 5000); // the first message and the lesson are now older than 3 days
    const result = await collection.sweep();
    expect(result.deleted).toBe(4); // two rows and their index entries
    expect(await collection.trainingText(G)).toEqual(['newer one']);
    expect(await collection.privacy(G, U)).toMatchObject({ messages: 1, taught: 0 });
    // Settings, channels and opt-outs don't expire.
    expect((await collection.channels(G)).length).toBe(1);
    // A shorter retention applies at the next sweep to what was stored under a longer one.
    const { collection: stricter } = await setup({ retentionDays: 1, now: () => T0 + 4 * DAY }, store);
    expect((await stricter.sweep()).deleted).toBe(2);
    expect(await stricter.trainingText(G)).toEqual([]);
  });
});

describe('the retention sweeper', () => {
  it('sweeps at once and then every interval, logging a failed sweep and going on', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const lines: Record<string, unknown>[] = [];
    const log = createLogger('info', {
      write: (l: string) => {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      },
    });
    let calls = 0;
    const sweeper = startRetentionSweeper(
      {
        sweep: async () => {
          calls += 1;
          if (calls === 2) throw new StorageError('scan', new Error('database is locked'));
          return { deleted: calls, purged: 0 };
        },
      },
      log,
      3_600_000,
    );
    try {
      await vi.advanceTimersByTimeAsync(0); // at once
      expect(calls).toBe(1);
      await vi.advanceTimersByTimeAsync(3_600_000); // an hour later: fails
      expect(calls).toBe(2);
      await vi.advanceTimersByTimeAsync(3_600_000); // and goes on
      expect(calls).toBe(3);
    } finally {
      sweeper.stop();
    }
    await sweeper.running();
    expect(lines.some((l) => l.msg === 'retention sweep done' && l.deleted === 1)).toBe(true);
    expect(lines.some((l) => l.msg === 'retention sweep failed; retrying at the next interval' && l.level === 50)).toBe(
      true,
    );
    await vi.advanceTimersByTimeAsync(10 * 3_600_000); // stopped: no more sweeps
    expect(calls).toBe(3);
  });
});
