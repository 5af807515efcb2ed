/**
 * Races on one MODELS_DIR (issue 12 item 9): start-up cleanup removes only temporary folders whose owner process
 * is gone (a real child process as the owner), and the `current` pointer is flipped only by compare-and-swap, so a
 * rollback racing a commit — two registries on one folder, as two bot processes — is never silently overridden.
 * Also removeScope, which erases a server's whole folder.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadModel, saveModel, type LoadedModel } from '../src/model/store.js';
import { OWNER_FILE, processStart } from '../src/service/folder-owner.js';
import { createRegistry, PointerMovedError, type ModelRegistry } from '../src/service/registry.js';

const GUILD = '111111111111111111';
let base: LoadedModel;
let work: string;
let root: string;
let a: ModelRegistry;
let b: ModelRegistry;

beforeAll(async () => {
  base = await loadModel('models/base');
  work = await mkdtemp(join(tmpdir(), 'babble-races-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
let n = 0;
beforeEach(() => {
  root = join(work, `root-${n++}`);
  a = createRegistry({ root, keep: 5 });
  b = createRegistry({ root, keep: 5 });
});

async function trained(registry: ModelRegistry, tag: string): Promise<string> {
  const tmp = await registry.tempDir(GUILD);
  await saveModel(tmp, base.weights, base.vocab, { version: tag, corpus: { sha256: '', chars: 0 }, training: { tag } });
  return tmp;
}

async function servedTag(): Promise<string> {
  const resolved = await createRegistry({ root }).resolve(GUILD);
  return resolved ? String((await loadModel(resolved.dir)).meta.training.tag) : 'base';
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('start-up cleanup of temporary folders', () => {
  it('keeps the temporary folder of a live training of another process, removes it once it is gone', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const pid = child.pid!;
      const tmp = join(root, GUILD, '.tmp-other-process');
      await mkdir(tmp, { recursive: true });
      const owner = { format: 'babble-owner', pid, host: hostname(), start: processStart(pid) };
      await writeFile(join(tmp, OWNER_FILE), JSON.stringify(owner));
      expect((await b.init()).removed).toEqual([]);
      expect(existsSync(tmp)).toBe(true);
      child.kill('SIGKILL');
      await exited;
      expect((await b.init()).removed).toEqual([tmp]);
      expect(existsSync(tmp)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it("keeps this process's own live temporary folder (another registry on the same folder starting)", async () => {
    const tmp = await trained(a, 'live');
    expect((await b.init()).removed).toEqual([]);
    expect(existsSync(tmp)).toBe(true);
    await a.commit(GUILD, tmp, {});
    expect(await servedTag()).toBe('live');
  });

  it("removes a folder whose pid was reused (start time differs), and keeps other hosts'", async () => {
    const reused = join(root, GUILD, '.tmp-reused');
    const remote = join(root, GUILD, '.tmp-remote');
    await mkdir(reused, { recursive: true });
    await mkdir(remote, { recursive: true });
    const owner = (pid: number, host: string, start: string | null) =>
      JSON.stringify({ format: 'babble-owner', pid, host, start });
    await writeFile(join(reused, OWNER_FILE), owner(process.pid, hostname(), 'earlier'));
    await writeFile(join(remote, OWNER_FILE), owner(1, `not-${hostname()}`, null));
    const { removed } = await b.init();
    expect(removed).toEqual(process.platform === 'linux' ? [reused] : []);
    expect(existsSync(remote)).toBe(true);
  });

  it('keeps a fresh folder without an owner record (its owner may be writing it now)', async () => {
    const fresh = join(root, GUILD, '.tmp-fresh');
    await mkdir(fresh, { recursive: true });
    expect((await b.init()).removed).toEqual([]);
  });
});

describe('compare-and-swap of the current pointer', () => {
  it('a rollback by another process during a commit wins: the commit is refused, not flipped over it', async () => {
    await a.commit(GUILD, await trained(a, 'one'), {});
    await a.commit(GUILD, await trained(a, 'two'), {});
    const paused = deferred();
    const resume = deferred();
    const commit = a.commit(
      GUILD,
      await trained(a, 'three'),
      {},
      {
        afterStep: async (step) => {
          if (step !== 'renamed') return;
          paused.resolve();
          await resume.promise;
        },
      },
    );
    commit.catch(() => undefined);
    await paused.promise;
    expect((await b.rollback(GUILD, 1)).version).toBe(1);
    resume.resolve();
    await expect(commit).rejects.toBeInstanceOf(PointerMovedError);
    expect(await servedTag()).toBe('one');
    expect((await b.history(GUILD)).current).toBe(1);
  });

  it('a commit after a training during which the server was rolled back is refused and renames nothing', async () => {
    await a.commit(GUILD, await trained(a, 'one'), {});
    await a.commit(GUILD, await trained(a, 'two'), {});
    const startedOn = (await a.resolve(GUILD))!.version; // the training starts on version 2
    const tmp = await trained(a, 'three');
    await b.rollback(GUILD, 1);
    await expect(a.commit(GUILD, tmp, {}, { expectCurrent: startedOn })).rejects.toBeInstanceOf(PointerMovedError);
    expect(existsSync(tmp)).toBe(true);
    expect(await servedTag()).toBe('one');
    expect((await a.history(GUILD)).versions.map((v) => v.version)).toEqual([2, 1]);
  });

  it('a rollback racing another rollback: the second to flip is refused when the first moved it', async () => {
    await a.commit(GUILD, await trained(a, 'one'), {});
    await a.commit(GUILD, await trained(a, 'two'), {});
    await a.commit(GUILD, await trained(a, 'three'), {});
    const results = await Promise.allSettled([a.rollback(GUILD, 1), b.rollback(GUILD, 2)]);
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won.length).toBeGreaterThanOrEqual(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(PointerMovedError);
    const served = await servedTag();
    expect(['one', 'two']).toContain(served);
  });
});

describe('removeScope', () => {
  it('erases every version, rejected and temporary folder and the pointer; nothing serves afterwards', async () => {
    await a.commit(GUILD, await trained(a, 'one'), {});
    await a.keepAside(GUILD, await trained(a, 'bad'), { why: 'test' });
    await trained(a, 'in-progress');
    expect(await a.scopes()).toEqual([GUILD]);
    expect(await a.removeScope(GUILD)).toBe(true);
    expect(existsSync(join(root, GUILD))).toBe(false);
    expect(await readdir(root)).toEqual([]);
    expect(await b.resolve(GUILD)).toBeNull();
    expect(await a.removeScope(GUILD)).toBe(false);
  });

  it('init removes a folder whose erasure was interrupted', async () => {
    await mkdir(join(root, `.erased-${GUILD}-dead`, '1'), { recursive: true });
    await b.init();
    expect(await readdir(root)).toEqual([]);
  });
});
