/**
 * What the memory budget charges per entry (src/cache/memory-accounting.ts) against what each
 * structure really takes on the heap, re-measured here in a fresh `node --expose-gc` process per
 * structure (bench/cache-entry-overhead.ts, compiled on the fly with @swc/core). A charge more
 * than 25% off means the constants no longer describe the code (a new field, another Node).
 */
import path from 'node:path';
import { KINDS, measureInChild } from '../../bench/cache-entry-overhead';
import { metadataEntryHeapBytes, stringHeapBytes } from '../../src/cache/memory-accounting';

const repoRoot = path.resolve(__dirname, '../..');

/** A child that compiles TypeScript on require, then runs the measurement module's entry point. */
const TS_HOOK = String.raw`
const fs = require('node:fs');
const swc = require('@swc/core');
require.extensions['.ts'] = (module, filename) => {
  const { code } = swc.transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};
const { measure } = require(process.argv[1]);
const [kind, n] = process.argv.slice(2);
process.stdout.write(JSON.stringify(measure(kind, Number(n), globalThis.gc)));
`;

test.each(KINDS)('%s: the charge is within 25%% of the measured heap bytes', (kind) => {
  const m = measureInChild(kind, 50_000, ['-e', TS_HOOK, path.join(repoRoot, 'bench/cache-entry-overhead.ts')]);
  expect(m.measured).toBeGreaterThan(0);
  expect(m.charged / m.measured).toBeGreaterThanOrEqual(0.75);
  expect(m.charged / m.measured).toBeLessThanOrEqual(1.25);
}, 60_000);

test('strings are charged as V8 stores them: 16 bytes of header, one or two bytes per character, 8-byte aligned', () => {
  expect(stringHeapBytes('')).toBe(16);
  expect(stringHeapBytes('abcdefgh')).toBe(24);
  expect(stringHeapBytes('abcdefghi')).toBe(32);
  expect(stringHeapBytes('é'.repeat(8))).toBe(24); // Latin-1: one byte each
  expect(stringHeapBytes('€'.repeat(8))).toBe(32); // two bytes each
});

test('a metadata entry is charged for what it holds', () => {
  const bare = metadataEntryHeapBytes('tag:k', { info: { key: 'k', size: 1, etag: '"e"', lastModified: new Date(0), userMetadata: {} }, fetchedAt: 0 });
  const fuller = metadataEntryHeapBytes('tag:k', {
    info: { key: 'k', size: 1, etag: '"e"', lastModified: new Date(0), userMetadata: { a: 'x'.repeat(100) }, contentType: 'text/plain', partSizes: [1, 2, 3] },
    fetchedAt: 0,
  });
  expect(fuller - bare).toBe(16 + stringHeapBytes('x'.repeat(100)) + stringHeapBytes('text/plain') + 16 + 24);
  expect(metadataEntryHeapBytes('tag:k', { info: null, fetchedAt: 0 })).toBeLessThan(bare);
});
