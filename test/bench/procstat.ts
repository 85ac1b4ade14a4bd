/**
 * Resident memory and CPU time of another process, read from Linux's /proc
 * (`/proc/<pid>/status` VmRSS/VmHWM, `/proc/<pid>/stat` utime+stime).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** Kernel clock ticks per second (`getconf CLK_TCK`), read once. */
export function clockTicksPerSecond(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  if (!(clockTicks > 0)) throw new Error('getconf CLK_TCK gave no usable value');
  return clockTicks;
}

function statusField(pid: number, field: string): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
  if (m === null) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(m[1]) * 1024;
}

/** Resident set size now, in bytes. */
export function rssBytes(pid: number): number {
  return statusField(pid, 'VmRSS');
}

/** Peak resident set size so far, in bytes. */
export function peakRssBytes(pid: number): number {
  return statusField(pid, 'VmHWM');
}

/** User + system CPU seconds the process has used. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return (utime + stime) / clockTicksPerSecond();
}

/** A CPU measurement window over one process. */
export interface CpuWindow {
  /** Ends the window: CPU seconds used, wall seconds, and their ratio (1 = one full core). */
  stop(): { readonly cpuSeconds: number; readonly wallSeconds: number; readonly cores: number };
}

/** Starts measuring the CPU of `pid`. */
export function cpuWindow(pid: number): CpuWindow {
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  return {
    stop() {
      const cpu = cpuSeconds(pid) - cpu0;
      const wall = (performance.now() - t0) / 1000;
      return { cpuSeconds: cpu, wallSeconds: wall, cores: cpu / wall };
    },
  };
}
