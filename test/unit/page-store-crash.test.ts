/**
 * kill -9 consistency of the disk tier: a child process runs the real page store (compiled on
 * the fly with @swc/core, same LMDB options as production: a small memory tier in front of the
 * disk tier, one S3-FIFO over both) and fills, reads (moving pages between the tiers), evicts
 * and drops in a loop; it is SIGKILLed mid-loop, and the environment must reopen with every
 * index entry backed by a page whose checksum verifies, no page without an index entry, the
 * accounting equal to the sum of index sizes and within the quota, and the policy rebuilt
 * from exactly the pages on disk.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DiskTier } from '../../src/cache/disk-tier';
import { TieredPageStore } from '../../src/cache/tiered-page-store';
import type { PageStoreEvents } from '../../src/cache/types';

const repoRoot = path.resolve(__dirname, '../..');
const storeModule = path.join(repoRoot, 'src/cache/tiered-page-store.ts');
const QUOTA = 2 * 1024 * 1024;
const MEMORY = 256 * 1024;

/** The child: argv = [store module, env dir, quota, memory, first page index]. Prints "wrote N" as it goes. */
const CHILD = String.raw`
const fs = require('node:fs');
const crypto = require('node:crypto');
const swc = require('@swc/core');
require.extensions['.ts'] = (module, filename) => {
  const { code } = swc.transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};
const [storeModule, dir, quota, memory, start] = process.argv.slice(1);
const { TieredPageStore } = require(storeModule);
const report = (line) => process.stderr.write(line + '\n');
const store = new TieredPageStore({
  disk: { path: dir, maxBytes: Number(quota) },
  memoryBytes: Number(memory),
  pageSize: 64 * 1024,
  events: {
    stored() {}, evicted() {},
    checksumFailure() { report('checksum failure'); },
    error(op, err) { report('error ' + op + ' ' + err); },
  },
});
let i = Number(start);
const keys = [];
(async () => {
  for (;;) {
    for (let k = 0; k < 16; k++) {
      const key = 'obj' + String(crypto.randomInt(20)).padStart(2, '0') + '/' + (i++).toString(16).padStart(8, '0');
      store.put(key, crypto.randomBytes(1 + crypto.randomInt(64 * 1024)));
      keys.push(key);
      for (let r = 0; r < 2; r++) {
        // Mostly recent keys (hits in memory and on disk), some old ones (misses).
        const probe = keys[Math.max(0, keys.length - 1 - crypto.randomInt(r === 0 ? 64 : keys.length))];
        const got = store.get(probe);
        if (got && got.data.length === 0) report('empty read');
      }
      if (crypto.randomInt(300) === 0) void store.dropObject('obj' + String(crypto.randomInt(20)).padStart(2, '0'));
    }
    if (i % 128 === 0) process.stdout.write('wrote ' + i + '\n');
    await new Promise((resolve) => setImmediate(resolve));
  }
})();
`;

const silentEvents = (errors: string[]): PageStoreEvents => ({
  stored: () => undefined,
  evicted: () => undefined,
  checksumFailure: () => void errors.push('checksum failure'),
  error: (op, err) => void errors.push(`${op}: ${String(err)}`),
});

/** Runs the child until it has issued `writes` more puts, then SIGKILLs it. */
function runAndKill(dir: string, start: number, writes: number): Promise<{ wrote: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD, storeModule, dir, String(QUOTA), String(MEMORY), String(start)], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let wrote = start;
    let stderr = '';
    let killed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child made no progress past ${wrote}; stderr: ${stderr}`));
    }, 30_000);
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      for (const match of chunk.toString().matchAll(/wrote (\d+)/g)) wrote = Number(match[1]);
      if (!killed && wrote >= start + writes) {
        killed = true;
        // A little later, at a point unrelated to the write loop's rhythm.
        setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 20));
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && killed) resolve({ wrote, stderr });
      else reject(new Error(`child exited on its own (code ${code}, signal ${signal}); stderr: ${stderr}`));
    });
  });
}

test('the disk tier reopens consistent after kill -9 mid-write, repeatedly', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ringcache-crash-'));
  try {
    let next = 0;
    for (let round = 0; round < 3; round++) {
      const { wrote, stderr } = await runAndKill(dir, next, 1500);
      expect(stderr).toBe('');
      next = wrote + 1024; // fresh keys for the next child

      const errors: string[] = [];
      const tier = new DiskTier({ path: dir, maxBytes: QUOTA, events: silentEvents(errors) });
      try {
        const report = tier.verifyIntegrity();
        expect(report.missingPages).toEqual([]);
        expect(report.orphanPages).toEqual([]);
        expect(report.badPages).toEqual([]);
        expect(report.indexEntries).toBeGreaterThan(10);
        expect(report.pages).toBe(report.indexEntries);
        expect(report.accountedBytes).toBe(report.indexBytes);
        expect(report.accountedPages).toBe(report.indexEntries);
        expect(report.accountedBytes).toBeLessThanOrEqual(QUOTA);
        expect(tier.stats()).toMatchObject({ bytes: report.indexBytes, pages: report.indexEntries });
        expect(errors).toEqual([]);
      } finally {
        await tier.close();
      }
      const store = new TieredPageStore({ disk: { path: dir, maxBytes: QUOTA }, memoryBytes: MEMORY, pageSize: 64 * 1024, events: silentEvents(errors) });
      try {
        expect([...store.policy.keys()].sort()).toEqual([...store.disk.pagesInOrder()].map(([key]) => key).sort());
        expect(store.policy.bytes).toBe(store.disk.bytes);
        expect(errors).toEqual([]);
      } finally {
        await store.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
