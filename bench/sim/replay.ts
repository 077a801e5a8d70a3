/** Replays a page trace against a SimCache (or takes Belady's per-request hits) and counts. */
import type { PageTrace } from '../traces/pages';
import { MEMORY, MISS, type SimCache } from './tiers';

export interface ReplayResult {
  name: string;
  /** Bytes served from the cache / bytes requested (page bytes: a miss reads whole pages). */
  byteHitRatio: number;
  /** Requests served entirely from the cache / requests. */
  objectHitRatio: number;
  /** Bytes served from the memory tier / bytes requested (single policies: all hits). */
  memoryByteRatio: number;
  requests: number;
  bytes: number;
}

export function replay(cache: SimCache, trace: PageTrace): ReplayResult {
  const { pages, requestStart, pageSize } = trace;
  const n = requestStart.length - 1;
  let bytes = 0;
  let hitBytes = 0;
  let memoryBytes = 0;
  let requestHits = 0;
  for (let i = 0; i < n; i++) {
    let all = true;
    if (cache.startRequest) {
      const object = trace.requestObject[i];
      cache.startRequest(object, trace.objectSize[object]);
    }
    for (let k = requestStart[i]; k < requestStart[i + 1]; k++) {
      const page = pages[k];
      const size = pageSize[page];
      const served = cache.request(page, size);
      bytes += size;
      if (served === MISS) all = false;
      else {
        hitBytes += size;
        if (served === MEMORY) memoryBytes += size;
      }
    }
    if (all) requestHits++;
  }
  return result(cache.name, n, bytes, hitBytes, memoryBytes, requestHits);
}

/** Counts a per-page-request hit vector (Belady). */
export function countHits(name: string, trace: PageTrace, hits: Uint8Array): ReplayResult {
  const { pages, requestStart, pageSize } = trace;
  const n = requestStart.length - 1;
  let bytes = 0;
  let hitBytes = 0;
  let requestHits = 0;
  for (let i = 0; i < n; i++) {
    let all = true;
    for (let k = requestStart[i]; k < requestStart[i + 1]; k++) {
      const size = pageSize[pages[k]];
      bytes += size;
      if (hits[k]) hitBytes += size;
      else all = false;
    }
    if (all) requestHits++;
  }
  return result(name, n, bytes, hitBytes, hitBytes, requestHits);
}

function result(name: string, requests: number, bytes: number, hitBytes: number, memoryBytes: number, requestHits: number): ReplayResult {
  return {
    name,
    byteHitRatio: bytes === 0 ? 0 : hitBytes / bytes,
    objectHitRatio: requests === 0 ? 0 : requestHits / requests,
    memoryByteRatio: bytes === 0 ? 0 : memoryBytes / bytes,
    requests,
    bytes,
  };
}
