/**
 * Which of two records of one job wins where they meet (src/jobs/job-sharing.ts compareRecords):
 * the later claim; of two claims of one term, an ended job (a cancel acknowledged to its client)
 * over a running one whatever the node ids; then the claimant's id; then the later save.
 */
import { compareRecords } from '../../src/jobs/job-sharing';
import type { Job } from '../../src/jobs/job-types';

const record = (fields: Partial<Job>): Job => ({ id: 'j1', state: 'running', coordinator: 'node-a', term: 1, seq: 1, spec: {}, progress: {}, ...fields }) as unknown as Job;

describe('compareRecords', () => {
  it('a later claim wins, whatever its state', () => {
    expect(compareRecords(record({ term: 3 }), record({ term: 2, state: 'cancelled' }))).toBeGreaterThan(0);
  });

  it('of one term, a cancelled record beats a running one, both ways round and whatever the node ids', () => {
    const cancelledByA = record({ term: 2, coordinator: 'node-a', state: 'cancelled', seq: 1 });
    const takenOverByB = record({ term: 2, coordinator: 'node-b', state: 'running', seq: 5 });
    expect(compareRecords(cancelledByA, takenOverByB)).toBeGreaterThan(0);
    expect(compareRecords(takenOverByB, cancelledByA)).toBeLessThan(0);
  });

  it('of one term and both running (or both ended), the greater node id, then the later save', () => {
    expect(compareRecords(record({ coordinator: 'node-b' }), record({ coordinator: 'node-a', seq: 9 }))).toBeGreaterThan(0);
    expect(compareRecords(record({ state: 'completed', coordinator: 'node-a' }), record({ state: 'cancelled', coordinator: 'node-b' }))).toBeLessThan(0);
    expect(compareRecords(record({ seq: 3 }), record({ seq: 2 }))).toBeGreaterThan(0);
    expect(compareRecords(record({}), record({}))).toBe(0);
  });
});
