/**
 * Model versions in an object store (S3 and compatible), for bots and trainers on several hosts. The same
 * `ModelRegistry` as the single-host folder (service/registry.ts):
 *
 *   <prefix>/<scope>/<version>/{model.json, weights.bin, vocab.json, version.json, meta.json}
 *                                   an immutable version; meta.json (every other file's sha256) is uploaded last
 *   <prefix>/<scope>/rejected-<stamp>/…   a model the quality gate refused (rejected.json says why): never served
 *   Redis babble:model-current:<scope>    the version serving (redis-pointers.ts), moved only by compare-and-set
 *
 * Commit: the trainer's temporary folder (in this host's cache) is loaded with every hash checked and
 * smoke-tested, version.json is written, every file is uploaded and read back (its sha256 compared with the local
 * file's: the only check that does not trust the server's own checksums, and the files are small), and only then
 * is the pointer moved from what it held when the commit started to the new version. A commit that dies on the
 * way leaves at most an unpointed version (pruned later); nothing points at half a version.
 *
 * Each host keeps verified copies in its cache folder (`<cacheDir>/<scope>/<version>/`): resolve serves the
 * pointer's version from there, downloading it first (into a temporary folder, every hash checked, then renamed
 * into place) when it is not there yet. A missing or damaged object is refused with the file named, and the model
 * cache keeps serving what it had. With the store unreachable a cached version still serves, and commit, rollback
 * and new trainings are refused ("the model store can't be reached"); with Redis unreachable, resolve serves the
 * version the pointer named when this host last read it, else the newest verified one in its cache (logged).
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import type { Logger } from '../log.js';
import type { BabyLanguageModel } from '../model/baby.js';
import { META_FILE, verifyModelDir, type ModelMeta } from '../model/store.js';
import { isErrno, writeFileDurable } from '../durable-file.js';
import { errorMessage } from '../error-message.js';
import { OWNER_FILE, ownerGone, writeOwner } from '../service/folder-owner.js';
import {
  BASE_SCOPE,
  isValidScope,
  PointerMovedError,
  REJECTED_FILE,
  REJECTED_PREFIX,
  RegistryError,
  stamp,
  TMP_PREFIX,
  VERSION_FILE,
  type CommitOptions,
  type History,
  type ModelRegistry,
  type RejectedInfo,
  type ResolvedVersion,
  type VersionInfo,
  type VersionRecord,
} from '../service/registry.js';
import { keyedQueue, loadChecked, smokeTested } from '../service/version-check.js';
import { ObjectMissingError, StoreUnavailableError, type ObjectStore } from './object-store.js';
import type { PointerStore } from './redis-pointers.js';

export interface ObjectRegistryOptions {
  objects: ObjectStore;
  /** Key prefix inside the bucket ("" for none). */
  prefix: string;
  pointers: PointerStore;
  /** This host's folder of verified copies and temporary folders (MODEL_CACHE_DIR). */
  cacheDir: string;
  /** Versions kept per scope (the current one is always kept too). Default 3. */
  keep?: number;
  log?: Pick<Logger, 'info' | 'warn'>;
}

