/**
 * With Redis, the bot warns at start when opt-outs or erasures could be lost there: an allkeys-* eviction policy,
 * no append-only file. Against a real redis-server (REDIS_URL; skipped locally without it, like the other Redis
 * tests), whose settings the test changes and restores.
 */
import { createClient } from '@keyv/redis';
import { afterAll, describe, expect, it } from 'vitest';
import { redisDurabilityWarnings } from '../src/storage/redis-durability.js';
import { openStore } from '../src/storage/open.js';

const REDIS_URL = process.env.REDIS_URL?.trim() || undefined;

describe.runIf(REDIS_URL !== undefined)('Redis durability warnings', () => {
  const client = createClient({ url: REDIS_URL! });
  let saved: Record<string, string> = {};
  afterAll(async () => {
    if (!client.isOpen) return;
    for (const [k, v] of Object.entries(saved)) await client.configSet(k, v);
    await client.close();
  });

  it('warns about allkeys eviction and a missing AOF, and is quiet once both are safe', async () => {
    await client.connect();
    saved = {
      appendonly: (await client.configGet('appendonly')).appendonly!,
      'maxmemory-policy': (await client.configGet('maxmemory-policy'))['maxmemory-policy']!,
    };
    await client.configSet({ appendonly: 'no', 'maxmemory-policy': 'allkeys-lru' });
    const warnings: string[] = [];
    const onDurabilityWarning = (w: string) => warnings.push(w);
    const store = await openStore(REDIS_URL!, { prefix: 'durability-test:', onDurabilityWarning });
    await store.close();
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/maxmemory-policy is allkeys-lru: .*evict opt-outs.*noeviction/);
    expect(warnings[1]).toMatch(/appendonly is no.*opt-outs and erasures.*appendonly yes/);

    await client.configSet({ appendonly: 'yes', 'maxmemory-policy': 'volatile-lru' });
    expect(await redisDurabilityWarnings(client)).toEqual([]);
  });
});

describe('Redis durability warnings without CONFIG', () => {
  it('says it could not check when CONFIG is refused', async () => {
    const refusing = {
      configGet: async () => {
        throw new Error('ERR unknown command CONFIG');
      },
    };
    expect(await redisDurabilityWarnings(refusing)).toEqual([
      expect.stringMatching(/could not read the Redis configuration/),
    ]);
  });
});
