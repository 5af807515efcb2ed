/**
 * BullMQ's Redis connection (ioredis options) from STORAGE_URL. Workers and event listeners wait through a Redis
 * outage (maxRetriesPerRequest null, as BullMQ requires); a producer fails at once instead (no offline queue), so
 * a /retrain while Redis is down is refused rather than left hanging.
 */
import type { ConnectionOptions } from 'bullmq';

export function bullConnection(url: string, role: 'producer' | 'consumer'): ConnectionOptions {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '');
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    ...(role === 'consumer' ? { maxRetriesPerRequest: null } : { enableOfflineQueue: false, maxRetriesPerRequest: 1 }),
  };
}
