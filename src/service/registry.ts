/**
 * Per-server model versions on disk, swapped atomically.
 *
 *   <root>/<scope>/               scope = a server (guild) id, or "base" for the shared base model
 *     1/ 2/ 3/                    complete model folders (store.ts layout) + version.json (who, when, gate results)
 *     current                     the pointer: {"format":"babble-current","version":N} (0 = serve the base)
 *     .tmp-<random>/              trainer output and commits in progress: never served; owner.json names the
 *                                 process (pid, host, start time); init() removes it only once that process is gone
 *     current.tmp-<random>        a pointer being written (with its writer's pid, host, start time): never read,
 *                                 removed by init() once its writer is gone
 *     current.lock                held while the pointer is compared and swapped (pointer-lock.ts)
 *   <root>/.erased-<scope>-<random>/  a server's folder being erased (removeScope): removed by init()
 *     rejected-<stamp>-<random>/  models that failed the quality gate (rejected.json says why): never served
 *
 * Commit (after the quality gate): load the temporary folder with every hash verified, generate a smoke sample,
 * write version.json (fsynced), rename the folder to the next version number, fsync the scope folder, write the
 * pointer to a temporary file (fsynced), rename it over `current`, fsync the scope folder again, then prune to the
 * last `keep` versions (never the current one). Rollback flips the pointer the same way. Both flip only if the
pointer still holds what the operation read when it started (compare-and-swap under a lock file, across processes:
pointer-lock.ts); a commit given `expectCurrent` also refuses when the serving version is no longer that one (a
rollback during the training), and then nothing is renamed.
 *
 * What serves after a crash at any point (`resolve`): the pointer's version when that folder is complete (every
 * hash verified); when the pointer is missing, malformed or points at a missing/incomplete folder, the newest
 * complete version; when there is none, the base (null). A crash after the rename but before the pointer flip
 * leaves the new version on disk, listed by `history`, but the pointer still names the old one, which keeps
 * serving. Temporary and rejected folders are never candidates.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { currentOwner, ownerAlive, ownerGone, parseOwner, writeOwner } from './folder-owner.js';
import { compareAndSwap, PointerMovedError } from './pointer-lock.js';
import type { BabyLanguageModel } from '../model/baby.js';
import { verifyModelDir, type ModelMeta } from '../model/store.js';
import { keyedQueue, loadChecked, smokeTested } from './version-check.js';
import { BASE_SCOPE, isValidScope, RegistryError } from './scope.js';
import { errorMessage } from '../error-message.js';
import { fsyncDir, isErrno, writeFileDurable } from '../durable-file.js';

export { BASE_SCOPE, isValidScope, RegistryError, PointerMovedError };
export const ERASED_PREFIX = '.erased-';
export const POINTER_FILE = 'current';
export const VERSION_FILE = 'version.json';
export const REJECTED_FILE = 'rejected.json';
export const TMP_PREFIX = '.tmp-';
export const REJECTED_PREFIX = 'rejected-';
export const DEFAULT_KEEP = 3;

const VERSION_DIR = /^[1-9]\d{0,8}$/;

/** What version.json records beside a committed model. Free-form apart from the fixed fields. */
export interface VersionRecord {
  format: 'babble-version';
  version: number;
  scope: string;
  /** ISO date of the commit. */
  committed: string;
  /** Anything the caller wants shown in the history: gate figures, who asked, samples… */
  details: Record<string, unknown>;
}

export interface ResolvedVersion {
  version: number;
  /** Absolute path of the version folder. */
  dir: string;
  meta: ModelMeta;
  /** 'pointer' when the pointer names it, 'fallback' when the pointer was missing or unusable. */
  via: 'pointer' | 'fallback';
}

export interface VersionInfo {
  version: number;
  dir: string;
  /** Every file verified against meta.json. */
  complete: boolean;
  /** Why it is not complete. */
  problem?: string;
  meta?: ModelMeta;
  record?: VersionRecord;
}

export interface RejectedInfo {
  name: string;
  dir: string;
  details?: Record<string, unknown>;
}

export interface History {
  /** The version serving now (resolve's answer); 0 = the base. */
  current: number;
  /** Newest first. */
  versions: VersionInfo[];
  /** Newest first. */
  rejected: RejectedInfo[];
}

/** 'uploaded': the object store's files are in and verified (model-store/object-registry.ts). */
export type CommitStep = 'verified' | 'recorded' | 'uploaded' | 'renamed' | 'pointer-written' | 'flipped';

export interface CommitHooks {
  /** Awaited after each step (fault-injection tests pause or crash here). */
  afterStep?: (step: CommitStep, info: { version?: number }) => void | Promise<void>;
}

