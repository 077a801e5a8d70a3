/**
 * A metadata miss that brings the page holding the first byte to be read in the same store
 * round trip (UfsAdapter.readWithInfo, where the store can): the stat resolves as soon as the
 * metadata is known, and the page fills in the background as a PageFill the read that follows
 * joins (it streams the page as it arrives).
 */
import type { ObjectInfo, UfsAdapter } from '../../ufs-adapters/types';
import { pumpInto } from './page-fill';
import type { SharedCache } from './shared-cache';
import { pageKeyOf } from './types';

export interface FirstPageContext {
  store: UfsAdapter;
  shared: SharedCache;
  settings: { pageSize: number; storeIdleTimeoutMs?: number };
  /** Page-id prefix of the version `info` describes. */
  objectId(key: string, info: ObjectInfo): string;
  /**
   * Whether the mount's rules let the page be kept. Asked before the read that follows counts
   * itself (the read does), so it asks without counting.
   */
  admits(objectId: string, size: number): boolean;
}

/** The object's metadata, and the page holding `firstByte` filling in the background. */
export async function statWithPage(ctx: FirstPageContext, key: string, firstByte: number): Promise<ObjectInfo> {
  const { store, shared } = ctx;
  const pageSize = ctx.settings.pageSize;
  const index = Math.floor(firstByte / pageSize);
  const start = index * pageSize;
  const timer = shared.metrics.ufsReadSeconds.labels(store.kind).startTimer();
  shared.metrics.ufsReads.labels(store.kind).inc();
  let info: ObjectInfo;
  let body;
  try {
    ({ info, body } = await (store.readWithInfo as NonNullable<UfsAdapter['readWithInfo']>)(key, { start, end: start + pageSize - 1 }));
  } catch (err) {
    timer();
    throw err;
  }
  const length = Math.max(0, Math.min(info.size, start + pageSize) - start);
  const objectId = ctx.objectId(key, info);
  const pageKey = pageKeyOf(objectId, index);
  if (length === 0 || shared.pageFills.has(pageKey)) {
    body.destroy();
    timer();
    return info;
  }
  shared.metrics.pageLookupCells.cell('miss').add();
  const idleMs = ctx.settings.storeIdleTimeoutMs ?? 30_000;
  const admitted = ctx.admits(objectId, info.size);
  shared.pageFills.start(
    pageKey,
    length,
    (fill) => pumpInto(fill, body, idleMs).finally(timer),
    (fill) => {
      // 'ahead': the read this page belongs to looks it up; that lookup is its first use, not a second.
      if (admitted) shared.pages.put(pageKey, fill.data, 'ahead');
      // Refused by the mount's rules: the read that follows joins this fill; if it came too late
      // to join, it finds the page in the stash instead of reading it again.
      else if (fill.joins === 0) shared.unkept?.put(pageKey, fill.data);
    },
  );
  return info;
}
