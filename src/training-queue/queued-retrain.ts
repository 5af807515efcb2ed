/**
 * A bot host's side of the training queue (TRAINER_MODE=queue): the same RetrainManager the /retrain command uses,
 * but each run is a BullMQ job that a trainer host (`npm run trainer`, worker.ts) takes. One job per server at a
 * time across every bot host (the job id is the server's); the job's events come back as the run's events —
 * queued, started, progress (at most one per `progressIntervalMs`), and the outcome with its loss chart.
 *
 * Failure: a trainer host that dies mid-job is found by BullMQ's stalled-job check, which this host runs too (so
 * it works with no trainer left alive); the job fails, the admin is told (nothing was swapped), the training lock
 * the dead host held is freed with its token, and the next /retrain starts at once. Events missed while Redis
 * was unreachable are caught up by polling the job every `pollMs`.
 *
 * Cancel: a waiting job is removed; a running one is cancelled on whichever trainer host runs it (CANCEL_CHANNEL).
 * Shutdown (close): like the forking manager, the runs this host started are cancelled (their replies could not
 * be edited after a restart) and waited for, a few seconds at most.
 */
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents, Worker } from 'bullmq';
import type { Logger } from '../log.js';
import { failedWith, RETRAIN_FAILURE } from '../service/failure.js';
import { isValidScope, RegistryError } from '../service/registry.js';
import { Job as Run, type RetrainManager, type RetrainOutcome } from '../service/retrain.js';
import { errorMessage } from '../error-message.js';
import { bullConnection } from './connection.js';
import {
  CANCEL_CHANNEL,
  fromJobResult,
  jobIdFor,
  parseJobProgress,
  parseJobResult,
  QUEUE_NAME,
  QUEUE_PREFIX,
  type CancelMessage,
  type JobData,
} from './protocol.js';

export interface QueuedRetrainOptions {
  redisUrl: string;
  /** TRAIN_STALLED_SECONDS × 1000. */
  stalledMs: number;
  /** Frees a dead trainer host's training lock, and publishes cancel requests (redis-coordination.ts). */
  shared: {
    releaseLock(scope: string, token: string): Promise<boolean>;
    publish(channel: string, m: string): Promise<void>;
  };
  /** Called when a run swapped in a new version, before its outcome is told (the cache then serves it). */
  onSwapped?: (scope: string, version: number) => Promise<void> | void;
  /** Progress events at most this often. Default 5000 ms. */
  progressIntervalMs?: number;
  /** How often each run's job is read back, in case an event was missed. Default 5000 ms. */
  pollMs?: number;
  /** How long close() waits for cancelled runs. Default 4000 ms. */
  closeWaitMs?: number;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
}

const STALLED = /stalled/i;