export interface CommitOptions extends CommitHooks {
  /**
   * The folder's model, already loaded from it with every hash checked (e.g. by the retrain manager for its
   * quality gate): committed without loading it again. It is still smoke-tested.
   */
  model?: BabyLanguageModel;
  /**
   * The version serving when the training started (0 = the base): if another has been served since (a rollback),
   * the commit is refused with a PointerMovedError and the folder is left where it was.
   */
  expectCurrent?: number;
}

export interface CommitResult {
  version: number;
  dir: string;
  /** The loaded, verified model that passed the smoke test. */
  model: BabyLanguageModel;
}

export interface RollbackResult {
  /** 0 = the base. */
  version: number;
  /** The loaded model of that version; undefined for the base. */
  model: BabyLanguageModel | undefined;
}

export interface ModelRegistry {
  readonly root: string;
  readonly keep: number;
  /** Removes temporary folders and pointer files left by a crash, in every scope. Call once at start-up. */
  init(): Promise<{ removed: string[] }>;
  /** A new, empty temporary folder in the scope for a trainer to write into. */
  tempDir(scope: string): Promise<string>;
  /** Removes a temporary folder (a failed or cancelled run). */
  discard(tmpDir: string): Promise<void>;
  /** The version to serve, or null for the base. */
  resolve(scope: string): Promise<ResolvedVersion | null>;
  /**
   * The version the pointer names (0 = the base), cheaply: no hash is checked (model-reconcile.ts compares it with
   * what a process serves). Without a usable pointer, resolve()'s answer.
   */
  currentVersion(scope: string): Promise<number>;
  /**
   * Verifies, loads (unless given the model loaded from it) and smoke-tests a trained folder, then makes it the next
   * version and the current one.
   */
  commit(
    scope: string,
    tmpDir: string,
    details: Record<string, unknown>,
    options?: CommitOptions,
  ): Promise<CommitResult>;
  /** Serves `version` (0 = the base), or the newest complete version older than the current one. */
  rollback(scope: string, version?: number): Promise<RollbackResult>;
  /** Moves a trained folder aside (never served) with the reason; returns its path. */
  keepAside(scope: string, tmpDir: string, details: Record<string, unknown>): Promise<string>;
  history(scope: string): Promise<History>;
  /** Deletes everything of a server (every version, rejected and temporary folders, the pointer); idempotent. */
  removeScope(scope: string): Promise<boolean>;
  /** The server scopes that have a folder (the base excluded). */
  scopes(): Promise<string[]>;
}

export interface RegistryOptions {
  root: string;
  /** Versions kept per scope (the current one is always kept too). Default 3. */
  keep?: number;
}

