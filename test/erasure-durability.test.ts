/**
 * Deletions are never dropped (issue 12 item 5): past the ingest queue's bound only new messages are dropped,
 * never deletes or purges; at close, erasures still waiting (a failing store) or still running (a slow store) are
 * written to the journal and applied by the next start (a new service on the same SQLite file); a deleted channel's
 * messages are purged.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readJournal } from '../src/service/collection/erasure-journal.js';
import { createCollectionService } from '../src/service/collection.js';
import { StorageError, type KvStore } from '../src/storage/kv.js';
import { openStore } from '../src/storage/open.js';
import { closeStores, trackStore, G, C, T0, msg } from './helpers/collection-setup.js';

const dir = mkdtempSync(join(tmpdir(), 'babble-erasures-'));
afterEach(closeStores);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** A store whose writes fail while `broken`, and whose deletes hang while `slow` (until `release()`). */
function faulty(inner: KvStore) {
  let release: () => void = () => undefined;
  const state = { broken: false, slow: false, hanging: 0 };
  const fail = async () => {
    throw new StorageError('write', new Error('disk on fire'));
  };
  const hang = () =>
    new Promise<void>((resolve) => {
      state.hanging += 1;
      release = resolve;
    });
  const store: KvStore = {
    ...inner,
    set: (...a) => (state.broken ? fail() : inner.set(...a)),
    setMany: (...a) => (state.broken ? fail() : inner.setMany(...a)),
    deleteMany: async (...a) => {
      if (state.broken) return fail();
      if (state.slow) await hang();
      return inner.deleteMany(...a);
    },
    scan: (...a) => inner.scan(...a),
  };
  return { store, state, release: () => release() };
}

async function open(file: string) {
  const inner = await openStore(`sqlite://${file}`);
  trackStore(inner);
  return inner;
}

function service(store: KvStore, journalPath: string, maxPending = 1000) {
  return createCollectionService({ store, now: () => T0, retryInitialMs: 60_000, maxPending, journalPath });
}

describe('the ingest queue never drops an erasure', () => {
  it('past its bound it drops the oldest new messages, and keeps every delete and purge', async () => {
    const { store, state } = faulty(await open(':memory:'));
    const collection = service(store, join(dir, `j${n++}.json`), 3);
    await collection.setChannel(G, C, true, '1');
    await collection.collect(msg({ id: '1', content: 'stored before' }));
    state.broken = true;
    await collection.remove(G, ['1']);
    for (const id of ['2', '3', '4', '5']) await collection.collect(msg({ id, content: `word ${id}` }));
    await collection.purgeChannel(G, '2001');
    await collection.remove(G, ['9']);
    // 3 erasures kept although the bound is 3: the new messages went instead.
    expect(collection.pendingCount()).toBe(3);
    state.broken = false;
    await collection.retryNow();
    expect(collection.pendingCount()).toBe(0);
    expect(await collection.trainingText(G)).toEqual([]);
    await collection.close();
  });
});

describe('shutdown records the erasures not yet applied', () => {
  it('a failing store: waiting deletes and purges are journalled and applied at the next start', async () => {
    const file = join(dir, `db${n++}.sqlite`);
    const journal = join(dir, `j${n++}.json`);
    const first = faulty(await open(file));
    const before = service(first.store, journal);
    await before.setChannel(G, C, true, '1');
    await before.setChannel(G, '2001', true, '1');
    await before.collect(msg({ id: '1', content: 'delete me' }));
    await before.collect(msg({ id: '2', content: 'keep me' }));
    await before.collect(msg({ id: '3', content: 'channel gone', channelId: '2001' }));
    await before.collect(msg({ id: '4', content: 'other server', guildId: '1001' }));
    await before.setChannel('1001', C, true, '1');
    await before.collect(msg({ id: '4', content: 'other server', guildId: '1001' }));
    first.state.broken = true;
    expect(await before.remove(G, ['1'])).toBe('queued');
    expect(await before.purgeChannel(G, '2001')).toBe('queued');
    expect(await before.purgeGuild('1001')).toBe('queued');
    expect(await before.collect(msg({ id: '5', content: 'lost new message' }))).toBe('queued');
    await before.close();
    expect((await readJournal(journal)).map((e) => e.kind)).toEqual(['remove', 'purgeChannel', 'purge']);

    // The next start, on the same database (the store works again).
    const after = service(await open(file), journal);
    expect(await after.replayJournal()).toBe(3);
    expect(existsSync(journal)).toBe(false);
    expect(await after.trainingText(G)).toEqual(['keep me']);
    expect(await after.trainingText('1001')).toEqual([]);
    expect(await after.channels(G)).toEqual([expect.objectContaining({ channelId: C })]);
    await after.close();
  });

  it('a slow store: an erasure still running at close is journalled too', async () => {
    const file = join(dir, `db${n++}.sqlite`);
    const journal = join(dir, `j${n++}.json`);
    const slow = faulty(await open(file));
    const before = service(slow.store, journal);
    await before.setChannel(G, C, true, '1');
    await before.collect(msg({ id: '1', content: 'delete me' }));
    slow.state.slow = true;
    const removing = before.remove(G, ['1']);
    while (slow.state.hanging === 0) await new Promise((r) => setImmediate(r));
    await before.close();
    expect(await readJournal(journal)).toEqual([{ kind: 'remove', guildId: G, ids: ['1'] }]);
    slow.release();
    await removing;

    const after = service(await open(file), journal);
    await after.replayJournal();
    expect(await after.trainingText(G)).toEqual([]);
    await after.close();
  });

  it('a journal whose erasures cannot be applied yet stays until they are', async () => {
    const journal = join(dir, `j${n++}.json`);
    const a = faulty(await open(':memory:'));
    const before = service(a.store, journal);
    a.state.broken = true;
    await before.remove(G, ['1']);
    await before.close();
    const after = service(a.store, journal);
    await after.replayJournal();
    expect(existsSync(journal)).toBe(true);
    expect(after.pendingCount()).toBe(1);
    a.state.broken = false;
    await after.retryNow();
    await after.close();
  });
});

describe('a deleted channel', () => {
  it('purges its messages and index entries and switches its collection off; others keep theirs', async () => {
    const { store } = faulty(await open(':memory:'));
    const collection = service(store, join(dir, `j${n++}.json`));
    await collection.setChannel(G, C, true, '1');
    await collection.setChannel(G, '2001', true, '1');
    await collection.collect(msg({ id: '1', content: 'in the deleted one' }));
    await collection.collect(msg({ id: '2', content: 'in the kept one', channelId: '2001' }));
    expect(await collection.purgeChannel(G, C)).toBe('done');
    expect(await collection.trainingText(G)).toEqual(['in the kept one']);
    expect((await collection.privacy(G, '3000')).messages).toBe(1);
    expect((await collection.channels(G)).map((c) => c.channelId)).toEqual(['2001']);
    await collection.close();
  });
});
