/**
 * A trace cut into the units a cache stores: pages of `pageSize` bytes (the gateway's
 * default is 1 MiB; an object of 64 KiB is one page of 64 KiB, the last page of an object
 * is shorter), or whole objects (pageSize Infinity). A request becomes the pages its byte
 * range covers, as the gateway's page reader does.
 */
import type { Trace } from './trace';

export interface PageTrace {
  /** Page ids requested, all requests concatenated. */
  pages: Int32Array;
  /** Requests' slices of `pages`: request i is pages[requestStart[i] .. requestStart[i+1]). */
  requestStart: Int32Array;
  /** Size in bytes of each page, by page id. */
  pageSize: Float64Array;
  /** The object id of each request, and each object's size (admission rules work per object). */
  requestObject: Int32Array;
  objectSize: Float64Array;
  /** Page count of all distinct pages (the length of pageSize). */
  distinctPages: number;
}

/** Cuts a trace into page requests; pageSize Infinity keeps whole objects. */
export function toPages(trace: Trace, pageSize: number): PageTrace {
  if (!(pageSize > 0)) throw new RangeError(`pageSize must be > 0, got ${pageSize}`);
  const objects = trace.objectSize.length;
  const firstPage = new Float64Array(objects + 1);
  for (let id = 0; id < objects; id++) firstPage[id + 1] = firstPage[id] + pageCount(trace.objectSize[id], pageSize);
  const distinctPages = firstPage[objects];
  if (distinctPages > 0x7fffffff) throw new RangeError(`too many pages (${distinctPages}); use a larger page size`);
  const size = new Float64Array(distinctPages);
  for (let id = 0; id < objects; id++) {
    const objectSize = trace.objectSize[id];
    const count = pageCount(objectSize, pageSize);
    for (let p = 0; p < count; p++) size[firstPage[id] + p] = Number.isFinite(pageSize) ? Math.min(pageSize, objectSize - p * pageSize) : objectSize;
  }
  const n = trace.requests.length;
  const requestStart = new Int32Array(n + 1);
  let total = 0;
  const span = (i: number): [number, number] => {
    const id = trace.requests[i];
    const objectSize = trace.objectSize[id];
    const start = trace.rangeStart?.[i] ?? -1;
    if (start < 0 || !Number.isFinite(pageSize)) return [0, pageCount(objectSize, pageSize)];
    const end = (trace.rangeEnd as Float64Array)[i];
    return [Math.floor(start / pageSize), Math.floor((end - 1) / pageSize) + 1];
  };
  for (let i = 0; i < n; i++) {
    const [a, b] = span(i);
    requestStart[i] = total;
    total += b - a;
  }
  requestStart[n] = total;
  const pages = new Int32Array(total);
  for (let i = 0; i < n; i++) {
    const [a] = span(i);
    const base = firstPage[trace.requests[i]];
    for (let k = requestStart[i]; k < requestStart[i + 1]; k++) pages[k] = base + a + (k - requestStart[i]);
  }
  return { pages, requestStart, pageSize: size, distinctPages, requestObject: trace.requests, objectSize: trace.objectSize };
}

/** Pages of an object: at least one (an empty object is one empty page). */
function pageCount(objectSize: number, pageSize: number): number {
  return Number.isFinite(pageSize) ? Math.max(1, Math.ceil(objectSize / pageSize)) : 1;
}
