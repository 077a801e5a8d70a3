/**
 * A client that sends its request body too slowly holds a socket, a store upload and a temp file
 * for as long as it likes. The watchdog counts the body's bytes in windows of `idleTimeoutMs`
 * of waiting for the client and fails the body with 400 RequestTimeout (as S3 does) when a window
 * brings fewer than `minBytesPerSecond` x the window (at least one byte: with a rate of 0 it is a
 * plain idle timeout). Time the gateway itself is not reading (the store is slow to take the bytes,
 * so the body is paused) is not the client's and is not counted.
 */
import type { IncomingMessage } from 'node:http';
import { s3Error, type S3Error } from './errors';

interface BodyTimeouts {
  /** Length of a window of waiting for the client's bytes; 0 turns the watchdog off. */
  idleTimeoutMs: number;
  /** Bytes per second each window must bring (averaged over the window). */
  minBytesPerSecond: number;
}

/** The arithmetic of the windows, driven by a clock: `tick` says whether the body is too slow. */
export class BodyRateCheck {
  private received = 0;
  private waited = 0;
  private last: number;
  private readonly needed: number;

  constructor(
    private readonly limits: BodyTimeouts,
    start: number,
  ) {
    this.last = start;
    this.needed = Math.max(1, Math.ceil((limits.minBytesPerSecond * limits.idleTimeoutMs) / 1000));
  }

  bytes(n: number): void {
    this.received += n;
  }

  /** At time `now`; `paused`: the gateway was not reading since the last tick. An error ends the body. */
  tick(now: number, paused: boolean): S3Error | undefined {
    const elapsed = now - this.last;
    this.last = now;
    if (paused) return undefined;
    this.waited += elapsed;
    if (this.waited < this.limits.idleTimeoutMs) return undefined;
    if (this.received < this.needed) {
      const rate = this.limits.minBytesPerSecond > 0 ? ` (at least ${this.limits.minBytesPerSecond} bytes per second are expected)` : '';
      return s3Error('RequestTimeout', `The request body did not arrive fast enough: ${this.received} bytes in ${Math.round(this.waited)} ms${rate}.`);
    }
    this.waited = 0;
    this.received = 0;
    return undefined;
  }
}

/** Ticks per window (the check runs at this granularity). */
const TICKS_PER_WINDOW = 8;

/**
 * Watches `raw` (the request, already piped somewhere) until its body is complete; calls `fail`
 * once with a RequestTimeout error when a window falls short. Returns a function that stops it.
 */
export function watchBody(raw: IncomingMessage, limits: BodyTimeouts, fail: (err: S3Error) => void): () => void {
  if (limits.idleTimeoutMs <= 0 || raw.complete) return () => undefined;
  const check = new BodyRateCheck(limits, performance.now());
  const onData = (chunk: Buffer): void => check.bytes(chunk.length);
  const stop = (): void => {
    clearInterval(timer);
    raw.off('data', onData);
    raw.off('end', stop);
    raw.off('close', stop);
  };
  const timer = setInterval(() => {
    if (raw.complete || raw.destroyed) {
      stop();
      return;
    }
    const err = check.tick(performance.now(), raw.isPaused());
    if (err) {
      stop();
      fail(err);
    }
  }, Math.max(1, Math.floor(limits.idleTimeoutMs / TICKS_PER_WINDOW)));
  timer.unref();
  raw.on('data', onData);
  raw.once('end', stop);
  raw.once('close', stop);
  return stop;
}
