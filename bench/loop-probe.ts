/**
 * Preloaded into the bot's process by the bench (`node --import tsx --import ./bench/loop-probe.ts src/main.ts`):
 * an event-loop delay histogram (perf_hooks.monitorEventLoopDelay) that the parent resets and reads over IPC.
 *   parent → { probe: 'reset' }  child → { probe: 'reset', ok: true }
 *   parent → { probe: 'read' }   child → { probe: 'read', resolutionMs, p50Ms, p99Ms, maxMs, meanMs, count, rssMb }
 * The histogram's values are the intervals between its timer's wake-ups, so they include the resolution itself
 * (an idle loop reads ≈ resolutionMs); the parent subtracts it (stats.ts loopDelayMs).
 * Without an IPC channel it does nothing. It only adds a 5 ms sampling timer to the process.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

if (process.send && process.channel) {
  const resolutionMs = 5;
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  const ms = (ns: number) => ns / 1e6;
  process.on('message', (msg: unknown) => {
    const probe = (msg as { probe?: unknown } | null)?.probe;
    if (probe === 'reset') {
      histogram.reset();
      process.send?.({ probe: 'reset', ok: true });
    } else if (probe === 'read') {
      process.send?.({
        probe: 'read',
        resolutionMs,
        p50Ms: ms(histogram.percentile(50)),
        p99Ms: ms(histogram.percentile(99)),
        maxMs: ms(histogram.max),
        meanMs: ms(histogram.mean),
        count: histogram.count,
        rssMb: process.memoryUsage().rss / 2 ** 20,
      });
    }
  });
  process.channel.unref(); // the probe must not keep the bot alive
}
