/**
 * What the model store needs of an object store: whole objects by key, listing by prefix, deletion. The S3
 * implementation is s3-object-store.ts; keys use "/" as the separator.
 */
export interface ObjectStore {
  /** Where it is, for logs and messages (e.g. "s3://bucket/prefix"); never credentials. */
  readonly location: string;
  put(key: string, body: Uint8Array): Promise<void>;
  /** The object's bytes; rejects with ObjectMissingError when there is none. */
  get(key: string): Promise<Uint8Array>;
  /** Every key under `prefix`. */
  list(prefix: string): Promise<string[]>;
  /** The next "folder" names under `prefix` (which ends with "/"). */
  folders(prefix: string): Promise<string[]>;
  delete(keys: readonly string[]): Promise<void>;
  close(): void;
}

/** The object does not exist. */
export class ObjectMissingError extends Error {
  override readonly name = 'ObjectMissingError';
  constructor(readonly key: string) {
    super(`${key} is missing from the model store`);
  }
}

/** The store could not be reached or answered with an error (not "missing"). */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}
