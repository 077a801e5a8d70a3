import { AdmissionGate } from '../../src/cache/policy/admission-gate';

const MiB = 1024 * 1024;

describe('AdmissionGate (per-mount rules)', () => {
  test('without rules every read may store its pages, and nothing is tracked', () => {
    const gate = new AdmissionGate();
    for (let i = 0; i < 100; i++) expect(gate.admits(`m/obj-${i}`, MiB, {})).toBe(true);
    expect(gate.tracked).toBe(0);
  });

  test('maxObjectBytes: larger objects are never cached, at most that size are', () => {
    const gate = new AdmissionGate();
    const rules = { maxObjectBytes: 8 * MiB };
    expect(gate.admits('m/big', 8 * MiB + 1, rules)).toBe(false);
    expect(gate.admits('m/big', 8 * MiB + 1, rules)).toBe(false);
    expect(gate.admits('m/fits', 8 * MiB, rules)).toBe(true);
  });

  test('minUses 2: the first read stores nothing, the second and later reads do', () => {
    const gate = new AdmissionGate();
    const rules = { minUses: 2 };
    expect(gate.admits('m/a', MiB, rules)).toBe(false);
    expect(gate.admits('m/b', MiB, rules)).toBe(false);
    expect(gate.admits('m/a', MiB, rules)).toBe(true);
    expect(gate.admits('m/a', MiB, rules)).toBe(true);
    expect(gate.reads('m/a')).toBe(3);
    expect(gate.reads('m/b')).toBe(1);
    expect(gate.reads('m/never')).toBe(0);
  });

  test('minUses 3 with a size limit: both rules apply', () => {
    const gate = new AdmissionGate();
    const rules = { minUses: 3, maxObjectBytes: MiB };
    expect([1, 2, 3].map(() => gate.admits('m/small', 1000, rules))).toEqual([false, false, true]);
    expect([1, 2, 3].map(() => gate.admits('m/large', 2 * MiB, rules))).toEqual([false, false, false]);
  });

  test('counts are kept for the most recent maxTrackedObjects objects only', () => {
    const gate = new AdmissionGate({ maxTrackedObjects: 100 });
    const rules = { minUses: 2 };
    gate.admits('m/early', MiB, rules);
    for (let i = 0; i < 100; i++) gate.admits(`m/filler-${i}`, MiB, rules);
    expect(gate.tracked).toBe(100);
    expect(gate.reads('m/early')).toBe(0);
    expect(gate.admits('m/early', MiB, rules)).toBe(false); // forgotten: counts as a first read again
    expect(gate.admits('m/filler-99', MiB, rules)).toBe(true);
  });

  test('rules are per call: two mounts with different rules share one gate', () => {
    const gate = new AdmissionGate();
    expect(gate.admits('archive/x', MiB, { minUses: 2 })).toBe(false);
    expect(gate.admits('hot/x', MiB, {})).toBe(true);
    expect(gate.admits('archive/x', MiB, { minUses: 2 })).toBe(true);
  });

  test('wouldAdmit() answers for the next read without counting one', () => {
    const gate = new AdmissionGate();
    expect(gate.wouldAdmit('m/a', MiB, { minUses: 2 })).toBe(false);
    expect(gate.reads('m/a')).toBe(0);
    expect(gate.admits('m/a', MiB, { minUses: 2 })).toBe(false);
    expect(gate.wouldAdmit('m/a', MiB, { minUses: 2 })).toBe(true);
    expect(gate.wouldAdmit('m/a', MiB, { minUses: 2, maxObjectBytes: MiB - 1 })).toBe(false);
    expect(gate.wouldAdmit('m/b', MiB, {})).toBe(true);
    expect(gate.reads('m/a')).toBe(1);
  });

  test('clear() forgets counts; a bad bound is refused', () => {
    const gate = new AdmissionGate();
    gate.admits('m/a', MiB, { minUses: 2 });
    gate.clear();
    expect(gate.tracked).toBe(0);
    expect(gate.admits('m/a', MiB, { minUses: 2 })).toBe(false);
    expect(() => new AdmissionGate({ maxTrackedObjects: 0 })).toThrow(RangeError);
  });
});
