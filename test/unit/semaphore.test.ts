import { Semaphore } from '../../src/util/semaphore';

describe('Semaphore', () => {
  test('at most `limit` holders; a freed slot goes to the first waiter, nobody slips in between', async () => {
    const slots = new Semaphore(1);
    const order: string[] = [];
    const release = await slots.acquire();
    const waiter = slots.acquire().then((r) => {
      order.push('waiter');
      return r;
    });
    release();
    // Asked after the release, before the waiter ran: it must queue behind the waiter.
    const late = slots.acquire().then((r) => {
      order.push('late');
      return r;
    });
    const second = await waiter;
    expect(slots.inUse).toBe(1);
    second();
    (await late)();
    expect(order).toEqual(['waiter', 'late']);
    expect(slots.inUse).toBe(0);
  });

  test('a waiter whose signal fires leaves the queue with the reason and takes no slot', async () => {
    const slots = new Semaphore(1);
    const release = await slots.acquire();
    const controller = new AbortController();
    const gone = slots.acquire(controller.signal);
    const next = slots.acquire();
    expect(slots.queued).toBe(2);
    const reason = new Error('client left');
    controller.abort(reason);
    await expect(gone).rejects.toBe(reason);
    expect(slots.queued).toBe(1);
    release();
    (await next)();
    expect(slots.inUse).toBe(0);
    await expect(slots.acquire(AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(slots.inUse).toBe(0);
  });

  test('releasing twice gives back one slot; run() releases when the work settles', async () => {
    const slots = new Semaphore(2);
    const release = await slots.acquire();
    release();
    release();
    expect(slots.inUse).toBe(0);
    await expect(slots.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await slots.run(async () => 'done')).toBe('done');
    expect(slots.inUse).toBe(0);
  });
});
