/**
 * Preloaded into the bot's process by the bench (`node --import tsx --import ./bench/loop-probe.ts src/main.ts`):
 * an event-loop delay histogram (perf_hooks.monitorEventLoopDelay) that the parent resets and reads over IPC, and
 * a list of the stalls (a 10 ms timer firing ≥ STALL_MS late) with when they happened, to tell where long delays
 * come from.
 *   parent → { probe: 'reset' }  child → { probe: 'reset', ok: true }
 *   parent → { probe: 'read' }   child → { probe: 'read', resolutionMs, p50Ms, p99Ms, maxMs, meanMs, count, rssMb,
 *                                          heapUsedMb, externalMb, arrayBuffersMb, stalls: [{ atMs, ms }],
 *                                          stallCount, longestStallMs }
 *   (stalls: the first 50, atMs since the reset; stallCount and longestStallMs count them all)
 * The histogram's values are the intervals between its timer's wake-ups, so they include the resolution itself
 * (an idle loop reads ≈ resolutionMs); the parent subtracts it (stats.ts loopDelayMs).
 * Without an IPC channel it does nothing. It adds a 5 ms native sampling timer and a 10 ms JS timer.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { STALL_MS } from './stats.js';

const STALL_TIMER_MS = 10;
const MAX_STALLS = 50;

if (process.send && process.channel) {
  const resolutionMs = 5;
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  const ms = (ns: number) => ns / 1e6;
  const MB = 2 ** 20;
  let since = performance.now();
  let stalls: { atMs: number; ms: number }[] = [];
  let stallCount = 0;
  let longestStallMs = 0;
  let last = performance.now();
  const stallTimer = setInterval(() => {
    const now = performance.now();
    const late = now - last - STALL_TIMER_MS;
    last = now;
    if (late < STALL_MS) return;
    stallCount++;
    longestStallMs = Math.max(longestStallMs, late);
    if (stalls.length < MAX_STALLS)
      stalls.push({ atMs: Math.round(now - late - since), ms: Math.round(late * 10) / 10 });
  }, STALL_TIMER_MS);
  stallTimer.unref();
  process.on('message', (msg: unknown) => {
    const probe = (msg as { probe?: unknown } | null)?.probe;
    if (probe === 'reset') {
      histogram.reset();
      since = performance.now();
      stalls = [];
      stallCount = 0;
      longestStallMs = 0;
      process.send?.({ probe: 'reset', ok: true });
    } else if (probe === 'read') {
      const mem = process.memoryUsage();
      process.send?.({
        probe: 'read',
        resolutionMs,
        p50Ms: ms(histogram.percentile(50)),
        p99Ms: ms(histogram.percentile(99)),
        maxMs: ms(histogram.max),
        meanMs: ms(histogram.mean),
        count: histogram.count,
        rssMb: mem.rss / MB,
        heapUsedMb: mem.heapUsed / MB,
        externalMb: mem.external / MB,
        arrayBuffersMb: mem.arrayBuffers / MB,
        stalls,
        stallCount,
        longestStallMs: Math.round(longestStallMs * 10) / 10,
      });
    }
  });
  process.channel.unref(); // the probe must not keep the bot alive
}
