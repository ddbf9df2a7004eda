/** CPU and memory of processes and of the whole machine, read from /proc (Linux). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { round1, sleep } from './stats.js';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU seconds (user + system) a process has used so far; with `reaped`, also its children that have exited. */
export function cpuSeconds(pid: number, reaped = false): number {
  try {
    const f = statFields(pid);
    // utime, stime, cutime, cstime are fields 14 to 17.
    const ticks = Number(f[11]) + Number(f[12]) + (reaped ? Number(f[13]) + Number(f[14]) : 0);
    return ticks / CLK_TCK;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds of a process tree one level deep (a postmaster and its backends): the parent, the children that
 * exited (counted in the parent once reaped) and the children alive now.
 */
export function treeCpuSeconds(pids: readonly number[]): number {
  const [parent, ...children] = pids;
  return cpuSeconds(parent!, true) + children.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}

/** CPU seconds the whole machine has spent busy (every CPU, every process), from /proc/stat. */
export function machineBusySeconds(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
  const busy = ticks.slice(0, 8).reduce((sum, t, i) => (i === 3 || i === 4 ? sum : sum + t!), 0);
  return busy / CLK_TCK;
}

/**
 * This machine is shared: before a timed run, waits (up to `maxWaitMs`) until everything else together keeps
 * less than a quarter of one CPU busy, so other load skews the figures less. Returns the seconds waited.
 */
export async function waitForQuiet(maxWaitMs = 10_000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < maxWaitMs) {
    const before = machineBusySeconds();
    await sleep(500);
    if ((machineBusySeconds() - before) / 0.5 < 0.25) break;
  }
  return round1((performance.now() - started) / 1000);
}

/** VmRSS and VmHWM (peak RSS) of a process, in MB; zeros once it has exited. */
export function memoryMb(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}
