/**
 * The body rate check (src/s3/body-watchdog.ts) on an injected clock: windows of waiting for the
 * client, the bytes each must bring, and paused time (the store not taking bytes) not counted.
 */
import { BodyRateCheck } from '../../src/s3/body-watchdog';

const run = (check: BodyRateCheck, steps: Array<[number, boolean, number?]>): (string | undefined)[] =>
  steps.map(([at, paused, bytes]) => {
    if (bytes) check.bytes(bytes);
    return check.tick(at, paused)?.code;
  });

test('a window with fewer bytes than the rate asks fails with RequestTimeout; enough bytes start a new window', () => {
  const check = new BodyRateCheck({ idleTimeoutMs: 1000, minBytesPerSecond: 100 }, 0);
  // 100 bytes needed per 1 s window.
  expect(run(check, [[500, false, 60], [1000, false, 40]])).toEqual([undefined, undefined]);
  expect(run(check, [[1500, false, 50], [2000, false, 49]])).toEqual([undefined, 'RequestTimeout']);
});

test('one byte every 5 s never satisfies 1 KiB/s: the first window fails', () => {
  const check = new BodyRateCheck({ idleTimeoutMs: 20_000, minBytesPerSecond: 1024 }, 0);
  const results = [];
  for (let t = 5000; t <= 20_000; t += 5000) {
    check.bytes(1);
    results.push(check.tick(t, false)?.code);
  }
  expect(results).toEqual([undefined, undefined, undefined, 'RequestTimeout']);
});

test('with a rate of 0 only a window without any byte fails (an idle timeout)', () => {
  const check = new BodyRateCheck({ idleTimeoutMs: 1000, minBytesPerSecond: 0 }, 0);
  expect(run(check, [[1000, false, 1], [2000, false, 1], [3000, false]])).toEqual([undefined, undefined, 'RequestTimeout']);
});

test("time the gateway is not reading (paused by the store) is not the client's", () => {
  const check = new BodyRateCheck({ idleTimeoutMs: 1000, minBytesPerSecond: 100 }, 0);
  expect(run(check, [[900, false], [60_000, true], [60_050, false]])).toEqual([undefined, undefined, undefined]);
  expect(check.tick(60_150, false)?.code).toBe('RequestTimeout');
});

test('the message says how much arrived and what was expected', () => {
  const check = new BodyRateCheck({ idleTimeoutMs: 1000, minBytesPerSecond: 2048 }, 0);
  check.bytes(10);
  expect(check.tick(1000, false)?.message).toBe('The request body did not arrive fast enough: 10 bytes in 1000 ms (at least 2048 bytes per second are expected).');
});
