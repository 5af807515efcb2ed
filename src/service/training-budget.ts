/**
 * How much trainer time a server may use: at most `dailyMinutes` in any 24 hours, and `cooldownMinutes` between
 * the end of one run and the start of the next (TRAIN_DAILY_MINUTES, TRAIN_COOLDOWN_MINUTES). A run asks for its
 * minutes up front (`check`) and is charged the trainer time it really used when it ends (`charge`). Runs are
 * kept per server in one row `g:<guild id>:b` of the store (shared by every shard; deleted with the server), for
 * 24 hours. The bot's owners are exempt (the caller does not ask for them); the shared base model has no budget.
 */
import type { KvStore } from '../storage/kv.js';

const DAY_MS = 86_400_000;
const SERVER_ID = /^\d{1,20}$/;

export interface TrainingBudgetOptions {
  store: Pick<KvStore, 'get' | 'set'>;
  /** Trainer minutes per server in any 24 hours; 0 = no daily limit. */
  dailyMinutes: number;
  /** Minutes from the end of one run to the start of the next; 0 = none. */
  cooldownMinutes: number;
  now?: () => number;
}

export type BudgetVerdict =
  | { allowed: true }
  | {
      allowed: false;
      /** cooldown: too soon after the last run; daily: the last 24 hours' minutes are spent. */
      why: 'cooldown' | 'daily';
      /** When a run of the asked length is possible again (epoch ms). */
      at: number;
    };

export interface TrainingBudget {
  /** Whether `scope` may start a run of `minutes` now. */
  check(scope: string, minutes: number): Promise<BudgetVerdict>;
  /** Records a run's trainer time (from `start` to `end`, epoch ms). */
  charge(scope: string, start: number, end: number): Promise<void>;
}

interface Run {
  start: number;
  end: number;
}

function runsOf(stored: unknown, since: number): Run[] {
  const runs = (stored as { runs?: unknown } | undefined)?.runs;
  if (!Array.isArray(runs)) return [];
  return runs.filter((r): r is Run => typeof r?.start === 'number' && typeof r?.end === 'number' && r.end > since);
}

export function createTrainingBudget(options: TrainingBudgetOptions): TrainingBudget {
  const { store } = options;
  const now = options.now ?? Date.now;
  const dailyMs = options.dailyMinutes * 60_000;
  const cooldownMs = options.cooldownMinutes * 60_000;
  const key = (scope: string) => `g:${scope}:b`;

  /** Trainer time of `runs` that falls after `since`. */
  const usedSince = (runs: readonly Run[], since: number) =>
    runs.reduce((ms, r) => ms + Math.max(0, r.end - Math.max(r.start, since)), 0);

  return {
    async check(scope, minutes) {
      if (!SERVER_ID.test(scope)) return { allowed: true };
      const t = now();
      const runs = runsOf(await store.get(key(scope)), t - DAY_MS);
      const lastEnd = Math.max(-Infinity, ...runs.map((r) => r.end));
      if (cooldownMs > 0 && t < lastEnd + cooldownMs) {
        return { allowed: false, why: 'cooldown', at: lastEnd + cooldownMs };
      }
      if (dailyMs <= 0) return { allowed: true };
      const want = Math.min(minutes * 60_000, dailyMs);
      if (usedSince(runs, t - DAY_MS) + want <= dailyMs) return { allowed: true };
      // The earliest moment the window has room again: what falls inside it only shrinks as it slides on, and
      // is nothing a day after the last run ended; found to the second.
      const fits = (at: number) => usedSince(runs, at - DAY_MS) + want <= dailyMs;
      let low = t;
      let high = lastEnd + DAY_MS;
      while (high - low > 1000) {
        const mid = Math.floor((low + high) / 2);
        if (fits(mid)) high = mid;
        else low = mid;
      }
      const at = high;
      return { allowed: false, why: 'daily', at };
    },
    async charge(scope, start, end) {
      if (!SERVER_ID.test(scope) || !(end > start)) return;
      const runs = runsOf(await store.get(key(scope)), now() - DAY_MS);
      runs.push({ start, end });
      await store.set(key(scope), { runs }, DAY_MS + cooldownMs);
    },
  };
}
