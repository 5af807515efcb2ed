/**
 * .env.example documents every environment variable the code under src/ reads, and nothing it doesn't: the names
 * are collected from the sources (process.env.X, env.X, value(env, 'X') and numberValue(env, 'X') of config.ts,
 * env['X']) and compared with the settings in .env.example (`X=` or `# X=`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Set by others, never by the operator: discord.js marks its shard processes with it. */
const NOT_SETTINGS = new Set(['SHARDING_MANAGER']);

const READS = [
  /\bprocess\.env\.([A-Z][A-Z0-9_]*)/g,
  /\benv\.([A-Z][A-Z0-9_]*)/g,
  /\b(?:value|numberValue)\(\s*env,\s*'([A-Z][A-Z0-9_]*)'/g,
  /\benv\[['"]([A-Z][A-Z0-9_]*)['"]\]/g,
  /\benv,\s*'([A-Z][A-Z0-9_]*)'/g,
];

/** Environment variable names a source text reads. */
function namesRead(text: string): string[] {
  return [...new Set(READS.flatMap((re) => [...text.matchAll(re)].map((m) => m[1]!)))];
}

/** Names of the settings in an .env.example text, set or commented out. */
function namesDocumented(text: string): string[] {
  return [...text.matchAll(/^#?[ \t]*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!);
}

function sourceTexts(): string[] {
  const dir = path.join(ROOT, 'src');
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => readFileSync(path.join(dir, f), 'utf8'));
}

describe('.env.example', () => {
  it('finds the names in every form the code reads them, and the documented ones set or commented out', () => {
    const code =
      "process.env.A_B; const x = env.SHARDS; value(env, 'TOKEN_X'); numberValue(env, 'N'); env['Q']; env.lower;";
    expect(namesRead(code).sort()).toEqual(['A_B', 'N', 'Q', 'SHARDS', 'TOKEN_X']);
    expect(namesDocumented('# A comment\nDISCORD_TOKEN=\n# LOG_LEVEL=info\n#   not: X=1\n')).toEqual([
      'DISCORD_TOKEN',
      'LOG_LEVEL',
    ]);
  });

  it('documents every variable the code under src/ reads, and only those', () => {
    const read = new Set(
      sourceTexts()
        .flatMap(namesRead)
        .filter((n) => !NOT_SETTINGS.has(n)),
    );
    const documented = new Set(namesDocumented(readFileSync(path.join(ROOT, '.env.example'), 'utf8')));
    expect(read.size).toBeGreaterThan(20);
    expect([...read].filter((n) => !documented.has(n)).sort(), 'read by src/ but missing from .env.example').toEqual(
      [],
    );
    expect([...documented].filter((n) => !read.has(n)).sort(), 'in .env.example but read nowhere under src/').toEqual(
      [],
    );
  });
});
