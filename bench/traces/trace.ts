/**
 * Access traces: the in-memory form the simulator replays, and the JSONL file format for
 * generated traces and real access logs (see bench/README.md, "Trace format").
 *
 * In memory, objects are numbered 0..objectCount-1 (dense ids, so the simulator can use
 * typed arrays); a request names an object and optionally a byte range of it.
 *
 * File format: JSON Lines, one GET per line, in request order:
 *   {"t":1718000000123,"bucket":"logs","key":"2024/06/10/part-0001.parquet","size":8388608,"range":"bytes=0-65535"}
 *   t       number, optional: milliseconds (any origin; informational, replay keeps line order)
 *   bucket  string, optional (default ""): an object is identified by bucket + key
 *   key     string, required
 *   size    integer >= 0, required: the size of the whole object (a ranged GET still gives
 *           the object's size: page boundaries are computed from it)
 *   range   string, optional: an HTTP Range header value, "bytes=a-b", "bytes=a-" or
 *           "bytes=-n" (suffix); absent means the whole object
 * Blank lines and lines starting with '#' are ignored. If one object appears with several
 * sizes, the largest is used (a log may span a rewrite; the simulator does not model
 * versions).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

export interface Trace {
  name: string;
  description: string;
  /** Size in bytes of each object, by object id. */
  objectSize: Float64Array;
  /** The object id of each request. */
  requests: Int32Array;
  /**
   * Byte range of each request, [rangeStart, rangeEnd) (end exclusive), or absent when every
   * request reads its whole object. A request whose rangeStart is -1 reads the whole object.
   */
  rangeStart?: Float64Array;
  rangeEnd?: Float64Array;
  /** Request timestamps (ms), when the source had them. */
  timestamps?: Float64Array;
  /** Names of objects (bucket and key), when known: JSONL output uses them. */
  objectName?: (id: number) => { bucket: string; key: string };
}

export interface TraceRecord {
  t?: number;
  bucket?: string;
  key: string;
  size: number;
  range?: string;
}

export class TraceFormatError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}

/** Parses an HTTP Range value against an object size: [start, end) or undefined when unsatisfiable. */
export function parseRange(range: string, size: number): [number, number] | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  if (!m || (m[1] === '' && m[2] === '')) throw new RangeError(`not a single byte range: ${range}`);
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return undefined;
    return [Math.max(0, size - suffix), size];
  }
  const start = Number(m[1]);
  if (start >= size) return undefined;
  const end = m[2] === '' ? size : Math.min(size, Number(m[2]) + 1);
  if (end <= start) throw new RangeError(`range end before start: ${range}`);
  return [start, end];
}

/** Validates one parsed JSONL line. */
export function toRecord(value: unknown, line: number): TraceRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TraceFormatError('not a JSON object', line);
  const v = value as Record<string, unknown>;
  if (typeof v.key !== 'string' || v.key === '') throw new TraceFormatError('"key" must be a non-empty string', line);
  if (!Number.isSafeInteger(v.size) || (v.size as number) < 0) throw new TraceFormatError('"size" must be an integer >= 0', line);
  if (v.bucket !== undefined && typeof v.bucket !== 'string') throw new TraceFormatError('"bucket" must be a string', line);
  if (v.t !== undefined && (typeof v.t !== 'number' || !Number.isFinite(v.t))) throw new TraceFormatError('"t" must be a number', line);
  if (v.range !== undefined && typeof v.range !== 'string') throw new TraceFormatError('"range" must be a string such as "bytes=0-1023"', line);
  return { key: v.key, size: v.size as number, bucket: v.bucket as string | undefined, t: v.t as number | undefined, range: v.range as string | undefined };
}

/** Builds a Trace from records (object ids in order of first appearance). */
export class TraceBuilder {
  private readonly ids = new Map<string, number>();
  private readonly names: { bucket: string; key: string }[] = [];
  private readonly sizes: number[] = [];
  private readonly requestIds: number[] = [];
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly times: number[] = [];
  private ranged = false;
  private timed = false;

  add(record: TraceRecord, line = 0): void {
    const bucket = record.bucket ?? '';
    const name = `${bucket}\u0000${record.key}`;
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.sizes.length;
      this.ids.set(name, id);
      this.names.push({ bucket, key: record.key });
      this.sizes.push(record.size);
    } else if (record.size > this.sizes[id]) this.sizes[id] = record.size;
    let start = -1;
    let end = -1;
    if (record.range !== undefined) {
      let parsed: [number, number] | undefined;
      try {
        parsed = parseRange(record.range, record.size);
      } catch (err) {
        throw new TraceFormatError((err as Error).message, line);
      }
      if (parsed === undefined) return; // 416 in S3: reads nothing, caches nothing
      [start, end] = parsed;
      this.ranged = true;
    }
    this.requestIds.push(id);
    this.starts.push(start);
    this.ends.push(end);
    this.times.push(record.t ?? Number.NaN);
    if (record.t !== undefined) this.timed = true;
  }

  build(name: string, description: string): Trace {
    const names = this.names;
    const trace: Trace = {
      name,
      description,
      objectSize: Float64Array.from(this.sizes),
      requests: Int32Array.from(this.requestIds),
      objectName: (id) => names[id],
    };
    if (this.ranged) {
      trace.rangeStart = Float64Array.from(this.starts);
      trace.rangeEnd = Float64Array.from(this.ends);
    }
    if (this.timed) trace.timestamps = Float64Array.from(this.times);
    return trace;
  }
}

/** Reads a JSONL trace file. */
export async function readTraceFile(path: string, name = path): Promise<Trace> {
  const builder = new TraceBuilder();
  const input = createReadStream(path, 'utf8');
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of lines) {
      line++;
      const trimmed = text.trim();
      if (trimmed === '' || trimmed.startsWith('#')) continue;
      let value: unknown;
      try {
        value = JSON.parse(trimmed);
      } catch {
        throw new TraceFormatError('not valid JSON', line);
      }
      builder.add(toRecord(value, line), line);
    }
  } finally {
    input.destroy(); // a bad line stops the read: close the file rather than read it to the end
  }
  return builder.build(name, `replayed from ${path}`);
}

/** The JSONL lines of a trace (generated traces name their objects `obj-<id>` in bucket "trace"). */
export function* traceLines(trace: Trace): Generator<string> {
  for (let i = 0; i < trace.requests.length; i++) {
    const id = trace.requests[i];
    const { bucket, key } = trace.objectName?.(id) ?? { bucket: 'trace', key: `obj-${id.toString().padStart(8, '0')}` };
    const record: TraceRecord = { t: trace.timestamps?.[i] ?? i, bucket, key, size: trace.objectSize[id] };
    const start = trace.rangeStart?.[i] ?? -1;
    if (start >= 0) record.range = `bytes=${start}-${(trace.rangeEnd as Float64Array)[i] - 1}`;
    yield JSON.stringify(record);
  }
}

/**
 * Converts one line of a plain "key size" list (whitespace-separated; the last field is the
 * size, everything before it the key, so keys may contain spaces) into a record. Returns
 * undefined for blank and '#' lines.
 */
export function keySizeLineToRecord(text: string, line: number, bucket: string, t: number): TraceRecord | undefined {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  const m = /^(.*\S)\s+(\d+)$/.exec(trimmed);
  if (!m) throw new TraceFormatError('expected "<key> <size>"', line);
  const size = Number(m[2]);
  if (!Number.isSafeInteger(size)) throw new TraceFormatError(`size out of range: ${m[2]}`, line);
  return { t, bucket, key: m[1], size };
}
