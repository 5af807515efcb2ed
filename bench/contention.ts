/**
 * How much CPU other processes took while a measurement ran (Linux /proc): the machine's busy ticks minus this
 * process's own and its reaped children's (torch, the bot, the RSS child), as an average number of cores.
 * Timings shrink and ratios skew when this is far from 0, so the report carries it per section.
 */
import { readFileSync } from 'node:fs';

export interface CpuSample {
  /** Machine busy ticks (user, nice, system, irq, softirq, steal) and all ticks (busy + idle + iowait), all cores. */
  busy: number;
  all: number;
  /** This process's user + system ticks, plus those of its children that have exited and been waited for. */
  own: number;
}

/** The aggregate "cpu" line of /proc/stat. */
export function parseProcStat(text: string): { busy: number; all: number } {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('/proc/stat: no cpu line');
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, all: busy + idle + iowait };
}

/** Linux clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on every mainstream kernel). */
export const TICKS_PER_SECOND = 100;

/** utime + stime + cutime + cstime from /proc/<pid>/stat (fields 14–17; the command name may hold spaces). */
export function parseSelfStat(text: string): number {
  const after = text
    .slice(text.lastIndexOf(')') + 2)
    .trim()
    .split(/\s+/)
    .map(Number);
  // after[0] is field 3 (state), so field n is after[n - 3]
  const ticks = [after[11], after[12], after[13], after[14]];
  if (ticks.some((t) => t === undefined || !Number.isFinite(t))) throw new Error('/proc/self/stat: unexpected format');
  return ticks.reduce<number>((a, b) => a + b!, 0);
}

export function sampleCpu(): CpuSample | null {
  try {
    return {
      ...parseProcStat(readFileSync('/proc/stat', 'utf8')),
      own: parseSelfStat(readFileSync('/proc/self/stat', 'utf8')),
    };
  } catch {
    return null;
  }
}

/** Average cores used by other processes between two samples, on a machine with `cores` cores (null if unknown). */
export function otherCores(before: CpuSample | null, after: CpuSample | null, cores: number): number | null {
  if (!before || !after) return null;
  const all = after.all - before.all;
  if (!(all > 0)) return null;
  const other = after.busy - before.busy - (after.own - before.own);
  return Math.max(0, (other / all) * cores);
}
