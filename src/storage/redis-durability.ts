/**
 * At start, with Redis: is what members asked for safe there? Opt-outs (and the erasures' data generations) are
 * keys without a time to live, so
 *   - `maxmemory-policy` allkeys-lru / allkeys-lfu / allkeys-random may evict an opt-out under memory pressure, and
 *     the member's messages would be collected again;
 *   - without `appendonly yes`, a restart of Redis loses every write since the last RDB snapshot (an opt-out, or an
 *     erasure that then comes back), or everything when snapshots are off.
 * Each problem is one clear warning; a Redis that refuses CONFIG (managed services) gets one warning saying it
 * could not be checked. noeviction and the volatile-* policies never evict a key without a time to live.
 */
export interface ConfigReader {
  configGet(parameter: string): Promise<Record<string, string>>;
}

export async function redisDurabilityWarnings(client: ConfigReader): Promise<string[]> {
  let appendonly: string | undefined;
  let policy: string | undefined;
  let save: string | undefined;
  try {
    appendonly = (await client.configGet('appendonly')).appendonly;
    policy = (await client.configGet('maxmemory-policy'))['maxmemory-policy'];
    save = (await client.configGet('save')).save;
  } catch {
    return [
      'could not read the Redis configuration (CONFIG GET refused): make sure Redis has appendonly yes and a ' +
        'maxmemory-policy that never evicts keys without a time to live (noeviction or volatile-*), or opt-outs ' +
        'and erasures may be lost',
    ];
  }
  const warnings: string[] = [];
  if (policy !== undefined && policy.startsWith('allkeys-')) {
    warnings.push(
      `Redis maxmemory-policy is ${policy}: under memory pressure it may evict opt-outs, and those members' ` +
        'messages would be collected again. Set maxmemory-policy noeviction (or volatile-lru).',
    );
  }
  if (appendonly !== 'yes') {
    warnings.push(
      `Redis appendonly is ${appendonly ?? 'unknown'}${save === '' ? ' and snapshots are off' : ''}: a Redis ` +
        'restart loses the writes since the last snapshot, opt-outs and erasures among them. Set appendonly yes ' +
        '(appendfsync everysec or always).',
    );
  }
  return warnings;
}
