/**
 * Many waiters on one long-lived signal (a preload job's) cost it one 'abort' listener:
 * untilAborted and Semaphore go through abort-relay.ts. Waiters that finish leave the relay
 * (nothing accumulates); an abort reaches the ones still waiting, in order.
 */
import { getEventListeners } from 'node:events';
import { abortCallbacks, onAbort } from '../../src/util/abort-relay';
import { Semaphore } from '../../src/util/semaphore';
import { untilAborted } from '../../src/util/until-aborted';

const listeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;

test('1000 untilAborted waiters on one signal: one listener; those that settle leave; the rest reject on abort', async () => {
  const controller = new AbortController();
  const { signal } = controller;
  const resolvers: ((v: number) => void)[] = [];
  const waits = Array.from({ length: 1000 }, () => untilAborted(new Promise<number>((resolve) => resolvers.push(resolve)), signal));
  expect(listeners(signal)).toBe(1);
  expect(abortCallbacks(signal)).toBe(1000);
  resolvers.slice(0, 600).forEach((resolve, i) => resolve(i));
  expect(await Promise.all(waits.slice(0, 600))).toEqual(Array.from({ length: 600 }, (_, i) => i));
  expect(abortCallbacks(signal)).toBe(400);
  expect(listeners(signal)).toBe(1);
  controller.abort(new Error('stop'));
  const rest = await Promise.allSettled(waits.slice(600));
  expect(rest.every((r) => r.status === 'rejected' && (r.reason as Error).message === 'stop')).toBe(true);
  expect(abortCallbacks(signal)).toBe(0);
});

test('a signal that many waiters used over time ends with no callbacks left and one listener', async () => {
  const { signal } = new AbortController();
  for (let round = 0; round < 50; round++) {
    await Promise.all(Array.from({ length: 20 }, (_, i) => untilAborted(Promise.resolve(i), signal)));
  }
  expect(abortCallbacks(signal)).toBe(0);
  expect(listeners(signal)).toBe(1);
});

test('Semaphore waiters share the relay: 100 queued on one signal, one listener; an abort empties the queue', async () => {
  const slots = new Semaphore(1);
  const release = await slots.acquire();
  const controller = new AbortController();
  const queued = Array.from({ length: 100 }, () => slots.acquire(controller.signal));
  expect(slots.queued).toBe(100);
  expect(listeners(controller.signal)).toBe(1);
  release();
  (await queued[0])();
  expect(abortCallbacks(controller.signal)).toBe(98);
  controller.abort(new Error('cancelled'));
  const settled = await Promise.allSettled(queued.slice(2));
  expect(settled.every((s) => s.status === 'rejected')).toBe(true);
  expect(slots.queued).toBe(0);
  (await queued[1])();
  expect(slots.inUse).toBe(0);
});

test('callbacks run in the order they joined; one that left is not run', () => {
  const controller = new AbortController();
  const ran: number[] = [];
  onAbort(controller.signal, () => ran.push(1));
  const leave = onAbort(controller.signal, () => ran.push(2));
  onAbort(controller.signal, () => ran.push(3));
  leave();
  controller.abort();
  expect(ran).toEqual([1, 3]);
  expect(abortCallbacks(controller.signal)).toBe(0);
});
