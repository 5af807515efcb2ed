/**
 * Which model talks in which server: each server's current version (registry.ts), else the base — the base
 * scope's current version when the bot owners have retrained it, else the shipped model (MODEL_DIR).
 *
 * Server models load lazily into an LRU cache of `size` entries (MODEL_CACHE_SIZE); the base is always loaded.
 * A server on the base takes a cache slot but no memory of its own.
 *
 * Swapping: `install(scope, …)` replaces the scope's entry at once. Generation is synchronous per call (plain
 * Float32Arrays, see generate.ts), so a generation that has started finishes on the model it started with; later
 * calls get the new one. Nothing is disposed by hand: these models hold no tfjs tensors, so the old model's memory
 * is freed by the garbage collector once the last reference to it (an evicted or replaced entry, a finished
 * generation) is gone. One server's install never touches another server's entry; installing the base scope
 * changes every server that has no model of its own, by design.
 */
import { BabyLanguageModel } from '../model/baby.js';
import type { BackendInfo } from '../model/backend.js';
import { serviceForModel, type LoadedGenerationService } from './generation.js';
import { BASE_SCOPE, type ModelRegistry } from './registry.js';
import type { GenerationService } from './types.js';

export interface ServedModel {
  /** The scope whose version this is: a server id, or "base". */
  scope: string;
  /** 0 for the shipped model. */
  version: number;
  /** "base", "base 2" (a retrained base) or "3" (a server version). */
  label: string;
  model: BabyLanguageModel;
}

export interface ModelCacheOptions {
  registry: ModelRegistry;
  /** The shipped base model's folder (MODEL_DIR). */
  baseDir: string;
  /** Server models kept loaded. Default 8. */
  size?: number;
  /** Loads a folder (default BabyLanguageModel.load, which verifies every hash). */
  load?: (dir: string) => Promise<BabyLanguageModel>;
  /** Reported by the services `serviceFor` returns. */
  backend?: BackendInfo;
}

export interface ModelCache {
  /** The model for a server's babble (null: outside a server → the base). */
  modelFor(guildId: string | null): Promise<ServedModel>;
  /** A generation service over `modelFor(guildId)`, its info() version set to the served label. */
  serviceFor(guildId: string | null): Promise<GenerationService>;
  /** Makes `model` the scope's model now (after a commit or rollback); undefined = the scope falls back to the base. */
  install(scope: string, version: number, model: BabyLanguageModel | undefined): void;
  /** Forgets a scope's entry; it is resolved from disk on next use. */
  invalidate(scope: string): void;
  /** Server scopes in the cache, least recently used first. */
  cached(): string[];
  /**
   * The version served for a scope (0 = the base) if it is loaded or loading, without loading anything and without
   * touching the LRU order; undefined when the cache doesn't hold it (or its load failed).
   */
  servedVersion(scope: string): Promise<number | undefined>;
}

type Entry = { kind: 'own'; served: ServedModel } | { kind: 'base' };

function labelFor(scope: string, version: number): string {
  if (scope === BASE_SCOPE) return version === 0 ? 'base' : `base ${version}`;
  return String(version);
}

export function createModelCache(options: ModelCacheOptions): ModelCache {
  const { registry } = options;
  const size = Math.max(1, Math.floor(options.size ?? 8));
  const load = options.load ?? ((dir: string) => BabyLanguageModel.load(dir));
  const backend: BackendInfo = options.backend ?? { name: 'wasm', reason: 'not reported', skipped: [] };
  const entries = new Map<string, Promise<Entry>>();
  let base: Promise<ServedModel> | undefined;
  const services = new WeakMap<BabyLanguageModel, LoadedGenerationService>();

  async function loadBase(): Promise<ServedModel> {
    const resolved = await registry.resolve(BASE_SCOPE);
    if (resolved)
      return {
        scope: BASE_SCOPE,
        version: resolved.version,
        label: labelFor(BASE_SCOPE, resolved.version),
        model: await load(resolved.dir),
      };
    return { scope: BASE_SCOPE, version: 0, label: 'base', model: await load(options.baseDir) };
  }

  function baseModel(): Promise<ServedModel> {
    if (!base) {
      const p = loadBase();
      base = p;
      p.catch(() => {
        if (base === p) base = undefined;
      });
    }
    return base;
  }

  async function loadEntry(scope: string): Promise<Entry> {
    const resolved = await registry.resolve(scope);
    if (!resolved) return { kind: 'base' };
    const model = await load(resolved.dir);
    return {
      kind: 'own',
      served: { scope, version: resolved.version, label: labelFor(scope, resolved.version), model },
    };
  }

  function put(scope: string, entry: Promise<Entry>): void {
    entries.delete(scope);
    entries.set(scope, entry);
    while (entries.size > size) entries.delete(entries.keys().next().value!);
  }

  async function modelFor(guildId: string | null): Promise<ServedModel> {
    if (guildId === null || guildId === BASE_SCOPE) return baseModel();
    let entry = entries.get(guildId);
    if (entry) {
      put(guildId, entry); // most recently used
    } else {
      const p = loadEntry(guildId);
      entry = p;
      put(guildId, p);
      p.catch(() => {
        if (entries.get(guildId) === p) entries.delete(guildId);
      });
    }
    const e = await entry;
    return e.kind === 'own' ? e.served : baseModel();
  }

  return {
    modelFor,
    async serviceFor(guildId) {
      const served = await modelFor(guildId);
      let service = services.get(served.model);
      if (!service) {
        service = serviceForModel(served.model, backend);
        services.set(served.model, service);
      }
      const inner = service;
      return { ...inner, info: () => ({ ...inner.info(), version: served.label }) };
    },
    install(scope, version, model) {
      if (scope === BASE_SCOPE) {
        base =
          model && version > 0
            ? Promise.resolve({ scope, version, label: labelFor(scope, version), model })
            : undefined; // back to the shipped model: reload it
        return;
      }
      const entry: Entry =
        model && version > 0
          ? { kind: 'own', served: { scope, version, label: labelFor(scope, version), model } }
          : { kind: 'base' };
      put(scope, Promise.resolve(entry));
    },
    invalidate(scope) {
      if (scope === BASE_SCOPE) base = undefined;
      else entries.delete(scope);
    },
    cached() {
      return [...entries.keys()];
    },
    async servedVersion(scope) {
      try {
        if (scope === BASE_SCOPE) return base ? (await base).version : undefined;
        const entry = entries.get(scope);
        if (!entry) return undefined;
        const e = await entry;
        return e.kind === 'own' ? e.served.version : 0;
      } catch {
        return undefined; // a failed load: nothing is served for it (the next use loads it again)
      }
    },
  };
}
