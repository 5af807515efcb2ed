/**
 * Per-server model versions on disk: commit, prune, rollback, keep aside, history, and what serves after a crash
 * at every point of a commit — both from the on-disk state each crash point leaves and by SIGKILLing a process
 * in the middle of a real commit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BabyLanguageModel } from '../src/model/baby.js';
import { loadModel, saveModel, type LoadedModel } from '../src/model/store.js';
import { createRegistry, RegistryError, type CommitStep, type ModelRegistry } from '../src/service/registry.js';

const GUILD = '111111111111111111';
let base: LoadedModel;
let work: string;
let root: string;
let registry: ModelRegistry;

beforeAll(async () => {
  base = await loadModel('models/base');
  work = await mkdtemp(join(tmpdir(), 'babble-registry-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
let rootCount = 0;
beforeEach(async () => {
  root = join(work, `root-${rootCount++}`);
  registry = createRegistry({ root, keep: 3 });
});

/** A complete model folder whose meta.json training record carries `tag`. */
async function writeModel(dir: string, tag: string): Promise<void> {
  await saveModel(dir, base.weights, base.vocab, { version: tag, corpus: { sha256: '', chars: 0 }, training: { tag } });
}

/** A trained temporary folder, as a trainer child leaves it. */
async function trained(tag: string, scope = GUILD): Promise<string> {
  const tmp = await registry.tempDir(scope);
  await writeModel(tmp, tag);
  return tmp;
}

/** The tag of the model that serves now, after a "restart" (a fresh registry + init), loaded in full. */
async function servedAfterRestart(scope = GUILD): Promise<string> {
  const fresh = createRegistry({ root, keep: 3 });
  await fresh.init();
  const resolved = await fresh.resolve(scope);
  if (!resolved) return 'base';
  const loaded = await loadModel(resolved.dir); // every hash verified, weights decoded
  return String(loaded.meta.training.tag);
}

/** Marks a temporary folder as left by a process that is gone (a crash): start-up cleanup may remove it. */
async function orphaned(tmp: string): Promise<string> {
  const { pid } = spawnSync(process.execPath, ['-e', '']);
  const owner = { format: 'babble-owner', pid, host: hostname(), start: 'gone' };
  await writeFile(join(tmp, 'owner.json'), JSON.stringify(owner));
  return tmp;
}

async function commitVersions(...tags: string[]): Promise<void> {
  for (const tag of tags) await registry.commit(GUILD, await trained(tag), { tag });
}

async function scopeEntries(scope = GUILD): Promise<string[]> {
  return (await readdir(join(root, scope))).sort();
}

describe('commit', () => {
  it('numbers versions, flips the pointer, returns a working model, and records details', async () => {
    const first = await registry.commit(GUILD, await trained('a'), { who: 'alice' });
    expect(first.version).toBe(1);
    expect(first.model.generate('me ', { length: 10, rng: 1 }).length).toBeGreaterThan(3);
    const second = await registry.commit(GUILD, await trained('b'), { who: 'bob' });
    expect(second.version).toBe(2);
    const resolved = await registry.resolve(GUILD);
    expect(resolved).toMatchObject({ version: 2, via: 'pointer' });
    expect(resolved!.meta.training.tag).toBe('b');
    const history = await registry.history(GUILD);
    expect(history.current).toBe(2);
    expect(history.versions.map((v) => [v.version, v.complete, v.record?.details.who])).toEqual([
      [2, true, 'bob'],
      [1, true, 'alice'],
    ]);
    expect(await scopeEntries()).toEqual(['1', '2', 'current']);
  });

  it('commits the model it is given, loaded from the folder already, instead of loading the folder again', async () => {
    const tmp = await trained('given');
    const loaded = await loadModel(tmp);
    const given = BabyLanguageModel.fromWeights(loaded.weights, loaded.vocab, loaded.meta);
    const committed = await registry.commit(GUILD, tmp, {}, { model: given });
    expect(committed.model).toBe(given);
    expect(committed.version).toBe(1);
    expect(await servedAfterRestart()).toBe('given');
  });

  it('keeps the last K versions', async () => {
    await commitVersions('a', 'b', 'c', 'd', 'e');
    expect(await scopeEntries()).toEqual(['3', '4', '5', 'current']);
    expect(await servedAfterRestart()).toBe('e');
  });

  it('refuses corrupt weights in a new version and the old one keeps serving', async () => {
    await commitVersions('good');
    const tmp = await trained('corrupt');
    const weights = join(tmp, 'weights.bin');
    const bytes = await readFile(weights);
    bytes[100] = bytes[100]! ^ 0xff;
    await writeFile(weights, bytes);
    await expect(registry.commit(GUILD, tmp, {})).rejects.toThrow(RegistryError);
    // The file is named in the cause (for the log); the message, shown to admins, holds no path.
    const refused = await registry.commit(GUILD, tmp, {}).then(
      () => new Error('committed'),
      (err: unknown) => err as Error,
    );
    expect(refused.message).not.toContain(tmp);
    expect(String((refused.cause as Error | undefined)?.message)).toMatch(/weights\.bin/);
    expect((await registry.resolve(GUILD))?.version).toBe(1);
    expect(await servedAfterRestart()).toBe('good');
  });

  it("refuses a folder that is not one of the scope's temporary folders, and a bad scope", async () => {
    const elsewhere = join(work, 'elsewhere');
    await writeModel(elsewhere, 'x');
    await expect(registry.commit(GUILD, elsewhere, {})).rejects.toThrow(/not a temporary folder/);
    await expect(registry.tempDir('../etc')).rejects.toThrow(RegistryError);
    await expect(registry.resolve('12/../34')).rejects.toThrow(RegistryError);
  });
});

