/**
 * Streams bytes into a brand-new file and makes them durable (fsync) before reporting
 * success. Memory stays bounded by the stream high-water marks.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { removeQuietly } from './temp-files';

export interface NewFileResult {
  size: number;
  /** mtime after the last write and fsync: what the sidecar records. */
  mtimeMs: number;
}

interface NewFileOptions {
  signal?: AbortSignal;
  /** Sees every chunk, in order (used to hash). */
  onChunk?: (chunk: Buffer) => void;
}

/** Errors raised by writing the file itself (as opposed to errors of the source stream). */
const sinkFailures = new WeakSet<object>();

export const isSinkFailure = (err: unknown): boolean => typeof err === 'object' && err !== null && sinkFailures.has(err);

function markSinkFailure(err: unknown): unknown {
  if (typeof err === 'object' && err !== null) sinkFailures.add(err);
  return err;
}

async function writeFully(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

/** A Writable over a FileHandle that it does not close (so the caller can fsync and stat it). */
function handleSink(handle: FileHandle): Writable {
  const write = (data: Buffer, callback: (err?: Error | null) => void): void => {
    writeFully(handle, data).then(
      () => callback(),
      (err: unknown) => callback(markSinkFailure(err) as Error),
    );
  };
  return new Writable({
    write: (chunk: Buffer, _encoding, callback) => write(chunk, callback),
    // Chunks queued while a write was in flight go out in one syscall.
    writev: (chunks, callback) => write(Buffer.concat(chunks.map((c) => c.chunk as Buffer)), callback),
  });
}

/**
 * Creates `filePath` (it must not exist), pipes `source` into it and fsyncs it. On any
 * failure the file is removed and the raw error is rethrown for the caller to classify.
 */
export async function writeNewFile(
  filePath: string,
  source: Readable | AsyncIterable<Buffer>,
  options: NewFileOptions = {},
): Promise<NewFileResult> {
  const handle = await open(filePath, 'wx').catch((err: unknown) => {
    throw markSinkFailure(err);
  });
  let committed = false;
  try {
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        size += chunk.length;
        options.onChunk?.(chunk);
        callback(null, chunk);
      },
    });
    await pipeline(source, meter, handleSink(handle), { signal: options.signal });
    try {
      await handle.sync();
      const { mtimeMs } = await handle.stat();
      committed = true;
      return { size, mtimeMs };
    } catch (err) {
      throw markSinkFailure(err);
    }
  } finally {
    await handle.close().catch(() => undefined);
    if (!committed) await removeQuietly(filePath);
  }
}
