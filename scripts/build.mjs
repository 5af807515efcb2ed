// @ts-check
/**
 * Whether the compiled bot (dist/src/, the output of `npm run build`) is older than its TypeScript sources, and
 * building it. Plain JavaScript, because it runs before anything is compiled: `npm start` (scripts/start.mjs)
 * rebuilds only when a source is newer than its output, and `prepare` (scripts/prepare.mjs) builds at install and
 * does nothing when TypeScript is not installed (a production install that already has dist/).
 *
 * The rule: every src/**.ts (not .d.ts) must have its dist/src/**.js, not older than it; tsconfig.json and
 * tsconfig.build.json must not be newer than the oldest output. Only mtimes are compared (a few ms).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const CONFIG_FILES = ['tsconfig.json', 'tsconfig.build.json'];

/** @param {string} file @returns {number | undefined} */
function mtimeOf(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/** @param {string} dir @returns {string[]} files under dir, relative to it, with / separators */
function filesUnder(dir) {
  /** @type {string[]} */
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const parent = entry.parentPath ?? entry.path;
    out.push(path.relative(dir, path.join(parent, entry.name)).split(path.sep).join('/'));
  }
  return out;
}

/**
 * Why dist/ must be rebuilt: one line per source that has no output or a newer one than its output (at most
 * `limit` lines), or [] when every output is up to date.
 * @param {string} root the project folder
 * @param {number} [limit]
 * @returns {string[]}
 */
export function staleReasons(root, limit = 5) {
  /** @type {string[]} */
  const reasons = [];
  let oldestOutput = Infinity;
  const sources = filesUnder(path.join(root, 'src')).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  for (const rel of sources) {
    const source = mtimeOf(path.join(root, 'src', rel));
    const outRel = `dist/src/${rel.slice(0, -3)}.js`;
    const output = mtimeOf(path.join(root, outRel));
    if (output === undefined) reasons.push(`${outRel} is missing`);
    else if (source !== undefined && source > output) reasons.push(`src/${rel} is newer than ${outRel}`);
    if (output !== undefined) oldestOutput = Math.min(oldestOutput, output);
  }
  for (const config of CONFIG_FILES) {
    const m = mtimeOf(path.join(root, config));
    if (m !== undefined && oldestOutput !== Infinity && m > oldestOutput)
      reasons.push(`${config} is newer than dist/src/`);
  }
  if (reasons.length > limit) return [...reasons.slice(0, limit), `… and ${reasons.length - limit} more`];
  return reasons;
}

/**
 * The TypeScript compiler's entry script as installed for this project, or undefined when TypeScript is not
 * installed (e.g. after `npm prune --omit=dev`).
 * @param {string} root
 * @returns {string | undefined}
 */
export function findTsc(root) {
  try {
    return createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    return undefined;
  }
}

/**
 * Compiles src/ into dist/ (what `npm run build` does: tsc -p tsconfig.build.json). The compiler's output goes
 * to stderr, so that stdout stays the bot's JSON log. Throws when tsc reports errors.
 * @param {string} root
 * @param {string} tsc from findTsc
 */
export function build(root, tsc) {
  execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], {
    cwd: root,
    stdio: ['ignore', 2, 2],
  });
}
