/** Per-CPU busy time from /proc/stat. */
import { readFileSync } from 'node:fs';

export interface CpuTimes {
  busy: number[];
  total: number[];
}

/** Per-CPU busy and total jiffies from /proc/stat (empty off Linux). */
export function cpuTimes(): CpuTimes {
  const out: CpuTimes = { busy: [], total: [] };
  let text = '';
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return out;
  }
  for (const m of text.matchAll(/^cpu(\d+) (.*)$/gm)) {
    const f = m[2].trim().split(/\s+/).map(Number);
    const idle = f[3] + (f[4] ?? 0); // idle + iowait
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // without guest (already in user)
    out.busy[Number(m[1])] = total - idle;
    out.total[Number(m[1])] = total;
  }
  return out;
}

export function busyPercent(a: CpuTimes, b: CpuTimes): number[] {
  return b.total.map((t, i) => {
    const dt = t - (a.total[i] ?? 0);
    return dt > 0 ? (100 * (b.busy[i] - (a.busy[i] ?? 0))) / dt : 0;
  });
}
