/**
 * MODEL_STORE_URL: where model versions live. `file://<folder>` (the default, on MODELS_DIR) is the single-host
 * registry (service/registry.ts); `s3://<bucket>/<prefix>` keeps versions as objects in an S3-compatible store,
 * with the per-server `current` pointer in Redis (model-store/object-registry.ts).
 */
export type ModelStoreLocation = { kind: 'file'; dir: string } | { kind: 's3'; bucket: string; prefix: string };

/** S3 bucket names: 3–63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX_PART = /^[A-Za-z0-9._-]+$/;

/** Parses MODEL_STORE_URL; `defaultDir` (MODELS_DIR) when unset. Throws an Error whose message completes "MODEL_STORE_URL …". */
export function parseModelStoreUrl(text: string | undefined, defaultDir: string): ModelStoreLocation {
  const v = text?.trim();
  if (!v) return { kind: 'file', dir: defaultDir };
  if (v.startsWith('file://')) {
    const dir = v.slice('file://'.length);
    if (dir === '') throw new Error('file:// needs a folder, e.g. file://var/models');
    return { kind: 'file', dir };
  }
  if (v.startsWith('s3://')) {
    const [bucket = '', ...parts] = v.slice('s3://'.length).split('/');
    if (!BUCKET.test(bucket))
      throw new Error(
        `s3:// needs a bucket name (3 to 63 lowercase letters, digits, dots, hyphens), got ${JSON.stringify(bucket)}`,
      );
    const prefixParts = parts.filter((p) => p !== '');
    const bad = prefixParts.find((p) => !PREFIX_PART.test(p));
    if (bad !== undefined)
      throw new Error(`has a prefix part that is not letters, digits, ".", "_" or "-": ${JSON.stringify(bad)}`);
    return { kind: 's3', bucket, prefix: prefixParts.join('/') };
  }
  throw new Error(`must be file://<folder> or s3://<bucket>/<prefix> (got ${JSON.stringify(v)})`);
}
