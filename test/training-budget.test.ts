/**
 * The training budget per server over a real store (in-memory SQLite) and a fake clock: the cooldown between
 * runs, the daily minutes, when the next run is possible, one server's use never counting for another.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTrainingBudget, type TrainingBudget } from '../src/service/training-budget.js';
import type { KvStore } from '../src/storage/kv.js';
import { openStore } from '../src/storage/open.js';

const G1 = '700000000000000001';
const G2 = '700000000000000002';
const MIN = 60_000;
const T0 = Date.UTC(2026, 11, 2, 12);

describe('training budget', () => {
  let store: KvStore;
  let clock: number;
  let budget: TrainingBudget;
  beforeEach(async () => {
    store = await openStore('sqlite://:memory:');
    clock = T0;
    budget = createTrainingBudget({ store, dailyMinutes: 60, cooldownMinutes: 10, now: () => clock });
  });
  afterEach(async () => store.close());

  it('lets a server with no runs train, and refuses during the cooldown after a run, saying until when', async () => {
    expect(await budget.check(G1, 30)).toEqual({ allowed: true });
    await budget.charge(G1, T0, T0 + 5 * MIN);
    clock = T0 + 7 * MIN;
    expect(await budget.check(G1, 5)).toEqual({ allowed: false, why: 'cooldown', at: T0 + 15 * MIN });
    clock = T0 + 15 * MIN;
    expect(await budget.check(G1, 5)).toEqual({ allowed: true });
  });

  it('refuses a run that would pass the daily minutes, and says when the window has room for it', async () => {
    await budget.charge(G1, T0, T0 + 30 * MIN);
    await budget.charge(G1, T0 + 60 * MIN, T0 + 80 * MIN);
    clock = T0 + 120 * MIN; // 50 of 60 minutes used in the last 24 hours
    expect(await budget.check(G1, 10)).toEqual({ allowed: true });
    const refused = await budget.check(G1, 20);
    expect(refused).toMatchObject({ allowed: false, why: 'daily' });
    // 20 minutes fit once 10 of the first run's 30 have left the window: 24 h after T0 + 10 min (to the second).
    const at = (refused as { at: number }).at;
    expect(Math.abs(at - (T0 + 24 * 60 * MIN + 10 * MIN))).toBeLessThanOrEqual(1000);
    clock = at;
    expect(await budget.check(G1, 20)).toEqual({ allowed: true });
  });

  it("counts each server's runs for that server only, and never limits the shared base model", async () => {
    await budget.charge(G1, T0, T0 + 60 * MIN);
    clock = T0 + 61 * MIN;
    expect(await budget.check(G1, 1)).toMatchObject({ allowed: false });
    expect(await budget.check(G2, 60)).toEqual({ allowed: true });
    await budget.charge('base', T0, T0 + 600 * MIN);
    expect(await budget.check('base', 120)).toEqual({ allowed: true });
  });

  it('with 0 daily minutes and no cooldown, never refuses', async () => {
    const open = createTrainingBudget({ store, dailyMinutes: 0, cooldownMinutes: 0, now: () => clock });
    await open.charge(G1, T0, T0 + 600 * MIN);
    clock = T0 + 600 * MIN;
    expect(await open.check(G1, 120)).toEqual({ allowed: true });
  });
});
