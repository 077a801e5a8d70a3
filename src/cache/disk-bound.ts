/**
 * How large the disk tier's LMDB file can grow for a page-byte quota: what the README documents,
 * and what test/unit/disk-tier-bound.test.ts checks under a write load that keeps the backlog full.
 *
 *   file <= quota x rounding(pageSize) + 2 x write backlog cap + 2 MiB
 *
 * - rounding: each page is stored as LMDB overflow pages (4 KiB) holding a 24-byte header, the
 *   4-byte checksum and the data: +6.25% for 64 KiB pages, +0.4% for 1 MiB pages;
 * - the write backlog (DiskTier.maxPendingBytes: quota / 8, clamped to 8..64 MiB): a transaction's
 *   evictions free pages only once it has committed and the transaction before it is synced, so
 *   up to about two backlogs of pages are allocated beside the live ones;
 * - 2 MiB: the B-trees of the index and metadata, the free list, the meta pages.
 * At 10 GiB with 1 MiB pages that is 1.017x the quota; at 32 MiB with 64 KiB pages 1.63x
 * (measured: 1.35x), and a quota of a few MiB is dominated by the 8 MiB backlog floor.
 */
const LMDB_PAGE = 4096;
const LMDB_OVERFLOW_HEADER = 24;
const CHECKSUM_BYTES = 4;
const FIXED_BYTES = 2 * 1024 * 1024;

/** Bytes of LMDB pages one cached page of `pageSize` bytes occupies. */
export const storedPageBytes = (pageSize: number): number =>
  Math.ceil((LMDB_OVERFLOW_HEADER + CHECKSUM_BYTES + pageSize) / LMDB_PAGE) * LMDB_PAGE;

/** The documented upper bound of the data file for `maxBytes` of pages of `pageSize`, with a backlog cap of `maxPendingBytes`. */
export function diskFileBound(maxBytes: number, pageSize: number, maxPendingBytes: number): number {
  return Math.ceil((maxBytes * storedPageBytes(pageSize)) / pageSize) + 2 * maxPendingBytes + FIXED_BYTES;
}
