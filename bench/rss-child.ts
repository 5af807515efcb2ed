/**
 * Child process of the memory figure: `node --import tsx bench/rss-child.ts MODEL_DIR COPIES`.
 * Initialises the backend (as the bot does), loads the base model and COPIES more through BabyLanguageModel.load,
 * babbles once with each (so anything built on first use is counted), and prints one JSON line:
 * { backend, models, rssBaselineMb (backend only), rssAfterBaseMb (+ the base model), rssNoGcMb (all loaded),
 *   rssMb (all loaded, after a full gc), heapUsedMb, externalMb, arrayBuffersMb }.
 */
import { BabyLanguageModel } from '../src/model/baby.js';
import { initBackend } from '../src/model/backend.js';

const MB = 1024 * 1024;

async function main(): Promise<void> {
  const [dir, copiesText] = process.argv.slice(2);
  const copies = Number(copiesText);
  if (!dir || !Number.isInteger(copies) || copies < 0) throw new Error('usage: rss-child.ts MODEL_DIR COPIES');
  const backend = await initBackend();
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const rssBaselineMb = process.memoryUsage().rss / MB;
  const models: BabyLanguageModel[] = [];
  let rssAfterBaseMb = 0;
  for (let i = 0; i < copies + 1; i++) {
    const m = await BabyLanguageModel.load(dir);
    m.generate('me want', { length: 20, rng: i + 1 });
    models.push(m);
    if (i === 0) rssAfterBaseMb = process.memoryUsage().rss / MB;
  }
  const rssNoGcMb = process.memoryUsage().rss / MB;
  gc?.();
  const mem = process.memoryUsage();
  process.stdout.write(
    `${JSON.stringify({
      backend: backend.name,
      models: models.length,
      rssBaselineMb,
      rssAfterBaseMb,
      rssNoGcMb,
      rssMb: mem.rss / MB,
      heapUsedMb: mem.heapUsed / MB,
      externalMb: mem.external / MB,
      arrayBuffersMb: mem.arrayBuffers / MB,
    })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
