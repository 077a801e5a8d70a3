/** Memory and CPU of a process from Linux /proc (undefined elsewhere, or once it is gone). */
import { readFileSync } from 'node:fs';

/** Whether /proc is there (Linux): without it the memory figures are n/a. */
export const HAS_PROC = (() => {
  try {
    readFileSync('/proc/self/status');
    return true;
  } catch {
    return false;
  }
})();

/** The kB fields of /proc/<pid>/status (VmRSS, VmHWM, RssAnon, ...). */
export function procStatus(pid: number | 'self'): Record<string, number> | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(\w+):\s+(\d+) kB$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

/** CPU seconds (user + system) used so far by process `pid`; USER_HZ is 100 on Linux. */
export function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (fields 14 and 15)
  } catch {
    return undefined;
  }
}
