/**
 * The model registry MODEL_STORE_URL asks for: the folder registry (service/registry.ts, the single-host default)
 * or the object store on S3 with its pointers in Redis (object-registry.ts), and how to close what it opened.
 */
import type { Config } from '../config.js';
import { errorMessage } from '../error-message.js';
import type { Logger } from '../log.js';
import { parseStorageUrl } from '../storage/url.js';
import { createRegistry, type ModelRegistry } from '../service/registry.js';
import { redactUrl } from '../storage/url.js';
import type { ModelStoreLocation } from './location.js';

export interface S3Settings {
  endpoint: string | undefined;
  forcePathStyle: boolean;
  region: string;
}

export interface OpenRegistryOptions {
  location: ModelStoreLocation;
  /** Versions kept per server (MODEL_VERSIONS_KEPT). */
  keep: number;
  /** MODEL_CACHE_DIR: this host's verified copies (s3 only). */
  cacheDir: string;
  s3: S3Settings;
  /** STORAGE_URL, redis://… (s3 only: the pointers live there). */
  redisUrl: string | undefined;
  log: Pick<Logger, 'info' | 'warn'>;
}

export interface OpenedRegistry {
  registry: ModelRegistry;
  /** Where versions live, for the log ("var/models", "s3://bucket/prefix"). */
  location: string;
  close(): Promise<void>;
}

export async function openModelRegistry(options: OpenRegistryOptions): Promise<OpenedRegistry> {
  const { location, log } = options;
  if (location.kind === 'file') {
    const registry = createRegistry({ root: location.dir, keep: options.keep });
    return { registry, location: registry.root, close: () => Promise.resolve() };
  }
  if (!options.redisUrl) throw new Error('an s3:// model store needs STORAGE_URL=redis://… for its pointers');
  const { connectRedis } = await import('../storage/redis.js');
  const { openS3ObjectStore } = await import('./s3-object-store.js');
  const { createObjectRegistry } = await import('./object-registry.js');
  const { redisPointers } = await import('./redis-pointers.js');
  const [client] = await connectRedis({
    url: options.redisUrl,
    onError: (err) => log.warn({ err }, `model store: Redis ${redactUrl(options.redisUrl ?? '')} reported an error`),
  });
  const objects = openS3ObjectStore({ bucket: location.bucket, ...options.s3 });
  const where = `${objects.location}${location.prefix ? `/${location.prefix}` : ''}`;
  const registry = createObjectRegistry({
    objects,
    prefix: location.prefix,
    pointers: redisPointers(client!, `${location.bucket}/${location.prefix}`),
    cacheDir: options.cacheDir,
    keep: options.keep,
    log,
  });
  return {
    registry,
    location: where,
    async close() {
      objects.close();
      if (client?.isOpen) await client.close().catch(() => client.destroy());
    },
  };
}

/** The registry MODEL_STORE_URL names, for a bot or a trainer host; rejects with a message naming the setting. */
export async function openConfiguredRegistry(
  config: Config,
  log: Pick<Logger, 'info' | 'warn'>,
): Promise<OpenedRegistry> {
  const storage = parseStorageUrl(config.storageUrl);
  try {
    return await openModelRegistry({
      location: config.modelStore,
      keep: config.modelVersionsKept,
      cacheDir: config.modelCacheDir,
      s3: config.s3,
      redisUrl: storage.kind === 'redis' ? storage.url : undefined,
      log,
    });
  } catch (error) {
    throw new Error(`could not open the model store MODEL_STORE_URL: ${errorMessage(error)}`, { cause: error });
  }
}
