/** Per-server ordering: the gateway events and member commands of one server run one at a time, in order. */
import type { Lane } from './layout.js';

/** Runs tasks one at a time per server, in the order they were given. */
export function createLanes(): Lane {
  const tails = new Map<string, Promise<void>>();
  return <T>(guildId: string, task: () => Promise<T>): Promise<T> => {
    const previous = tails.get(guildId) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    tails.set(guildId, tail);
    void tail.then(() => {
      if (tails.get(guildId) === tail) tails.delete(guildId);
    });
    return result;
  };
}