describe('resolve after a crash (on-disk state of each crash point)', () => {
  beforeEach(async () => {
    await commitVersions('old');
  });

  it('during training: a half-filled temporary folder is never served and is cleaned at start', async () => {
    const tmp = await orphaned(await registry.tempDir(GUILD));
    await writeFile(join(tmp, 'weights.bin'), Buffer.alloc(1000));
    expect(await servedAfterRestart()).toBe('old');
    expect(existsSync(tmp)).toBe(false);
  });

  it('mid-save: model files without meta.json are never served', async () => {
    const tmp = await orphaned(await trained('new'));
    await rm(join(tmp, 'meta.json'));
    expect(await servedAfterRestart()).toBe('old');
    expect(await scopeEntries()).toEqual(['1', 'current']);
  });

  it('after the save, before the rename: a complete temporary folder is still never served', async () => {
    await trained('new');
    expect(await servedAfterRestart()).toBe('old');
  });

  it('after the rename, before the pointer flip: the pointer still names the old version', async () => {
    await mkdir(join(root, GUILD, '2'));
    await writeModel(join(root, GUILD, '2'), 'new');
    await writeFile(join(root, GUILD, 'current.tmp-deadbeef'), '{"format":"babble-current","ver');
    expect(await servedAfterRestart()).toBe('old');
    expect(await scopeEntries()).toEqual(['1', '2', 'current']);
    // the next commit does not reuse the number
    const next = await registry.commit(GUILD, await trained('newer'), {});
    expect(next.version).toBe(3);
  });

  it('after the flip: the new version serves', async () => {
    await mkdir(join(root, GUILD, '2'));
    await writeModel(join(root, GUILD, '2'), 'new');
    await writeFile(join(root, GUILD, 'current'), JSON.stringify({ format: 'babble-current', version: 2 }));
    expect(await servedAfterRestart()).toBe('new');
  });

  it('a pointer to a missing, incomplete or corrupt folder, or a garbled pointer, falls back to the newest complete version', async () => {
    await commitVersions('second');
    const pointer = join(root, GUILD, 'current');
    await writeFile(pointer, JSON.stringify({ format: 'babble-current', version: 9 }));
    expect(await servedAfterRestart()).toBe('second');
    await writeFile(pointer, 'not json');
    expect(await servedAfterRestart()).toBe('second');
    await writeFile(pointer, JSON.stringify({ format: 'babble-current', version: 1 }));
    await writeFile(join(root, GUILD, '1', 'weights.bin'), Buffer.alloc(10));
    expect(await servedAfterRestart()).toBe('second');
    await rm(join(root, GUILD, '2', 'meta.json'));
    expect(await servedAfterRestart()).toBe('base');
  });

  it('a server with no versions serves the base', async () => {
    expect(await servedAfterRestart('222222222222222222')).toBe('base');
  });
});

describe('SIGKILL in the middle of a real commit', () => {
  const cases: { step: CommitStep; serves: string }[] = [
    { step: 'verified', serves: 'old' },
    { step: 'recorded', serves: 'old' },
    { step: 'renamed', serves: 'old' },
    { step: 'pointer-written', serves: 'old' },
    { step: 'flipped', serves: 'new' },
  ];
  for (const { step, serves } of cases) {
    it(`killed after "${step}": a complete model serves (${serves}) and a restart cleans up`, async () => {
      await commitVersions('old');
      const tmp = await orphaned(await trained('new')); // its owner: the process killed below, gone
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'test/fixtures/commit-runner.ts', root, GUILD, tmp, step],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (c: string) => {
          out += c;
          if (out.includes(`at ${step}`)) resolve();
        });
        child.on('exit', (code) => reject(new Error(`commit-runner exited (${code}) before pausing: ${out}`)));
      });
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      expect(await servedAfterRestart()).toBe(serves);
      const left = await scopeEntries();
      expect(left.filter((n) => n.startsWith('.tmp-') || n.startsWith('current.tmp-'))).toEqual([]);
    });
  }
});

