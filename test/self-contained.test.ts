/**
 * The repository is the whole product: no tracked file (README.md aside, which may tell where things came from)
 * refers to the folder beside the checkout that our machines happen to have, and the third-party data the tests
 * need is in the repository with its licence and origin.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultSpecPath, repoRoot } from './fake-discord/spec-validator.js';

const ROOT = repoRoot();
/** Built from parts so that this file does not contain what it looks for. */
const NEEDLE = ['..', 'shared'].join('/');
const NOT_OURS = new Set(['node_modules', 'dist', 'var', '.git', 'coverage']);

/** Tracked files (git ls-files); outside a git checkout, every file but build output and dependencies. */
function trackedFiles(): string[] {
  try {
    return execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\0')
      .filter((f) => f !== '');
  } catch {
    const out: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
        if (NOT_OURS.has(entry.name)) continue;
        const rel = dir === '' ? entry.name : `${dir}/${entry.name}`;
        if (entry.isDirectory()) walk(rel);
        else if (entry.isFile()) out.push(rel);
      }
    };
    walk('');
    return out;
  }
}

/** Tracked files whose text mentions `needle`, README.md excepted. */
function filesReferring(files: readonly string[], needle: string, read: (file: string) => string): string[] {
  return files.filter((f) => f !== 'README.md' && read(f).includes(needle));
}

describe('a clone needs nothing beside it', () => {
  it('finds a reference to the folder beside the checkout, and only where it is', () => {
    const texts: Record<string, string> = {
      'README.md': `see ${NEEDLE}/x`,
      'a.ts': `read('${NEEDLE}/bench/x.py')`,
      'b.ts': 'fine',
    };
    expect(filesReferring(Object.keys(texts), NEEDLE, (f) => texts[f]!)).toEqual(['a.ts']);
  });

  it(`has no tracked file but README.md that refers to ${NEEDLE}`, () => {
    const files = trackedFiles();
    expect(files).toContain('package.json');
    expect(files.length).toBeGreaterThan(50);
    expect(filesReferring(files, NEEDLE, (f) => readFileSync(path.join(ROOT, f), 'latin1'))).toEqual([]);
  });

  it("keeps Discord's OpenAPI description in the repository, with its licence and the hash its README states", () => {
    const spec = defaultSpecPath();
    expect(path.relative(ROOT, spec)).toBe(path.join('test', 'fixtures', 'discord-api-spec', 'openapi.json'));
    const dir = path.dirname(spec);
    const readme = readFileSync(path.join(dir, 'README.md'), 'utf8');
    expect(readme).toMatch(/discord\/discord-api-spec/);
    expect(readme).toMatch(/\b[0-9a-f]{40}\b/); // the upstream commit
    expect(readFileSync(path.join(dir, 'LICENSE'), 'utf8')).toMatch(/MIT License/);
    const sha = createHash('sha256').update(readFileSync(spec)).digest('hex');
    expect(readme).toContain(sha);
  });
});