export async function createQueuedRetrain(options: QueuedRetrainOptions): Promise<RetrainManager> {
  const { log, shared } = options;
  const interval = options.progressIntervalMs ?? 5000;
  const prefix = QUEUE_PREFIX;
  const queue = new Queue(QUEUE_NAME, { connection: bullConnection(options.redisUrl, 'producer'), prefix });
  const events = new QueueEvents(QUEUE_NAME, { connection: bullConnection(options.redisUrl, 'consumer'), prefix });
  // Never takes a job (no processor, never run): only the stalled-job check, so a dead trainer is noticed even
  // when no trainer host is left.
  const stallCheck = new Worker(QUEUE_NAME, undefined, {
    connection: bullConnection(options.redisUrl, 'consumer'),
    prefix,
    autorun: false,
    lockDuration: options.stalledMs,
    stalledInterval: options.stalledMs,
    maxStalledCount: 0,
  });
  const onError = (err: unknown) => log.warn({ err }, 'training queue: Redis reported an error');
  queue.on('error', onError);
  events.on('error', onError);
  stallCheck.on('error', onError);
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  await stallCheck.startStalledCheckTimer();

  const runs = new Map<string, Run>();
  const lockTokens = new Map<string, string>();
  const byJobId = (jobId: string) => {
    const scope = /^retrain-(.+)$/.exec(jobId)?.[1];
    return scope === undefined ? undefined : runs.get(scope);
  };

  function finish(run: Run, outcome: RetrainOutcome): void {
    if (run.state === 'finished') return;
    run.state = 'finished';
    run.position = undefined;
    if (runs.get(run.scope) === run) runs.delete(run.scope);
    lockTokens.delete(run.scope);
    run.emit({ type: 'finished', outcome });
    run.settle(outcome);
  }

  async function completed(run: Run, returnvalue: unknown): Promise<void> {
    let outcome: RetrainOutcome;
    try {
      const value = typeof returnvalue === 'string' ? (JSON.parse(returnvalue) as unknown) : returnvalue;
      outcome = fromJobResult(parseJobResult(value));
    } catch (err) {
      finish(run, failedWith(log, { scope: run.scope }, err, RETRAIN_FAILURE.unexpected));
      return;
    }
    if (outcome.status === 'swapped') await options.onSwapped?.(run.scope, outcome.version);
    finish(run, outcome);
  }

  async function failed(run: Run, reason: string): Promise<void> {
    if (!STALLED.test(reason)) {
      finish(run, failedWith(log, { scope: run.scope }, new Error(reason), RETRAIN_FAILURE.unexpected));
      return;
    }
    const token = lockTokens.get(run.scope);
    if (token) {
      await shared
        .releaseLock(run.scope, token)
        .catch((err: unknown) => log.warn({ err, scope: run.scope }, 'training queue: could not free the lock'));
    }
    log.warn({ scope: run.scope, reason }, 'training queue: the trainer host stopped mid-job; nothing swapped');
    finish(run, { status: 'failed', reason: RETRAIN_FAILURE.trainerLost });
  }

  function onProgress(run: Run, data: unknown): void {
    let progress: ReturnType<typeof parseJobProgress>;
    try {
      progress = parseJobProgress(data);
    } catch (err) {
      log.warn({ scope: run.scope, reason: errorMessage(err) }, 'training queue: ignored malformed progress');
      return;
    }
    if (progress.type === 'started') {
      lockTokens.set(run.scope, progress.lockToken);
      return;
    }
    run.latest = progress.progress;
    const now = Date.now();
    if (now - run.lastProgressEmit >= interval) {
      run.lastProgressEmit = now;
      run.emit({ type: 'progress', progress: progress.progress });
    }
  }

  function started(run: Run): void {
    if (run.state !== 'queued') return;
    run.state = 'running';
    run.position = undefined;
    run.emit({ type: 'started' });
  }

  const settle = (run: Run | undefined, work: (r: Run) => Promise<void>) => {
    if (!run || run.state === 'finished') return;
    work(run).catch((err: unknown) =>
      finish(run, failedWith(log, { scope: run.scope }, err, RETRAIN_FAILURE.unexpected)),
    );
  };
  events.on('active', ({ jobId }) => {
    const run = byJobId(jobId);
    if (run) started(run);
  });
  events.on('progress', ({ jobId, data }) => {
    const run = byJobId(jobId);
    if (run && run.state !== 'finished') onProgress(run, data);
  });
  events.on('completed', ({ jobId, returnvalue }) => settle(byJobId(jobId), (r) => completed(r, returnvalue)));
  // BullMQ marks a job whose host died for failure when a worker next takes it; none may be left: fail it now.
  events.on('stalled', ({ jobId }) => settle(byJobId(jobId), (r) => checkStalled(r)));
  events.on('failed', ({ jobId, failedReason }) => settle(byJobId(jobId), (r) => failed(r, failedReason)));

  /** A job moved back to waiting with a failure deferred (its trainer host died): removed, and the run failed. */
  async function checkStalled(run: Run): Promise<void> {
    const job = await queue.getJob(jobIdFor(run.scope));
    if (!job?.deferredFailure) return;
    await job
      .remove()
      .catch((err: unknown) => log.warn({ err, scope: run.scope }, 'training queue: could not remove a stalled job'));
    await failed(run, job.deferredFailure);
  }

  /** Reads each run's job back: an event missed (Redis was away) still ends the run. */
  async function poll(): Promise<void> {
    for (const run of [...runs.values()]) {
      if (run.state === 'queued' && run.position === undefined) continue; // still being added
      const job = await queue.getJob(jobIdFor(run.scope));
      if (!job) continue;
      const state = await job.getState();
      if (state === 'active') started(run);
      if (state === 'waiting' && job.deferredFailure) settle(run, (r) => checkStalled(r));
      if (state === 'completed') settle(run, (r) => completed(r, job.returnvalue));
      if (state === 'failed') settle(run, (r) => failed(r, job.failedReason));
    }
  }
  let polling = false;
  const pollTimer = setInterval(() => {
    if (polling) return;
    polling = true;
    poll()
      .catch((err: unknown) => log.warn({ err }, 'training queue: could not read the jobs back'))
      .finally(() => {
        polling = false;
      });
  }, options.pollMs ?? 5000);
  pollTimer.unref();

  /** Adds the run's job, unless the server has one already (from another bot host). */
  async function enqueue(run: Run): Promise<void> {
    const jobId = jobIdFor(run.scope);
    const existing = await queue.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      if (state !== 'completed' && state !== 'failed' && state !== 'unknown') {
        finish(run, { status: 'failed', reason: RETRAIN_FAILURE.busyElsewhere });
        return;
      }
      await existing.remove();
    }
    const ticket = randomUUID();
    const data: JobData = { format: 'babble-retrain-job', request: run.request, ticket };
    const added = await queue.add('retrain', data, {
      jobId,
      attempts: 1,
      removeOnComplete: { count: 100 },
      removeOnFail: { count: 100 },
    });
    if ((added.data as Partial<JobData>).ticket !== ticket) {
      finish(run, { status: 'failed', reason: RETRAIN_FAILURE.busyElsewhere });
      return;
    }
    if (run.state === 'finished') return; // cancelled while it was being added: onCancel removes it
    run.position = Math.max(1, await queue.getWaitingCount());
    run.emit({ type: 'queued', position: run.position });
  }

  async function cancelRemote(run: Run): Promise<void> {
    const job = await queue.getJob(jobIdFor(run.scope));
    if (job && (await job.getState()) === 'waiting') {
      await job.remove();
      finish(run, { status: 'cancelled' });
      return;
    }
    const message: CancelMessage = { type: 'cancel', jobId: jobIdFor(run.scope) };
    await shared.publish(CANCEL_CHANNEL, JSON.stringify(message));
  }

  const onCancel = (run: Run) => {
    cancelRemote(run).catch((err: unknown) => log.warn({ err, scope: run.scope }, 'training queue: cancel failed'));
  };

  let closed = false;
  return {
    start(request) {
      if (closed) throw new RegistryError('the bot is shutting down: no new training now');
      if (!isValidScope(request.scope)) throw new RegistryError(`not a server id: ${JSON.stringify(request.scope)}`);
      const existing = runs.get(request.scope);
      if (existing) return { status: 'busy', job: existing };
      const run = new Run(request.scope, { ...request }, onCancel);
      runs.set(request.scope, run);
      enqueue(run).catch((err: unknown) =>
        finish(run, failedWith(log, { scope: run.scope }, err, RETRAIN_FAILURE.queue)),
      );
      return { status: 'queued', job: run };
    },
    get: (scope) => runs.get(scope),
    cancel(scope) {
      const run = runs.get(scope);
      if (!run) return false;
      run.cancel();
      return true;
    },
    queued: () => [...runs.values()].filter((r) => r.state === 'queued').map((r) => r.scope),
    running: () => [...runs.values()].filter((r) => r.state === 'running').map((r) => r.scope),
    async close() {
      closed = true;
      const all = [...runs.values()];
      for (const run of all) run.cancel();
      const waitMs = options.closeWaitMs ?? 4000;
      await Promise.race([Promise.all(all.map((r) => r.result)), new Promise((r) => setTimeout(r, waitMs).unref())]);
      for (const run of all) finish(run, { status: 'cancelled' });
      clearInterval(pollTimer);
      await Promise.allSettled([events.close(), stallCheck.close(), queue.close()]);
    },
  };
}
