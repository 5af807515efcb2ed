/**
 * A trainer host's side of the training queue: a BullMQ worker that runs each job with the retrain manager (the
 * trainer child exactly as a single-host bot forks it, the quality gate, the commit to the model store and the
 * swap announced to every bot host), reports the training lock it took and the throttled progress through the
 * job, and returns the outcome. `/retrain cancel` arrives on CANCEL_CHANNEL from whichever bot host it was typed
 * on; the worker running the job aborts it.
 *
 * A host that dies mid-job stops renewing the job's lock; after `stalledMs` the stalled-job check (run by every
 * worker and every bot host) fails the job — never retried elsewhere with half its state (maxStalledCount 0).
 */
import { Worker, type Job } from 'bullmq';
import type { Logger } from '../log.js';
import type { TrainingLocks } from '../service/lock.js';
import type { RetrainJob, RetrainManager } from '../service/retrain.js';
import { errorMessage } from '../error-message.js';
import { bullConnection } from './connection.js';
import {
  CANCEL_CHANNEL,
  parseCancelMessage,
  parseJobData,
  QUEUE_NAME,
  QUEUE_PREFIX,
  toJobResult,
  type JobProgress,
  type JobResult,
} from './protocol.js';

export interface TrainerWorkerOptions {
  /** STORAGE_URL (redis://…). */
  redisUrl: string;
  /**
   * Makes the retrain manager that runs the jobs, given a wrapper for its training locks (each lock taken is then
   * reported through its job, so that a bot can free it if this host dies).
   */
  createManager(reportLocks: (inner: TrainingLocks) => TrainingLocks): Promise<RetrainManager>;
  /** Jobs at once (TRAIN_CONCURRENCY). */
  concurrency: number;
  /** TRAIN_STALLED_SECONDS × 1000: how long a silent host keeps its job. */
  stalledMs: number;
  /** Subscribes to the cancel channel (a node-redis subscription). */
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export interface TrainerWorker {
  /** Stops taking jobs, cancels the running ones (nothing swapped) and waits for them. */
  close(): Promise<void>;
}

/** How long close() waits for BullMQ's graceful close before forcing it. */
const CLOSE_WAIT_MS = 5000;

/** 'late' when `work` has not settled within `ms`. */
async function within(work: Promise<unknown>, ms: number): Promise<'done' | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
  });
  try {
    return await Promise.race([
      work.then(
        () => 'done' as const,
        () => 'done' as const,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a server whose job arrives while it is already training here gets. */
const BUSY: JobResult = {
  status: 'failed',
  reason: 'this server is already training; try again when that has finished',
};

function report(job: Job, progress: JobProgress, log: TrainerWorkerOptions['log']): void {
  job
    .updateProgress(progress)
    .catch((err: unknown) => log.warn({ err, jobId: job.id }, 'training queue: could not report progress'));
}

/** Runs one job's training with the manager, relaying its progress; resolves with the outcome to return. */
async function runJob(run: RetrainJob, job: Job, signal: AbortSignal | undefined, log: TrainerWorkerOptions['log']) {
  const onAbort = () => run.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  const unsubscribe = run.subscribe((event) => {
    if (event.type === 'progress') report(job, { type: 'progress', progress: event.progress }, log);
  });
  try {
    return toJobResult(await run.result);
  } finally {
    unsubscribe();
    signal?.removeEventListener('abort', onAbort);
  }
}

export async function startTrainerWorker(options: TrainerWorkerOptions): Promise<TrainerWorker> {
  const { log } = options;
  /** The BullMQ job of each scope training here (to report its lock). */
  const byScope = new Map<string, Job>();
  const manager = await options.createManager((inner) => ({
    kind: inner.kind,
    async acquire(scope) {
      const handle = await inner.acquire(scope);
      const job = byScope.get(scope);
      if (handle && job) report(job, { type: 'started', lockToken: handle.token }, log);
      return handle;
    },
  }));

  const worker = new Worker(
    QUEUE_NAME,
    async (job, _token, signal): Promise<JobResult> => {
      const { request } = parseJobData(job.data);
      const start = manager.start(request);
      if (start.status === 'busy') return BUSY;
      byScope.set(request.scope, job);
      log.info({ scope: request.scope, jobId: job.id }, 'training queue: job started');
      try {
        return await runJob(start.job, job, signal, log);
      } finally {
        byScope.delete(request.scope);
      }
    },
    {
      connection: bullConnection(options.redisUrl, 'consumer'),
      prefix: QUEUE_PREFIX,
      concurrency: options.concurrency,
      lockDuration: options.stalledMs,
      stalledInterval: options.stalledMs,
      maxStalledCount: 0,
    },
  );
  worker.on('error', (err) => log.warn({ err }, 'training queue: the worker reported an error'));
  await worker.waitUntilReady();
  await options.subscribe(CANCEL_CHANNEL, (text) => {
    try {
      const { jobId } = parseCancelMessage(JSON.parse(text));
      if (worker.cancelJob(jobId, 'cancelled by an admin')) log.info({ jobId }, 'training queue: job cancelled');
    } catch (err) {
      log.warn({ reason: errorMessage(err) }, 'training queue: ignored a malformed cancel message');
    }
  });
  log.info({ concurrency: options.concurrency, stalledMs: options.stalledMs }, 'training queue: taking jobs');
  return {
    async close() {
      const graceful = (async () => {
        await worker.pause(true); // no new jobs
        await manager.close(); // the running ones cancelled (nothing swapped): their jobs complete as cancelled
        await worker.close();
      })();
      // After a Redis outage BullMQ's close can wait for ever on its blocking connection: bounded, then forced.
      if ((await within(graceful, CLOSE_WAIT_MS)) === 'late') {
        log.warn({ waitedMs: CLOSE_WAIT_MS }, 'training queue: the worker did not close in time; closing it by force');
        await manager.close();
        if ((await within(worker.close(true), CLOSE_WAIT_MS)) === 'late')
          log.warn('training queue: the worker connection is left to the process exit');
      }
    },
  };
}
