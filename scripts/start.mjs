// @ts-check
/**
 * `npm start` (and `npm run trainer`, which passes `trainer`): runs the compiled bot (dist/src/main.js; the trainer
 * host: dist/src/trainer-main.js) in this same process, after rebuilding it only when a
 * source is newer than its output (scripts/build.mjs; a fresh build costs nothing but a few stat calls).
 *
 * npm does not pass SIGTERM on to the program it runs (it exits and leaves the bot running), so a process manager
 * should run `node dist/src/main.js` itself (README, Production); this script is for people at a terminal, where
 * Ctrl-C reaches every process of the group.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, findTsc, staleReasons } from './build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENTRIES = { bot: 'main.js', trainer: 'trainer-main.js' };
const role = process.argv[2] ?? 'bot';
if (!Object.hasOwn(ENTRIES, role)) {
  process.stderr.write(`usage: node scripts/start.mjs [${Object.keys(ENTRIES).join('|')}]\n`);
  process.exit(2);
}
const main = path.join(root, 'dist', 'src', ENTRIES[/** @type {keyof typeof ENTRIES} */ (role)]);

const stale = staleReasons(root);
if (stale.length > 0) {
  const tsc = findTsc(root);
  if (tsc === undefined) {
    process.stderr.write(
      `dist/ is out of date (${stale.join('; ')}) and TypeScript is not installed to rebuild it: run npm install (with dev dependencies), then npm run build\n`,
    );
    process.exit(1);
  }
  process.stderr.write(`sources changed since the last build (${stale[0]}): compiling with tsc…\n`);
  try {
    build(root, tsc);
  } catch {
    process.stderr.write('tsc reported errors (above): fix them, or run the last build with node dist/src/main.js\n');
    process.exit(1);
  }
}
// The bot then sees itself as dist/src/main.js, e.g. as the script each shard runs (src/shard.ts).
process.argv.splice(1, 2, main);
await import(pathToFileURL(main).href);