const VERSION_DIR = /^[1-9]\d{0,8}$/;
const DOWNLOAD_PREFIX = `${TMP_PREFIX}download-`;
/** Shown to admins when the store or Redis fails: what happened and what to do. */
export const STORE_UNREACHABLE =
  "the model store can't be reached right now, so nothing was changed; the bot keeps serving the models it has — try again later";

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Store and Redis failures become the fixed text; a missing object names itself; anything else (this host's disk)
 * says so. The cause keeps the details for the log.
 */
function storeFailure(err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  if (err instanceof ObjectMissingError) return new RegistryError(err.message, { cause: err });
  if (err instanceof StoreUnavailableError) return new RegistryError(STORE_UNREACHABLE, { cause: err });
  return new RegistryError("the model files could not be written on this host: tell the bot's owner", { cause: err });
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export function createObjectRegistry(options: ObjectRegistryOptions): ModelRegistry {
  const { objects, pointers, log } = options;
  const root = resolvePath(options.cacheDir);
  const keep = Math.max(1, Math.floor(options.keep ?? 3));
  const base = options.prefix === '' ? '' : `${options.prefix}/`;
  const locked = keyedQueue();
  /** The pointer of each scope as this host last read it (served from the cache while Redis is down). */
  const seen = new Map<string, number>();

  const scopeKey = (scope: string) => `${base}${scope}/`;
  const versionKey = (scope: string, version: number) => `${scopeKey(scope)}${version}/`;
  const scopeDir = (scope: string) => join(root, scope);
  const versionDir = (scope: string, version: number) => join(scopeDir(scope), String(version));

  function checkScope(scope: string): void {
    if (!isValidScope(scope)) throw new RegistryError(`not a server id: ${JSON.stringify(scope)}`);
  }

  function checkTmp(scope: string, tmpDir: string): string {
    const abs = resolvePath(tmpDir);
    if (dirname(abs) !== scopeDir(scope) || !basename(abs).startsWith(TMP_PREFIX))
      throw new RegistryError(`${tmpDir} is not a temporary folder of ${scope}`);
    return abs;
  }

  /** Version numbers in the store, newest first (complete or not). */
  async function storedVersions(scope: string): Promise<number[]> {
    return (await objects.folders(scopeKey(scope)))
      .filter((n) => VERSION_DIR.test(n))
      .map(Number)
      .sort((a, b) => b - a);
  }

  /** The files of a local model folder, meta.json last (its presence marks a complete upload). */
  async function folderFiles(dir: string): Promise<string[]> {
    const names = (await readdir(dir)).filter((n) => n !== OWNER_FILE && n !== META_FILE).sort();
    return (await exists(join(dir, META_FILE))) ? [...names, META_FILE] : names;
  }

  /** Uploads a folder's files under `key`, then reads each back and compares its sha256 with the local file's. */
  async function upload(dir: string, key: string): Promise<void> {
    const files = await folderFiles(dir);
    const hashes = new Map<string, string>();
    for (const name of files) {
      const bytes = await readFile(join(dir, name));
      hashes.set(name, sha256(bytes));
      await objects.put(key + name, bytes);
    }
    for (const name of files) {
      if (sha256(await objects.get(key + name)) !== hashes.get(name))
        throw new RegistryError(`the model store returned a different ${name} than was uploaded: nothing was swapped`);
    }
  }

  /** The cached copy of a version, verified; a damaged copy is removed (and undefined returned). */
  async function cachedMeta(scope: string, version: number): Promise<ModelMeta | undefined> {
    const dir = versionDir(scope, version);
    if (!(await exists(dir))) return undefined;
    try {
      return (await verifyModelDir(dir)).meta;
    } catch (err) {
      log?.warn(
        { scope, version, reason: errorMessage(err) },
        'model store: a cached copy was damaged; fetching it again',
      );
      await rm(dir, { recursive: true, force: true });
      return undefined;
    }
  }

  /** Downloads a version into the cache, every hash checked; a RegistryError names a missing or damaged file. */
  async function download(scope: string, version: number): Promise<ModelMeta> {
    const key = versionKey(scope, version);
    const names = (await objects.list(key)).map((k) => k.slice(key.length)).filter((n) => n !== '' && !n.includes('/'));
    if (!names.includes(META_FILE))
      throw new RegistryError(`version ${version} is incomplete in the model store (${META_FILE} is missing)`);
    await mkdir(scopeDir(scope), { recursive: true });
    const tmp = join(scopeDir(scope), `${DOWNLOAD_PREFIX}${stamp()}`);
    await mkdir(tmp);
    try {
      await writeOwner(tmp);
      for (const name of names) await writeFile(join(tmp, name), await objects.get(key + name));
      let meta: ModelMeta;
      try {
        meta = (await verifyModelDir(tmp)).meta;
      } catch (err) {
        throw new RegistryError(`version ${version} in the model store is damaged: ${errorMessage(err)}`, {
          cause: err,
        });
      }
      await rm(join(tmp, OWNER_FILE), { force: true });
      try {
        await rename(tmp, versionDir(scope, version));
      } catch (err) {
        // Another process of this host (a shard) put the same immutable version in place first: use its copy.
        const theirs =
          isErrno(err, 'ENOTEMPTY') || isErrno(err, 'EEXIST') ? await cachedMeta(scope, version) : undefined;
        if (!theirs) throw err;
      }
      return meta;
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  async function ensureCached(scope: string, version: number): Promise<ModelMeta> {
    try {
      return (await cachedMeta(scope, version)) ?? (await download(scope, version));
    } catch (err) {
      throw storeFailure(err);
    }
  }

  /**
   * Redis is down: the version the pointer named when this host last read it, if cached; else the newest verified
   * copy in this host's cache; else the base.
   */
  async function lastKnown(scope: string, err: unknown): Promise<ResolvedVersion | null> {
    log?.warn({ scope, err }, "model store: the pointers in Redis can't be read; serving the last version known here");
    const last = seen.get(scope);
    if (last === 0) return null;
    const versions = (await listDir(scopeDir(scope)))
      .filter((n) => VERSION_DIR.test(n))
      .map(Number)
      .sort((a, b) => (a === last ? -1 : b === last ? 1 : b - a));
    for (const version of versions) {
      const meta = await cachedMeta(scope, version);
      if (meta) return { version, dir: versionDir(scope, version), meta, via: 'fallback' };
    }
    return null;
  }

  /** Deletes this host's cached versions of a scope (never a temporary folder: a training may be writing there). */
  async function dropCachedVersions(scope: string): Promise<void> {
    for (const name of await listDir(scopeDir(scope)))
      if (VERSION_DIR.test(name)) await rm(join(scopeDir(scope), name), { recursive: true, force: true });
  }

  async function readPointer(scope: string): Promise<number | undefined> {
    try {
      return await pointers.get(scope);
    } catch (err) {
      throw storeFailure(err);
    }
  }

  async function movePointer(scope: string, expected: number | undefined, next: number): Promise<void> {
    let moved: boolean;
    try {
      moved = await pointers.compareAndSet(scope, expected, next);
    } catch (err) {
      throw storeFailure(err);
    }
    if (!moved) throw new PointerMovedError(expected, await pointers.get(scope).catch(() => undefined));
  }

  /** Deletes every object under `key` (a version or a rejected model). */
  async function deleteFolder(key: string): Promise<void> {
    await objects.delete(await objects.list(key));
  }

  /** Keeps the newest `keep` versions and the current one, in the store and in this host's cache. */
  async function prune(scope: string, current: number): Promise<void> {
    const versions = await storedVersions(scope);
    const kept = new Set([...versions.slice(0, keep), current]);
    for (const v of versions) if (!kept.has(v)) await deleteFolder(versionKey(scope, v));
    for (const name of await listDir(scopeDir(scope))) {
      if (VERSION_DIR.test(name) && !kept.has(Number(name)))
        await rm(join(scopeDir(scope), name), { recursive: true, force: true });
    }
    const rejected = (await objects.folders(scopeKey(scope))).filter((n) => n.startsWith(REJECTED_PREFIX)).sort();
    for (const name of rejected.reverse().slice(keep)) await deleteFolder(`${scopeKey(scope)}${name}/`);
  }

  async function commitLocked(scope: string, tmp: string, details: Record<string, unknown>, opts?: CommitOptions) {
    const model = opts?.model ? smokeTested(opts.model) : await loadChecked(tmp);
    await opts?.afterStep?.('verified', {});
    try {
      const previous = await pointers.get(scope);
      if (opts?.expectCurrent !== undefined && (previous ?? 0) !== opts.expectCurrent)
        throw new PointerMovedError(opts.expectCurrent, previous ?? 0);
      const stored = await storedVersions(scope);
      const version = await pointers.nextVersion(scope, Math.max(0, previous ?? 0, ...stored));
      const record: VersionRecord = {
        format: 'babble-version',
        version,
        scope,
        committed: new Date().toISOString(),
        details,
      };
      await writeFileDurable(join(tmp, VERSION_FILE), `${JSON.stringify(record, null, 2)}\n`);
      await opts?.afterStep?.('recorded', { version });
      await upload(tmp, versionKey(scope, version));
      await opts?.afterStep?.('uploaded', { version });
      await movePointer(scope, previous, version);
      await opts?.afterStep?.('flipped', { version });
      await rm(join(tmp, OWNER_FILE), { force: true });
      await rename(tmp, versionDir(scope, version));
      await prune(scope, version).catch((err: unknown) => log?.warn({ err, scope }, 'model store: pruning failed'));
      return { version, dir: versionDir(scope, version), model };
    } catch (err) {
      throw storeFailure(err);
    }
  }

  async function rollbackTarget(scope: string, current: number, version: number | undefined): Promise<number> {
    const stored = await storedVersions(scope);
    let target = version;
    if (target === undefined) {
      if (current === 0)
        throw new RegistryError('this server is already on the base model: there is nothing to roll back to');
      target = stored.find((v) => v < current) ?? 0;
    }
    if (!Number.isInteger(target) || target < 0) throw new RegistryError(`there is no version ${target}`);
    if (target === current)
      throw new RegistryError(`version ${target === 0 ? 'base' : target} is already the one serving`);
    if (target !== 0 && !stored.includes(target))
      throw new RegistryError(
        `there is no version ${target} (kept: ${stored.length ? stored.join(', ') : 'none'}, or 0 for the base)`,
      );
    return target;
  }

  async function versionInfo(scope: string, version: number): Promise<VersionInfo> {
    const key = versionKey(scope, version);
    const names = new Set((await objects.list(key)).map((k) => k.slice(key.length)));
    const read = async (name: string) => (names.has(name) ? parseJson(await objects.get(key + name)) : undefined);
    const doc = await read(VERSION_FILE);
    const meta = await read(META_FILE);
    const record = isRecord(doc) && doc.format === 'babble-version' ? (doc as unknown as VersionRecord) : undefined;
    const complete = isRecord(meta);
    return {
      version,
      dir: versionDir(scope, version),
      complete,
      ...(complete
        ? { meta: meta as unknown as ModelMeta }
        : { problem: `${META_FILE} is missing in the model store` }),
      ...(record ? { record } : {}),
    };
  }

  async function rejectedInfo(scope: string): Promise<RejectedInfo[]> {
    const names = (await objects.folders(scopeKey(scope))).filter((n) => n.startsWith(REJECTED_PREFIX)).sort();
    const out: RejectedInfo[] = [];
    for (const name of names.reverse()) {
      const key = `${scopeKey(scope)}${name}/`;
      const doc = await objects.get(key + REJECTED_FILE).then(parseJson, () => undefined);
      const details = isRecord(doc) && isRecord(doc.details) ? doc.details : undefined;
      out.push({ name, dir: `${objects.location}/${key}`, ...(details ? { details } : {}) });
    }
    return out;
  }

  return {
    root,
    keep,

    async init() {
      const removed: string[] = [];
      for (const scope of (await listDir(root)).filter(isValidScope)) {
        for (const name of await listDir(scopeDir(scope))) {
          const path = join(scopeDir(scope), name);
          if (name.startsWith(TMP_PREFIX) && (await ownerGone(path))) {
            await rm(path, { recursive: true, force: true });
            removed.push(path);
          }
        }
      }
      return { removed };
    },

    async tempDir(scope) {
      checkScope(scope);
      // A training is refused before it starts when its model could not be stored at the end.
      await objects.list(`${scopeKey(scope)}${TMP_PREFIX}`).catch((err: unknown) => {
        throw storeFailure(err);
      });
      const dir = join(scopeDir(scope), `${TMP_PREFIX}${stamp()}`);
      await mkdir(dir, { recursive: true });
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
      checkScope(scope);
      let pointer: number | undefined;
      try {
        pointer = await pointers.get(scope);
      } catch (err) {
        return lastKnown(scope, err);
      }
      seen.set(scope, pointer ?? 0);
      // No pointer: never trained, or erased (removeScope on some host): no copy of its versions stays here.
      if (pointer === undefined) await dropCachedVersions(scope);
      if (!pointer) return null;
      const meta = await ensureCached(scope, pointer);
      return { version: pointer, dir: versionDir(scope, pointer), meta, via: 'pointer' };
    },

    async currentVersion(scope) {
      checkScope(scope);
      return (await readPointer(scope)) ?? 0;
    },

    async commit(scope, tmpDir, details, opts) {
      checkScope(scope);
      const tmp = checkTmp(scope, tmpDir);
      return locked(scope, () => commitLocked(scope, tmp, details, opts));
    },

    async rollback(scope, version) {
      checkScope(scope);
      return locked(scope, async () => {
        try {
          const pointer = await pointers.get(scope);
          const target = await rollbackTarget(scope, pointer ?? 0, version);
          let model: BabyLanguageModel | undefined;
          if (target !== 0) {
            await ensureCached(scope, target);
            model = await loadChecked(versionDir(scope, target));
          }
          await movePointer(scope, pointer, target);
          return { version: target, model };
        } catch (err) {
          throw storeFailure(err);
        }
      });
    },

    async keepAside(scope, tmpDir, details) {
      checkScope(scope);
      const tmp = checkTmp(scope, tmpDir);
      return locked(scope, async () => {
        const doc = { format: 'babble-rejected', at: new Date().toISOString(), details };
        await writeFileDurable(join(tmp, REJECTED_FILE), `${JSON.stringify(doc, null, 2)}\n`);
        const key = `${scopeKey(scope)}${REJECTED_PREFIX}${stamp()}/`;
        try {
          await upload(tmp, key);
          await rm(tmp, { recursive: true, force: true });
          await prune(scope, (await pointers.get(scope)) ?? 0);
        } catch (err) {
          throw storeFailure(err);
        }
        return `${objects.location}/${key}`;
      });
    },

    async history(scope): Promise<History> {
      checkScope(scope);
      try {
        const current = (await pointers.get(scope)) ?? 0;
        const versions: VersionInfo[] = [];
        for (const v of await storedVersions(scope)) versions.push(await versionInfo(scope, v));
        return { current, versions, rejected: await rejectedInfo(scope) };
      } catch (err) {
        throw storeFailure(err);
      }
    },

    async removeScope(scope) {
      checkScope(scope);
      if (scope === BASE_SCOPE) throw new RegistryError('the base scope is not a server');
      return locked(scope, async () => {
        const keys = await objects.list(scopeKey(scope));
        const hadPointer = (await pointers.get(scope)) !== undefined;
        await objects.delete(keys);
        await pointers.remove(scope);
        const hadCache = await exists(scopeDir(scope));
        await rm(scopeDir(scope), { recursive: true, force: true });
        return keys.length > 0 || hadPointer || hadCache;
      });
    },

    async scopes() {
      const stored = await objects.folders(base);
      const pointed = await pointers.scopes();
      return [...new Set([...stored, ...pointed])].filter((s) => isValidScope(s) && s !== BASE_SCOPE);
    },
  };
}
