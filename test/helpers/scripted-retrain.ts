/**
 * A training manager and its jobs driven by hand, for tests of /retrain through Discord: `start` hands out a
 * ScriptedJob the test moves on with `emit` and `finish`.
 */
import type {
  RetrainEvent,
  RetrainJob,
  RetrainManager,
  RetrainOutcome,
  RetrainRequest,
  StartResult,
} from '../../src/service/retrain.js';
import type { ProgressFigures } from '../../src/training/trainer-protocol.js';

/** A job the test drives by hand. */
export class ScriptedJob implements RetrainJob {
  state: 'queued' | 'running' | 'finished' = 'running';
  position: number | undefined;
  latest: ProgressFigures | undefined;
  readonly result: Promise<RetrainOutcome>;
  private settle!: (o: RetrainOutcome) => void;
  private readonly listeners = new Set<(e: RetrainEvent) => void>();
  constructor(
    readonly scope: string,
    readonly request: RetrainRequest,
  ) {
    this.result = new Promise((r) => {
      this.settle = r;
    });
  }
  subscribe(l: (e: RetrainEvent) => void) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  emit(e: RetrainEvent) {
    for (const l of this.listeners) l(e);
  }
  finish(outcome: RetrainOutcome) {
    this.state = 'finished';
    this.emit({ type: 'finished', outcome });
    this.settle(outcome);
  }
  cancel() {}
}

export class ScriptedManager implements RetrainManager {
  starts: RetrainRequest[] = [];
  cancels: string[] = [];
  jobs = new Map<string, ScriptedJob>();
  status: 'started' | 'queued' = 'started';
  start(request: RetrainRequest): StartResult {
    this.starts.push(request);
    const existing = this.jobs.get(request.scope);
    if (existing) return { status: 'busy', job: existing };
    const job = new ScriptedJob(request.scope, request);
    if (this.status === 'queued') {
      job.state = 'queued';
      job.position = 2;
    }
    this.jobs.set(request.scope, job);
    return { status: this.status, job };
  }
  get(scope: string) {
    return this.jobs.get(scope);
  }
  cancel(scope: string) {
    this.cancels.push(scope);
    return this.jobs.has(scope);
  }
  queued() {
    return [];
  }
  running() {
    return [...this.jobs.keys()];
  }
  async close() {}
}
