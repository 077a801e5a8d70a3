/**
 * Human renderings of jobs for the CLI: the progress line (with or without a bar), the
 * final summary, and the jobs table. Pure functions of a JobView.
 */
import type { JobView } from './job-types';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0)} ${UNITS[unit]}`;
}

/** 75 -> "1:15", 3725 -> "1:02:05". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** Fraction done (0..1), by bytes, or by files when there are no bytes to move; null while the total is unknown. */
function fractionDone(job: JobView): number | null {
  const p = job.progress;
  const filesTotal = p.filesTotal ?? (p.listingComplete ? p.filesListed : null);
  const bytesTotal = p.bytesTotal ?? (p.listingComplete ? p.bytesListed : null);
  if (job.state === 'completed') return 1;
  if (job.spec.options.metadataOnly || bytesTotal === 0) return filesTotal ? Math.min(1, p.filesDone / filesTotal) : filesTotal === 0 ? 1 : null;
  return bytesTotal ? Math.min(1, p.bytesDone / bytesTotal) : null;
}

/**
 * "[#########-----------]  45%  1.10 GiB / 2.45 GiB  files 120/300 (10 skipped, 0 failed)  35.2 MiB/s  ETA 0:41"
 * A total still being counted shows what was listed so far with a "+".
 */
export function progressLine(job: JobView, options: { bar?: boolean; barWidth?: number } = {}): string {
  const p = job.progress;
  const fraction = fractionDone(job);
  const width = options.barWidth ?? 20;
  const filled = fraction === null ? 0 : Math.round(fraction * width);
  const parts: string[] = [];
  if (options.bar) parts.push(`[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`);
  else parts.push(`${job.id} ${job.state}`);
  parts.push(fraction === null ? '  ?%' : `${String(Math.floor(fraction * 100)).padStart(3)}%`);
  const bytesTotal = p.bytesTotal ?? p.bytesListed;
  const filesTotal = p.filesTotal ?? p.filesListed;
  const more = p.filesTotal === null && !p.listingComplete ? '+' : '';
  parts.push(`${formatBytes(p.bytesDone)} / ${formatBytes(bytesTotal)}${more}`);
  parts.push(`files ${p.filesDone}/${filesTotal}${more} (${p.filesSkipped} skipped, ${p.filesFailed} failed)`);
  parts.push(`${formatBytes(p.throughputBytesPerSecond)}/s`);
  parts.push(p.etaSeconds === null ? 'ETA --' : `ETA ${formatDuration(p.etaSeconds)}`);
  return parts.join('  ');
}

/** The last words about a finished job, over a few lines. */
export function summary(job: JobView): string {
  const p = job.progress;
  const lines = [
    `job ${job.id} ${job.state} in ${formatDuration(p.elapsedSeconds)}: ${p.filesDone} files (${p.filesLoaded} loaded, ${p.filesSkipped} skipped, ${p.filesFailed} failed), ` +
      `${formatBytes(p.bytesLoaded)} loaded, ${formatBytes(p.bytesSkipped)} already cached, ${formatBytes(p.throughputBytesPerSecond)}/s`,
  ];
  if (job.reason) lines.push(`reason: ${job.reason}`);
  if (p.recentFailures.length > 0) {
    lines.push(`last failures (${p.recentFailures.length} of ${p.filesFailed}):`);
    for (const f of p.recentFailures) lines.push(`  ${f.key}: ${f.error} (${f.attempts} attempt${f.attempts === 1 ? '' : 's'})`);
  }
  return lines.join('\n');
}

/** Jobs as an aligned table, newest first. */
export function jobsTable(jobs: readonly JobView[]): string {
  if (jobs.length === 0) return 'no jobs';
  const rows = [
    ['ID', 'STATE', 'TARGET', 'DONE', 'FILES', 'LOADED', 'FAILED', 'ELAPSED', 'CREATED'],
    ...jobs.map((job) => {
      const p = job.progress;
      const fraction = fractionDone(job);
      return [
        job.id,
        job.state,
        `${job.spec.bucket}/${job.spec.prefix}`,
        fraction === null ? '?' : `${Math.floor(fraction * 100)}%`,
        `${p.filesDone}/${p.filesTotal ?? p.filesListed}`,
        formatBytes(p.bytesLoaded),
        String(p.filesFailed),
        formatDuration(p.elapsedSeconds),
        job.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      ];
    }),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')).join('\n');
}
