/**
 * A trainer host for the training-queue tests, as its own process (run with tsx): a queue worker whose stub
 * manager takes the Redis training lock and never finishes, so the test can SIGKILL it mid-job. Prints
 * {"ready": true} once it takes jobs, and {"started": scope} when a job starts.
 *   node --import tsx test/helpers/queue-worker-process.ts <redis url> <stalled ms>
 */
import { createClient } from '@keyv/redis';
import { redisLocks } from '../../src/service/lock.js';
import { startTrainerWorker } from '../../src/training-queue/worker.js';
import { stubManager } from './queue-stub.js';

const [url = '', stalledMs = '2000'] = process.argv.slice(2);
const client = createClient({ url });
const subscriber = client.duplicate();
await client.connect();
await subscriber.connect();
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
await startTrainerWorker({
  redisUrl: url,
  concurrency: 1,
  stalledMs: Number(stalledMs),
  subscribe: (channel, listener) => subscriber.subscribe(channel, listener),
  log: silent,
  createManager: async (report) => {
    const manager = stubManager(report(redisLocks({ client })));
    const start = manager.start.bind(manager);
    manager.start = (request) => {
      process.stdout.write(`${JSON.stringify({ started: request.scope })}\n`);
      return start(request);
    };
    return manager;
  },
});
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