function checkScope(scope: string): void {
  if (!isValidScope(scope)) throw new RegistryError(`not a server id: ${JSON.stringify(scope)}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}

/** A pointer being written is stale when the process writing it is gone (or it names none: damaged). */
async function pointerTmpStale(path: string): Promise<boolean> {
  const doc = await readJson(path);
  const fields = isRecord(doc) && isRecord(doc.owner) ? doc.owner : undefined;
  const owner = fields ? parseOwner(JSON.stringify({ ...fields, format: 'babble-owner' })) : undefined;
  return !owner || !ownerAlive(owner);
}

function ownerFields(): { pid: number; host: string; start: string | null } {
  const { pid, host, start } = currentOwner();
  return { pid, host, start };
}

export function stamp(): string {
  return `${new Date().toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`;
}

export function createRegistry(options: RegistryOptions): ModelRegistry {
  const root = resolvePath(options.root);
  const keep = Math.max(1, Math.floor(options.keep ?? DEFAULT_KEEP));
  const locked = keyedQueue();

  const scopeDir = (scope: string) => join(root, scope);
  const versionDir = (scope: string, version: number) => join(scopeDir(scope), String(version));

  async function ensureScopeDir(scope: string): Promise<string> {
    const dir = scopeDir(scope);
    try {
      await stat(dir);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      await mkdir(dir, { recursive: true });
      await fsyncDir(dirname(dir));
    }
    return dir;
  }

  function checkTmp(scope: string, tmpDir: string): string {
    const abs = resolvePath(tmpDir);
    if (dirname(abs) !== scopeDir(scope) || !basename(abs).startsWith(TMP_PREFIX)) {
      throw new RegistryError(`${tmpDir} is not a temporary folder of ${scope}`);
    }
    return abs;
  }

  async function readPointer(scope: string): Promise<number | undefined> {
    const doc = await readJson(join(scopeDir(scope), POINTER_FILE));
    if (!isRecord(doc) || doc.format !== 'babble-current') return undefined;
    const v = doc.version;
    return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
  }

  /** Writes the pointer if it still holds `expected` (what the operation read when it started). */
  async function writePointer(
    scope: string,
    expected: number | undefined,
    version: number,
    hooks?: CommitHooks,
  ): Promise<void> {
    const dir = scopeDir(scope);
    const tmp = join(dir, `${POINTER_FILE}${TMP_PREFIX}${randomBytes(4).toString('hex')}`);
    const doc = { format: 'babble-current', version, updated: new Date().toISOString(), owner: ownerFields() };
    await writeFileDurable(tmp, `${JSON.stringify(doc)}\n`);
    await hooks?.afterStep?.('pointer-written', { version });
    try {
      await compareAndSwap(
        dir,
        expected,
        () => readPointer(scope),
        async () => {
          await rename(tmp, join(dir, POINTER_FILE));
          await fsyncDir(dir);
        },
      );
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async function versionNumbers(scope: string): Promise<number[]> {
    return (await listDir(scopeDir(scope)))
      .filter((n) => VERSION_DIR.test(n))
      .map(Number)
      .sort((a, b) => b - a);
  }

  async function isComplete(dir: string): Promise<{ meta: ModelMeta } | { problem: string }> {
    try {
      return { meta: (await verifyModelDir(dir)).meta };
    } catch (err) {
      return { problem: errorMessage(err) };
    }
  }

  async function resolveUnlocked(scope: string): Promise<ResolvedVersion | null> {
    checkScope(scope);
    const pointer = await readPointer(scope);
    if (pointer === 0) return null;
    if (pointer !== undefined) {
      const dir = versionDir(scope, pointer);
      const c = await isComplete(dir);
      if ('meta' in c) return { version: pointer, dir, meta: c.meta, via: 'pointer' };
    }
    for (const v of await versionNumbers(scope)) {
      const dir = versionDir(scope, v);
      const c = await isComplete(dir);
      if ('meta' in c) return { version: v, dir, meta: c.meta, via: 'fallback' };
    }
    return null;
  }

  async function prune(scope: string, current: number): Promise<void> {
    const versions = await versionNumbers(scope);
    const kept = new Set(versions.slice(0, keep));
    kept.add(current);
    for (const v of versions) if (!kept.has(v)) await rm(versionDir(scope, v), { recursive: true, force: true });
    const rejected = (await listDir(scopeDir(scope)))
      .filter((n) => n.startsWith(REJECTED_PREFIX))
      .sort()
      .reverse();
    for (const name of rejected.slice(keep)) await rm(join(scopeDir(scope), name), { recursive: true, force: true });
    await fsyncDir(scopeDir(scope));
  }

  return {
    root,
    keep,

    async init() {
      const removed: string[] = [];
      for (const scope of await listDir(root)) {
        if (scope.startsWith(ERASED_PREFIX)) {
          await rm(join(root, scope), { recursive: true, force: true });
          removed.push(join(root, scope));
          continue;
        }
        if (!isValidScope(scope)) continue;
        const dir = scopeDir(scope);
        let any = false;
        for (const name of await listDir(dir)) {
          // Only what a process that is gone left behind: another bot on this folder may be training right now.
          const stale = name.startsWith(TMP_PREFIX)
            ? await ownerGone(join(dir, name))
            : name.startsWith(`${POINTER_FILE}${TMP_PREFIX}`) && (await pointerTmpStale(join(dir, name)));
          if (stale) {
            await rm(join(dir, name), { recursive: true, force: true });
            removed.push(join(dir, name));
            any = true;
          }
        }
        if (any) await fsyncDir(dir);
      }
      return { removed };
    },

    async tempDir(scope) {
      checkScope(scope);
      const dir = join(await ensureScopeDir(scope), `${TMP_PREFIX}${stamp()}`);
      await mkdir(dir);
      await writeOwner(dir);
      return dir;
    },

    async discard(tmpDir) {
      const abs = resolvePath(tmpDir);
      if (dirname(dirname(abs)) !== root || !basename(abs).startsWith(TMP_PREFIX))
        throw new RegistryError(`${tmpDir} is not a temporary folder`);
      await rm(abs, { recursive: true, force: true });
    },

    async resolve(scope) {
      return resolveUnlocked(scope);
    },

    async currentVersion(scope) {
      checkScope(scope);
      return (await readPointer(scope)) ?? (await resolveUnlocked(scope))?.version ?? 0;
    },

    async commit(scope, tmpDir, details, hooks) {
      checkScope(scope);
      const tmp = checkTmp(scope, tmpDir);
      return locked(scope, async () => {
        const model = hooks?.model ? smokeTested(hooks.model) : await loadChecked(tmp);
        await hooks?.afterStep?.('verified', {});
        const previous = await readPointer(scope);
        if (hooks?.expectCurrent !== undefined) {
          const serving = (await resolveUnlocked(scope))?.version ?? 0;
          if (serving !== hooks.expectCurrent) throw new PointerMovedError(hooks.expectCurrent, serving);
        }
        const version = Math.max(0, previous ?? 0, ...(await versionNumbers(scope))) + 1;
        const record: VersionRecord = {
          format: 'babble-version',
          version,
          scope,
          committed: new Date().toISOString(),
          details,
        };
        await writeFileDurable(join(tmp, VERSION_FILE), `${JSON.stringify(record, null, 2)}\n`);
        await fsyncDir(tmp);
        await hooks?.afterStep?.('recorded', { version });
        const dir = versionDir(scope, version);
        await rename(tmp, dir);
        await fsyncDir(scopeDir(scope));
        await hooks?.afterStep?.('renamed', { version });
        await writePointer(scope, previous, version, hooks);
        await hooks?.afterStep?.('flipped', { version });
        await prune(scope, version);
        return { version, dir, model };
      });
    },

    async rollback(scope, version) {
      checkScope(scope);
      return locked(scope, async () => {
        const pointer = await readPointer(scope);
        const current = (await resolveUnlocked(scope))?.version ?? 0;
        let target = version;
        if (target === undefined) {
          if (current === 0)
            throw new RegistryError('this server is already on the base model: there is nothing to roll back to');
          target = 0;
          for (const v of await versionNumbers(scope)) {
            if (v < current && 'meta' in (await isComplete(versionDir(scope, v)))) {
              target = v;
              break;
            }
          }
        }
        if (!Number.isInteger(target) || target < 0) throw new RegistryError(`there is no version ${target}`);
        if (target === current)
          throw new RegistryError(`version ${target === 0 ? 'base' : target} is already the one serving`);
        let model: BabyLanguageModel | undefined;
        if (target !== 0) {
          const dir = versionDir(scope, target);
          try {
            await stat(dir);
          } catch {
            const have = await versionNumbers(scope);
            throw new RegistryError(
              `there is no version ${target} (kept: ${have.length ? have.join(', ') : 'none'}, or 0 for the base)`,
            );
          }
          model = await loadChecked(dir);
        }
        await ensureScopeDir(scope);
        await writePointer(scope, pointer, target);
        return { version: target, model };
      });
    },

    async keepAside(scope, tmpDir, details) {
      checkScope(scope);
      const tmp = checkTmp(scope, tmpDir);
      return locked(scope, async () => {
        await writeFileDurable(
          join(tmp, REJECTED_FILE),
          `${JSON.stringify({ format: 'babble-rejected', at: new Date().toISOString(), details }, null, 2)}\n`,
        );
        await fsyncDir(tmp);
        const dir = join(scopeDir(scope), `${REJECTED_PREFIX}${stamp()}`);
        await rename(tmp, dir);
        await fsyncDir(scopeDir(scope));
        const current = (await resolveUnlocked(scope))?.version ?? 0;
        await prune(scope, current);
        return dir;
      });
    },

    async history(scope) {
      checkScope(scope);
      const current = (await resolveUnlocked(scope))?.version ?? 0;
      const versions: VersionInfo[] = [];
      for (const v of await versionNumbers(scope)) {
        const dir = versionDir(scope, v);
        const c = await isComplete(dir);
        const doc = await readJson(join(dir, VERSION_FILE));
        const record =
          isRecord(doc) && doc.format === 'babble-version' && isRecord(doc.details)
            ? (doc as unknown as VersionRecord)
            : undefined;
        versions.push({
          version: v,
          dir,
          complete: 'meta' in c,
          ...('meta' in c ? { meta: c.meta } : { problem: c.problem }),
          ...(record ? { record } : {}),
        });
      }
      const rejected: RejectedInfo[] = [];
      for (const name of (await listDir(scopeDir(scope)))
        .filter((n) => n.startsWith(REJECTED_PREFIX))
        .sort()
        .reverse()) {
        const dir = join(scopeDir(scope), name);
        const doc = await readJson(join(dir, REJECTED_FILE));
        rejected.push({ name, dir, ...(isRecord(doc) && isRecord(doc.details) ? { details: doc.details } : {}) });
      }
      return { current, versions, rejected };
    },

    async removeScope(scope) {
      checkScope(scope);
      if (scope === BASE_SCOPE) throw new RegistryError('the base scope is not a server');
      return locked(scope, async () => {
        // One rename makes the whole folder disappear at once (never half a folder that could still serve).
        const gone = join(root, `${ERASED_PREFIX}${scope}-${randomBytes(4).toString('hex')}`);
        try {
          await rename(scopeDir(scope), gone);
        } catch (err) {
          if (isErrno(err, 'ENOENT')) return false;
          throw err;
        }
        await fsyncDir(root);
        await rm(gone, { recursive: true, force: true });
        return true;
      });
    },

    async scopes() {
      return (await listDir(root)).filter((n) => isValidScope(n) && n !== BASE_SCOPE);
    },
  };
}
