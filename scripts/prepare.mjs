// @ts-check
/**
 * `prepare` (npm runs it after `npm install` and `npm ci`): compiles the bot into dist/ when a source is newer
 * than its output. Without TypeScript (an install with --omit=dev) it builds nothing and never fails: an install
 * that already has dist/ runs as it is; one without is told how to get it.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, findTsc, staleReasons } from './build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stale = staleReasons(root);
if (stale.length > 0) {
  const tsc = findTsc(root);
  if (tsc === undefined) {
    process.stderr.write(
      `babble: dist/ is out of date (${stale[0]}) and TypeScript is not installed, so it was not built; install with dev dependencies and run npm run build before starting the bot\n`,
    );
  } else {
    build(root, tsc); // type errors fail the install, as they fail npm run build
  }
}
