/**
 * A collection service over a private in-memory SQLite store, for tests that start the bot but don't look at
 * what it stores.
 */
import {
  createCollectionService,
  type CollectionOptions,
  type CollectionService,
} from '../../src/service/collection.js';
import { openStore } from '../../src/storage/open.js';

export async function memoryCollection(options: Omit<CollectionOptions, 'store'> = {}): Promise<CollectionService> {
  return createCollectionService({ store: await openStore('sqlite://:memory:'), ...options });
}
