/**
 * Idle watchdogs for the bodies that move between the gateway and a store. Each is a
 * pass-through stage that counts bytes and notices when the store stops making progress:
 *
 * - `watchDownload`: a read from the store. The clock runs only while the consumer is waiting
 *   for data (the stage has room and asked for more); a slow consumer never trips it. After
 *   `idleMs` without a byte the stream fails with UfsError Unavailable and the store's stream
 *   is destroyed (which cancels its request).
 * - `watchUpload`: a body on its way into the store. The clock runs from the last byte the store
 *   took, and trips only if bytes are waiting for the store when it runs out: a client that
 *   sends slowly is not the store's fault (the S3 layer bounds slow clients). `onStall` is
 *   called; the caller aborts the store call. `onEnd` is called once the store took the last
 *   byte.
 */
import { Transform, pipeline, type Readable, type TransformCallback } from 'node:stream';
import { ufsError } from '../../ufs-adapters/errors';

/** One timer per stream, re-armed with refresh() rather than re-created for every chunk. */
class IdleClock {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly ms: number,
    private readonly onExpired: () => void,
  ) {}

  start(): void {
    this.running = true;
    if (this.timer) this.timer.refresh();
    else {
      this.timer = setTimeout(() => {
        if (this.running) {
          this.running = false;
          this.onExpired();
        }
      }, this.ms);
      this.timer.unref();
    }
  }

  pause(): void {
    this.running = false;
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

class DownloadWatch extends Transform {
  private readonly clock: IdleClock;

  constructor(
    idleMs: number,
    private readonly onBytes: (n: number) => void,
  ) {
    super();
    this.clock = new IdleClock(idleMs, () => this.destroy(ufsError('Unavailable', `the store sent nothing for ${idleMs} ms`)));
  }

  override _read(size: number): void {
    this.clock.start(); // the consumer wants data from now on
    super._read(size);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.clock.pause();
    this.onBytes(chunk.length);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.clock.stop();
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.clock.stop();
    callback(err);
  }
}

/**
 * `source` through a download watchdog. pipeline (not pipe) keeps error listeners on both
 * from the start: an error raised before the consumer attaches is stored, not unhandled, and
 * the consumer still receives it; destroying the result destroys `source`.
 */
export function watchDownload(source: Readable, idleMs: number, onBytes: (n: number) => void): Readable {
  return pipeline(source, new DownloadWatch(idleMs, onBytes), () => undefined);
}

class UploadWatch extends Transform {
  private readonly clock: IdleClock;

  constructor(
    idleMs: number,
    private readonly onBytes: (n: number) => void,
    onStall: () => void,
  ) {
    super();
    this.clock = new IdleClock(idleMs, () => {
      // Bytes still waiting for the store: it stopped taking them. Nothing waiting: the client
      // is the slow one; the clock starts again with its next chunk.
      if (this.readableLength > 0 || this.writableLength > 0) onStall();
    });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.clock.start(); // the store made room for this chunk
    this.onBytes(chunk.length);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    // The client is done; what is left in the buffer must still reach the store.
    this.clock.start();
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.clock.stop();
    callback(err);
  }

  stopClock(): void {
    this.clock.stop();
  }
}

interface UploadWatchHandlers {
  onBytes(n: number): void;
  /** The store took nothing for `idleMs` while bytes were waiting. */
  onStall(): void;
  /** The store took the last byte of the body (total bytes). */
  onEnd(bytes: number): void;
}

/** `body` through an upload watchdog (see the header). Destroying the result destroys `body`. */
export function watchUpload(body: Readable, idleMs: number, handlers: UploadWatchHandlers): Readable {
  let bytes = 0;
  const watch = new UploadWatch(
    idleMs,
    (n) => {
      bytes += n;
      handlers.onBytes(n);
    },
    handlers.onStall,
  );
  watch.once('end', () => {
    watch.stopClock();
    handlers.onEnd(bytes);
  });
  return pipeline(body, watch, () => undefined);
}
