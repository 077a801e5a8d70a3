/**
 * Deterministic object content for the memory benchmarks: nothing compresses or repeats, any
 * range can be regenerated to check it, and no more than one chunk is built at a time.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { MiB } from './bench-run';

const CHUNK = MiB; // generator granularity
const STAMP_EVERY = 4096; // every 4 KiB block of an object is unique

/**
 * Content of object `seed`: byte p is BASE[p mod 1 MiB], except that the first 8 bytes of
 * every 4 KiB block hold (block index, seed). Any range can be regenerated for checking.
 */
export class Pattern {
  private static readonly base = randomBytes(CHUNK);
  private readonly scratch = Buffer.allocUnsafe(CHUNK);

  constructor(private readonly seed: number) {}

  /** Writes chunk `c` (a whole 1 MiB chunk) at target[offset]. */
  private writeChunk(target: Buffer, offset: number, c: number): void {
    Pattern.base.copy(target, offset);
    const firstBlock = c * (CHUNK / STAMP_EVERY);
    for (let b = 0; b < CHUNK / STAMP_EVERY; b++) {
      const at = offset + b * STAMP_EVERY;
      target.writeUInt32LE((firstBlock + b) >>> 0, at);
      target.writeUInt32LE(this.seed >>> 0, at + 4);
    }
  }

  /** Fills `target` with the object's bytes starting at object offset `position`. */
  fill(target: Buffer, position: number): Buffer {
    let done = 0;
    while (done < target.length) {
      const abs = position + done;
      const c = Math.floor(abs / CHUNK);
      const within = abs - c * CHUNK;
      const n = Math.min(CHUNK - within, target.length - done);
      if (within === 0 && n === CHUNK) {
        this.writeChunk(target, done, c);
      } else {
        this.writeChunk(this.scratch, 0, c);
        this.scratch.copy(target, done, within, within + n);
      }
      done += n;
    }
    return target;
  }

  /** Bytes [start, start+length) as a stream of fresh <= 1 MiB buffers; `onChunk` sees each one. */
  stream(start: number, length: number, onChunk: (chunk: Buffer) => void): Readable {
    const self = this;
    function* chunks(): Generator<Buffer> {
      for (let pos = start; pos < start + length; ) {
        const n = Math.min(CHUNK - (pos % CHUNK), start + length - pos);
        const chunk = self.fill(Buffer.allocUnsafe(n), pos);
        onChunk(chunk);
        yield chunk;
        pos += n;
      }
    }
    return Readable.from(chunks(), { objectMode: false, highWaterMark: CHUNK });
  }

  /** SHA-256 of bytes [start, start+length), computed without holding them. */
  sha256(start: number, length: number): string {
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    for (let pos = start; pos < start + length; ) {
      const n = Math.min(CHUNK, start + length - pos);
      hash.update(this.fill(buf.subarray(0, n), pos));
      pos += n;
    }
    return hash.digest('hex');
  }
}
