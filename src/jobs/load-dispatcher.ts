/**
 * How a preload job reaches the caches: each key goes to the node that owns it. The
 * coordinator groups keys by owner and hands each group to `loadBatch`; the cluster
 * provides the implementation (local calls for this node, an authenticated internal request
 * for the others).
 */

/** One object to load, as the listing saw it. */
export interface LoadTarget {
  key: string;
  size: number;
}

export interface LoadOptions {
  /** Pages already cached are skipped (default true); false re-reads every page. */
  skipCached: boolean;
  /** Cache the metadata only. */
  metadataOnly: boolean;
}

export interface KeyLoadResult {
  key: string;
  ok: boolean;
  /** Bytes read from the store into the cache. */
  bytesLoaded: number;
  /** Bytes that were already cached. */
  bytesSkipped: number;
  /** Why the key failed (S3-style code and message), when !ok. */
  error?: string;
  /** A failure worth retrying (store unavailable, throttled), as opposed to, say, NotFound. */
  retryable?: boolean;
}

export interface LoadDispatcher {
  /** The node whose cache should hold this key (its owner on the ring now). */
  ownerOf(bucket: string, key: string): string;
  /**
   * Has node `nodeId` load the batch into its cache, one result per item in order. Rejects
   * when the node cannot be reached or fails as a whole; the caller retries the batch.
   */
  loadBatch(nodeId: string, bucket: string, items: readonly LoadTarget[], options: LoadOptions, signal: AbortSignal): Promise<KeyLoadResult[]>;
}
