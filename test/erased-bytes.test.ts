/**
 * Erased text leaves the disk: on a real SQLite file (WAL), a marker word collected, taught or edited is found by
 * a raw byte scan of the database file and its WAL before it is erased, and nowhere after /forget, a message
 * delete, a purge of the server or the retention sweep.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../src/storage/open.js';
import { closeStores, C, DAY, G, msg, setup, trackStore, U } from './helpers/collection-setup.js';

const work = mkdtempSync(join(tmpdir(), 'babble-erased-'));
afterEach(closeStores);
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;

const MARKER = 'quixoticzeppelin';

/** Every file SQLite keeps for `db` (the database, its WAL and shared memory), scanned byte for byte. */
function onDisk(db: string, word: string): string[] {
  const needle = Buffer.from(word, 'utf8');
  return [db, `${db}-wal`, `${db}-shm`, `${db}-journal`].filter(
    (f) => existsSync(f) && readFileSync(f).includes(needle),
  );
}

async function fileSetup() {
  const db = join(work, `babble-${n++}.sqlite`);
  const store = await openStore(`sqlite://${db}`);
  trackStore(store);
  const s = await setup({}, store);
  await s.collection.setChannel(G, C, true, '1');
  // Other people's text around the marker, so the erased rows share pages with rows that stay.
  for (let i = 0; i < 50; i++) {
    await s.collection.collect(msg({ id: String(100 + i), authorId: '3001', content: `other words number ${i}` }));
  }
  return { db, ...s };
}

describe('erased text leaves the disk (SQLite)', () => {
  it('/forget: the marker a member wrote and taught is gone from the database file and its WAL', async () => {
    const { db, collection } = await fileSetup();
    await collection.collect(msg({ id: '1', content: `me see ${MARKER}` }));
    await collection.teach(G, U, '10', `big ${MARKER} go`);
    expect(onDisk(db, MARKER).length).toBeGreaterThan(0);
    expect(await collection.forget(G, U)).toEqual({ messages: 1, taught: 1 });
    expect(onDisk(db, MARKER)).toEqual([]);
    expect(onDisk(db, 'other words number 7').length).toBeGreaterThan(0);
  });

  it('a deleted message, and the text an edit replaced, are gone', async () => {
    const { db, collection } = await fileSetup();
    await collection.collect(msg({ id: '1', content: `me see ${MARKER}` }));
    await collection.collect(msg({ id: '2', content: `where ${MARKER}two go` }));
    await collection.remove(G, ['1']);
    await collection.edit({ guildId: G, id: '2', content: 'nothing left' });
    expect(onDisk(db, MARKER)).toEqual([]);
  });

  it('a purged server and swept (expired) texts are gone', async () => {
    const { db, collection, advance, at } = await fileSetup();
    await collection.collect(msg({ id: '1', content: `me see ${MARKER}` }));
    advance(91 * DAY);
    await collection.sweep();
    expect(onDisk(db, MARKER)).toEqual([]);
    await collection.collect(msg({ id: '2', createdAt: at(), content: `again ${MARKER}` }));
    await collection.purgeGuild(G);
    expect(onDisk(db, MARKER)).toEqual([]);
  });
});

describe('acknowledged erasures are on disk (SQLite)', () => {
  it('after /optout, /forget and a delete the WAL is empty: every write is in the synced database file', async () => {
    const { db, collection } = await fileSetup();
    const { statSync } = await import('node:fs');
    const walSize = () => (existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0);
    expect(walSize()).toBeGreaterThan(0);
    expect(await collection.optOut(G, '3001')).toBe(true);
    expect(walSize()).toBe(0);
    expect(readFileSync(db).includes(Buffer.from(`g:${G}:o:3001`))).toBe(true);
    await collection.collect(msg({ id: '1', content: 'me see doggy' }));
    expect(walSize()).toBeGreaterThan(0);
    await collection.forget(G, '3002'); // nothing stored of theirs: the opt-out alone
    expect(walSize()).toBe(0);
    await collection.collect(msg({ id: '2', content: 'me see kitty' }));
    await collection.remove(G, ['2']);
    // The delete was checkpointed (synced into the database file); the WAL holds at most the data generation.
    for (const f of [db, `${db}-wal`]) expect(readFileSync(f).includes(Buffer.from(`g:${G}:m:2`))).toBe(false);
  });
});
