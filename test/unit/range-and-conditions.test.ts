import { checkConditions, checkCopySourceConditions, etagMatches } from '../../src/s3/conditions';
import { parseRange } from '../../src/s3/range';

describe('parseRange', () => {
  test.each([
    ['bytes=0-9', 100, { start: 0, end: 9 }],
    ['bytes=90-', 100, { start: 90, end: 99 }],
    ['bytes=-10', 100, { start: 90, end: 99 }],
    ['bytes=-500', 100, { start: 0, end: 99 }],
    ['bytes=50-5000', 100, { start: 50, end: 99 }],
    ['bytes=0-0', 1, { start: 0, end: 0 }],
  ])('%s of %d bytes', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });

  test.each([['bytes=0-1,5-6'], ['items=0-1'], ['bytes=9-3'], ['bytes=-'], ['garbage']])('%s is ignored (whole object)', (header) => {
    expect(parseRange(header, 100)).toBeUndefined();
  });

  test.each([
    ['bytes=100-', 100],
    ['bytes=-0', 100],
    ['bytes=0-', 0],
  ])('%s of %d bytes is 416 InvalidRange with Content-Range */size', (header, size) => {
    expect(() => parseRange(header, size)).toThrow(
      expect.objectContaining({ code: 'InvalidRange', status: 416, headers: { 'content-range': `bytes */${size}` } }),
    );
  });
});

describe('conditional requests', () => {
  const v = { etag: '"abc"', lastModified: new Date('2026-01-02T03:04:05.678Z') };
  const before = 'Thu, 01 Jan 2026 00:00:00 GMT';
  const same = 'Fri, 02 Jan 2026 03:04:05 GMT';
  const after = 'Sat, 03 Jan 2026 00:00:00 GMT';
  const code = (fn: () => void): string | undefined => {
    try {
      fn();
      return undefined;
    } catch (err) {
      return (err as { code: string }).code;
    }
  };

  test('etag lists, quotes, weak tags and *', () => {
    expect(etagMatches('"abc"', '"abc"')).toBe(true);
    expect(etagMatches('abc', '"abc"')).toBe(true);
    expect(etagMatches('"x", W/"abc"', '"abc"')).toBe(true);
    expect(etagMatches('*', '"abc"')).toBe(true);
    expect(etagMatches('"x"', '"abc"')).toBe(false);
  });

  test.each([
    [{ ifMatch: '"abc"' }, undefined],
    [{ ifMatch: '"zzz"' }, 'PreconditionFailed'],
    [{ ifUnmodifiedSince: before }, 'PreconditionFailed'],
    [{ ifUnmodifiedSince: same }, undefined],
    [{ ifMatch: '"abc"', ifUnmodifiedSince: before }, undefined],
    [{ ifNoneMatch: '"abc"' }, 'NotModified'],
    [{ ifNoneMatch: '"zzz"' }, undefined],
    [{ ifModifiedSince: same }, 'NotModified'],
    [{ ifModifiedSince: after }, 'NotModified'],
    [{ ifModifiedSince: before }, undefined],
    [{ ifNoneMatch: '"zzz"', ifModifiedSince: after }, undefined],
    [{ ifModifiedSince: 'not a date' }, undefined],
  ])('%j -> %s', (conditions, expected) => {
    expect(code(() => checkConditions(conditions, v))).toBe(expected);
  });

  test('copy-source conditions answer 412 where GET would answer 304', () => {
    expect(code(() => checkCopySourceConditions({ ifNoneMatch: '"abc"' }, v))).toBe('PreconditionFailed');
    expect(code(() => checkCopySourceConditions({ ifModifiedSince: after }, v))).toBe('PreconditionFailed');
  });
});
