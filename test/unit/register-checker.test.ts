/**
 * The Jepsen-style register checker on crafted histories: what it must accept (reads of the
 * latest write, of a concurrent one, of an indeterminate one) and what it must catch (a stale
 * read, a read going back after another read saw newer, a value from the future or from nowhere,
 * nothing read after a write was acknowledged).
 */
import type { Op } from '../jepsen/history';
import { checkRegisters } from '../jepsen/register-checker';

const w = (value: string, invokedAt: number, completedAt: number, outcome: Op['outcome'] = 'ok'): Op => ({ process: 0, type: 'write', key: 'k', value, node: 'n', invokedAt, completedAt, outcome });
const r = (value: string | null, invokedAt: number, completedAt: number): Op => ({ process: 1, type: 'read', key: 'k', value, node: 'n', invokedAt, completedAt, outcome: 'ok' });

describe('register checker', () => {
  it('accepts the latest acknowledged write, a concurrent one, and an indeterminate one', () => {
    expect(checkRegisters([w('a', 0, 10), w('b', 20, 30), r('b', 40, 50)]).violations).toEqual([]);
    // b is concurrent with the read: either value is fine.
    expect(checkRegisters([w('a', 0, 10), w('b', 20, 60), r('a', 40, 50), r('b', 45, 55)]).violations).toEqual([]);
    // c never completed: it may take effect any time after it was invoked.
    expect(checkRegisters([w('a', 0, 10), w('c', 15, 16, 'info'), w('b', 20, 30), r('c', 40, 50)]).violations).toEqual([]);
    expect(checkRegisters([r(null, 0, 5), w('a', 6, 10), r('a', 11, 12)]).violations).toEqual([]);
  });

  it('catches a stale read, a read going back, a value from the future or nowhere, and nothing read after a write', () => {
    expect(checkRegisters([w('a', 0, 10), w('b', 20, 30), r('a', 40, 50)]).violations).toHaveLength(1);
    // b concurrent with both writes... but a read saw b before this read began, which then saw a.
    const back = checkRegisters([w('a', 0, 10), w('b', 20, 100, 'info'), r('b', 30, 40), r('a', 50, 60)]);
    expect(back.violations).toHaveLength(1);
    expect(back.violations[0].reason).toMatch(/superseded by b/);
    expect(checkRegisters([r('a', 0, 5), w('a', 10, 20)]).violations[0].reason).toMatch(/after the read completed/);
    expect(checkRegisters([r('zzz', 0, 5)]).violations[0].reason).toMatch(/no client wrote/);
    expect(checkRegisters([w('a', 0, 10), r(null, 20, 30)]).violations[0].reason).toMatch(/read nothing/);
  });
});
