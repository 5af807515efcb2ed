/**
 * A separate writer process for the storage tests: collects COUNT messages (ids FIRST_ID, FIRST_ID+1, …, text
 * "m <id>") one at a time through the collection service, into STORAGE_URL under KEY_PREFIX, for GUILD / CHANNEL
 * / AUTHOR. With ACK=1 it prints "ack <id>" once each write has resolved. With START_AT (epoch ms) it waits until
 * then before writing (so that two writers really run at the same time). Prints "done" at the end.
 * Run: node --import tsx test/helpers/store-writer.ts (the environment carries the parameters).
 */
import { createCollectionService } from '../../src/service/collection.js';
import { openStore } from '../../src/storage/open.js';

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`store-writer: ${name} is not set`);
  return v;
}

const store = await openStore(need('STORAGE_URL'), { prefix: need('KEY_PREFIX') });
const collection = createCollectionService({ store, retentionDays: 90 });
const first = BigInt(need('FIRST_ID'));
const count = Number(need('COUNT'));
const ack = process.env.ACK === '1';
const startAt = Number(process.env.START_AT ?? 0);
if (startAt > Date.now()) await new Promise((r) => setTimeout(r, startAt - Date.now()));
for (let i = 0n; i < BigInt(count); i++) {
  const id = String(first + i);
  const outcome = await collection.collect({
    id,
    guildId: need('GUILD'),
    channelId: need('CHANNEL'),
    authorId: need('AUTHOR'),
    human: true,
    content: `m ${id}`,
    createdAt: Date.now(),
  });
  if (outcome !== 'collected') {
    process.stderr.write(`store-writer: message ${id} was not collected: ${outcome}\n`);
    process.exit(2);
  }
  if (ack) process.stdout.write(`ack ${id}\n`);
}
collection.close();
await store.close();
process.stdout.write('done\n');