describe('rollback', () => {
  it('goes back one version, to a named version, and to the base, each time loading the model', async () => {
    await commitVersions('a', 'b', 'c');
    const back = await registry.rollback(GUILD);
    expect(back.version).toBe(2);
    expect(back.model?.meta?.training.tag).toBe('b');
    expect(await servedAfterRestart()).toBe('b');
    expect((await registry.rollback(GUILD, 3)).version).toBe(3);
    expect(await servedAfterRestart()).toBe('c');
    const toBase = await registry.rollback(GUILD, 0);
    expect(toBase).toEqual({ version: 0, model: undefined });
    expect(await servedAfterRestart()).toBe('base');
    expect((await registry.history(GUILD)).current).toBe(0);
  });

  it('says why it cannot: nothing to roll back to, an unknown version, the version already serving, a damaged version', async () => {
    await expect(registry.rollback(GUILD)).rejects.toThrow(/nothing to roll back to/);
    await commitVersions('a', 'b');
    await expect(registry.rollback(GUILD, 7)).rejects.toThrow(/no version 7.*1, 2|no version 7.*2, 1/);
    await expect(registry.rollback(GUILD, 2)).rejects.toThrow(/already/);
    await writeFile(join(root, GUILD, '1', 'weights.bin'), Buffer.alloc(10));
    // The message (shown to admins) names no file or path; the cause (logged) says which file.
    const damaged = await registry.rollback(GUILD, 1).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(damaged?.message).toBe('the model files are damaged or incomplete');
    expect(String((damaged?.cause as Error | undefined)?.message)).toMatch(/weights\.bin/);
    expect(await servedAfterRestart()).toBe('b');
  });

  it('from the oldest version goes to the base', async () => {
    await commitVersions('a');
    expect((await registry.rollback(GUILD)).version).toBe(0);
    expect(await servedAfterRestart()).toBe('base');
    const next = await registry.commit(GUILD, await trained('b'), {});
    expect(next.version).toBe(2);
  });
});

describe('currentVersion', () => {
  it('names the version the pointer names without checking its files, else what resolve serves, else the base', async () => {
    expect(await registry.currentVersion(GUILD)).toBe(0);
    expect(await registry.currentVersion('base')).toBe(0);
    await commitVersions('a', 'b');
    expect(await registry.currentVersion(GUILD)).toBe(2);
    // Damaged files are not looked at (resolve would fall back to version 1): only the pointer is read.
    await writeFile(join(root, GUILD, '2', 'weights.bin'), Buffer.alloc(10));
    expect(await registry.currentVersion(GUILD)).toBe(2);
    await writeFile(join(root, GUILD, 'current'), 'not json');
    expect(await registry.currentVersion(GUILD)).toBe(1);
    await registry.rollback(GUILD, 0);
    expect(await registry.currentVersion(GUILD)).toBe(0);
    await expect(registry.currentVersion('not-a-server')).rejects.toThrow(RegistryError);
  });
});

describe('keepAside', () => {
  it('keeps a refused model with its reason, never serves it, and keeps only the last K', async () => {
    await commitVersions('served');
    const kept = await registry.keepAside(GUILD, await trained('refused'), { reasons: ['worse'] });
    expect(kept).toMatch(/rejected-/);
    expect(await servedAfterRestart()).toBe('served');
    const history = await registry.history(GUILD);
    expect(history.rejected).toHaveLength(1);
    expect(history.rejected[0]!.details).toEqual({ reasons: ['worse'] });
    for (let i = 0; i < 4; i++) await registry.keepAside(GUILD, await trained(`r${i}`), { i });
    expect((await registry.history(GUILD)).rejected).toHaveLength(3);
    expect(await servedAfterRestart()).toBe('served');
  });
});

describe('init', () => {
  it('removes temporary folders and pointer files in every scope and nothing else', async () => {
    await commitVersions('a');
    await registry.keepAside(GUILD, await trained('r'), {});
    await orphaned(await registry.tempDir(GUILD));
    await orphaned(await registry.tempDir('base'));
    await writeFile(join(root, GUILD, 'current.tmp-0001'), '{}');
    const { removed } = await registry.init();
    expect(removed).toHaveLength(3);
    expect((await scopeEntries()).map((n) => n.replace(/rejected-.*/, 'rejected-*'))).toEqual([
      '1',
      'current',
      'rejected-*',
    ]);
    expect(await scopeEntries('base')).toEqual([]);
  });
});
