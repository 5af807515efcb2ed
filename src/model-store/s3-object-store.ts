/**
 * The object store on S3 or an S3-compatible server (MinIO, Cloudflare R2, Garage, s3rver) through
 * @aws-sdk/client-s3. Credentials come from the SDK's standard chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
 * profiles, instance roles); `endpoint` and path-style addressing are for the S3-compatible servers.
 *
 * Requests time out (connect 3 s, whole request 30 s) and are tried twice: a store that is down is reported as a
 * StoreUnavailableError quickly, and the callers keep serving what they have.
 */
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { ObjectMissingError, StoreUnavailableError, type ObjectStore } from './object-store.js';

export interface S3StoreOptions {
  bucket: string;
  /** S3_ENDPOINT: e.g. http://127.0.0.1:9000 for MinIO; unset for AWS S3. */
  endpoint?: string;
  /** S3_FORCE_PATH_STYLE: http://host/bucket/key instead of http://bucket.host/key. */
  forcePathStyle: boolean;
  /** AWS_REGION. */
  region: string;
}

const DELETE_BATCH = 1000;

function unavailable(what: string, err: unknown): StoreUnavailableError {
  const why = err instanceof Error ? err.message : String(err);
  return new StoreUnavailableError(`the model store could not ${what}: ${why}`, { cause: err });
}

function isMissing(err: unknown): boolean {
  return err instanceof S3ServiceException && (err.name === 'NoSuchKey' || err.$metadata.httpStatusCode === 404);
}

export function openS3ObjectStore(options: S3StoreOptions): ObjectStore {
  const { bucket } = options;
  const client = new S3Client({
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 3000, requestTimeout: 30_000 },
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
  });

  async function listPage(prefix: string, token: string | undefined, delimiter?: string) {
    try {
      return await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(token ? { ContinuationToken: token } : {}),
          ...(delimiter ? { Delimiter: delimiter } : {}),
        }),
      );
    } catch (err) {
      throw unavailable(`list ${prefix}`, err);
    }
  }

  return {
    location: `s3://${bucket}`,
    async put(key, body) {
      try {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      } catch (err) {
        throw unavailable(`store ${key}`, err);
      }
    },
    async get(key) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (!out.Body) throw new ObjectMissingError(key);
        return await out.Body.transformToByteArray();
      } catch (err) {
        if (err instanceof ObjectMissingError || isMissing(err)) throw new ObjectMissingError(key);
        throw unavailable(`read ${key}`, err);
      }
    },
    async list(prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await listPage(prefix, token);
        for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys;
    },
    async folders(prefix) {
      const names: string[] = [];
      let token: string | undefined;
      do {
        const page = await listPage(prefix, token, '/');
        for (const p of page.CommonPrefixes ?? []) if (p.Prefix) names.push(p.Prefix.slice(prefix.length, -1));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return names;
    },
    async delete(keys) {
      for (let i = 0; i < keys.length; i += DELETE_BATCH) {
        const batch = keys.slice(i, i + DELETE_BATCH).map((Key) => ({ Key }));
        try {
          const out = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch } }));
          const failed = out.Errors?.[0];
          if (failed) throw new Error(`${failed.Key}: ${failed.Code} ${failed.Message ?? ''}`.trim());
        } catch (err) {
          throw unavailable(`delete ${batch.length} object(s)`, err);
        }
      }
    },
    close() {
      client.destroy();
    },
  };
}
