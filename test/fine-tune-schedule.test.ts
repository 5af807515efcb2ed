import { describe, expect, it } from 'vitest';
import { fineTuneSchedule } from '../src/training/fine-tune-schedule.js';

describe('fineTuneSchedule', () => {
  it('warms up linearly, peaks, then decays by cosine to the floor at the end of a step budget', () => {
    const rate = fineTuneSchedule({ peak: 1, stepLimit: 1000, maxSeconds: Infinity, warmupSteps: 40, floor: 0.1 });
    expect(rate(0, 0)).toBeCloseTo(1 / 40);
    expect(rate(19, 0)).toBeCloseTo(0.5 * (0.1 + 0.9 * 0.5 * (1 + Math.cos((Math.PI * 19) / 1000))));
    expect(rate(39, 0)).toBeCloseTo(0.1 + 0.9 * 0.5 * (1 + Math.cos((Math.PI * 39) / 1000)));
    expect(rate(500, 0)).toBeCloseTo(0.55);
    expect(rate(1000, 0)).toBeCloseTo(0.1);
    for (let s = 40; s < 1000; s += 37) expect(rate(s + 37, 0)).toBeLessThanOrEqual(rate(s, 0));
  });

  it('follows whichever budget runs out first', () => {
    const rate = fineTuneSchedule({ peak: 2, stepLimit: Infinity, maxSeconds: 120, warmupSteps: 10 });
    expect(rate(100, 60)).toBeCloseTo(2 * 0.55);
    expect(rate(100, 200)).toBeCloseTo(0.2);
    const both = fineTuneSchedule({ peak: 1, stepLimit: 100, maxSeconds: 100 });
    expect(both(50, 90)).toBeCloseTo(both(90, 10));
  });

  it('warms up over at most a tenth of a short step budget', () => {
    const rate = fineTuneSchedule({ peak: 1, stepLimit: 50, maxSeconds: Infinity, warmupSteps: 40 });
    expect(rate(4, 0)).toBeGreaterThan(0.9);
    expect(rate(0, 0)).toBeCloseTo(0.2);
  });
});
