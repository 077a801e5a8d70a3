/** A full scan of the disk tier's environment (tests, tooling): every index entry against every page. */
import { isIndexEntry, type DiskEnvironment } from './disk-lmdb';
import { decodePageRecord } from './page-checksum';

export interface DiskIntegrityReport {
  indexEntries: number;
  indexBytes: number;
  pages: number;
  /** Index entries whose page is missing. */
  missingPages: string[];
  /** Pages without an index entry. */
  orphanPages: string[];
  /** Pages whose checksum does not verify, or whose size differs from the index. */
  badPages: string[];
  /** What the tier's accounting says (in-memory). */
  accountedBytes: number;
  accountedPages: number;
}

/**
 * Compares `index` with `pages`, verifying every checksum. Reads the whole file: for tests and
 * offline checks, not for the serving path. `accounted`: the tier's in-memory accounting, reported
 * beside what the file holds. A disabled tier (no environment) reports only its accounting.
 */
export function scanDiskIntegrity(lmdb: DiskEnvironment | undefined, accounted: { bytes: number; pages: number }): DiskIntegrityReport {
  const report: DiskIntegrityReport = {
    indexEntries: 0,
    indexBytes: 0,
    pages: 0,
    missingPages: [],
    orphanPages: [],
    badPages: [],
    accountedBytes: accounted.bytes,
    accountedPages: accounted.pages,
  };
  if (!lmdb) return report;
  lmdb.env.resetReadTxn();
  const sizes = new Map<string, number>();
  for (const { key, value } of lmdb.index.getRange()) {
    report.indexEntries++;
    const size = isIndexEntry(value) ? value.size : -1;
    report.indexBytes += Math.max(0, size);
    sizes.set(String(key), size);
  }
  for (const key of lmdb.pages.getKeys()) {
    const pageKey = String(key);
    report.pages++;
    const size = sizes.get(pageKey);
    if (size === undefined) {
      report.orphanPages.push(pageKey);
      continue;
    }
    sizes.delete(pageKey);
    const record = lmdb.pages.getBinaryFast(pageKey); // checked, not kept
    const data = record && decodePageRecord(pageKey, record);
    if (!data || data.length !== size) report.badPages.push(pageKey);
  }
  report.missingPages.push(...sizes.keys());
  return report;
}
