/**
 * A damaged or incompatible LMDB environment is found before it is mapped (src/cache/disk-environment.ts):
 * zeroed meta pages (SIGSEGV when mapped) and a file truncated to half (SIGBUS) are detected from
 * the file itself, damage deeper in is found by a probe in a child process, and either way the
 * files are moved aside and the tier starts empty. A healthy environment written by the tier
 * passes untouched, and is opened again.
 */
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DISK_FORMAT, FORMAT_FILE, inspectDataFile, prepareDiskEnvironment, probeEnvironment } from '../../src/cache/disk-environment';
import { DiskTier } from '../../src/cache/disk-tier';
import { pageKeyOf, type PageStoreEvents } from '../../src/cache/types';
import { JobStore } from '../../src/jobs/job-store';

const PAGE = 64 * 1024;
const QUOTA = 16 * 1024 * 1024;

const quiet: PageStoreEvents = { stored: () => undefined, evicted: () => undefined, checksumFailure: () => undefined, error: () => undefined };

interface Logged {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}
function logger(): { log: { warn(o: object, m: string): void; error(o: object, m: string): void }; lines: Logged[] } {
  const lines: Logged[] = [];
  return {
    lines,
    log: {
      warn: (fields, message) => lines.push({ level: 'warn', fields: fields as Record<string, unknown>, message }),
      error: (fields, message) => lines.push({ level: 'error', fields: fields as Record<string, unknown>, message }),
    },
  };
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A cache directory holding an environment the tier wrote: 40 pages and their index. */
async function writtenEnvironment(): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ringcache-env-'));
  dirs.push(dir);
  expect(await prepareDiskEnvironment(dir, QUOTA, logger().log)).toBeUndefined(); // fresh: writes the marker
  const tier = new DiskTier({ path: dir, maxBytes: QUOTA, events: quiet });
  for (let i = 0; i < 40; i++) tier.put(pageKeyOf('object', i), Buffer.alloc(PAGE, i));
  await tier.close();
  return dir;
}

/** Overwrites `length` bytes at `offset` of the data file with zeros. */
function zero(dir: string, offset: number, length: number): void {
  const fd = openSync(path.join(dir, 'data.mdb'), 'r+');
  try {
    writeSync(fd, Buffer.alloc(length), 0, length, offset);
  } finally {
    closeSync(fd);
  }
}

/** Prepares, then opens the tier: it must start (empty) and work. */
async function expectMovedAsideAndUsable(dir: string, reason: RegExp): Promise<void> {
  const { log, lines } = logger();
  expect(await prepareDiskEnvironment(dir, QUOTA, log)).toMatch(reason);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({ level: 'error', fields: { path: dir, reason: expect.stringMatching(reason) } });
  expect(lines[0].message).toContain('starting with an empty disk tier');
  const aside = readdirSync(dir).filter((n) => n.startsWith('damaged-'));
  expect(aside).toHaveLength(1);
  expect(readdirSync(path.join(dir, aside[0]))).toContain('data.mdb');
  expect(existsSync(path.join(dir, 'data.mdb'))).toBe(false);
  const tier = new DiskTier({ path: dir, maxBytes: QUOTA, events: quiet });
  try {
    expect(tier.stats().pages).toBe(0);
    tier.put(pageKeyOf('after', 0), Buffer.alloc(PAGE, 7));
    await tier.flush();
    expect(tier.get(pageKeyOf('after', 0))?.equals(Buffer.alloc(PAGE, 7))).toBe(true);
  } finally {
    await tier.close();
  }
}

test('an environment the tier wrote passes the checks and the probe, and is opened again as it was', async () => {
  const dir = await writtenEnvironment();
  expect(inspectDataFile(path.join(dir, 'data.mdb'))).toBeUndefined();
  expect(await probeEnvironment(dir, QUOTA)).toBeUndefined();
  const { log, lines } = logger();
  expect(await prepareDiskEnvironment(dir, QUOTA, log)).toBeUndefined();
  expect(lines).toEqual([]);
  const tier = new DiskTier({ path: dir, maxBytes: QUOTA, events: quiet });
  try {
    expect(tier.stats().pages).toBe(40);
    expect(tier.get(pageKeyOf('object', 39))?.equals(Buffer.alloc(PAGE, 39))).toBe(true);
  } finally {
    await tier.close();
  }
});

test('zeroed meta pages (a SIGSEGV when mapped) are found in the file and moved aside', async () => {
  const dir = await writtenEnvironment();
  zero(dir, 0, 2 * 4096);
  await expectMovedAsideAndUsable(dir, /meta page 0 is not an LMDB meta page/);
});

test('one zeroed meta page is enough to be moved aside', async () => {
  const dir = await writtenEnvironment();
  zero(dir, 4096, 4096);
  await expectMovedAsideAndUsable(dir, /meta page 1/);
});

test('a file truncated to half (a SIGBUS when mapped) is found from its size', async () => {
  const dir = await writtenEnvironment();
  truncateSync(path.join(dir, 'data.mdb'), Math.floor(statSync(path.join(dir, 'data.mdb')).size / 2));
  await expectMovedAsideAndUsable(dir, /truncated/);
});

test('damage past the meta pages is found by the probe, which crashes or fails instead of the gateway', async () => {
  const dir = await writtenEnvironment();
  const size = statSync(path.join(dir, 'data.mdb')).size;
  // Every page but the two meta pages: the B-tree pages go with the data.
  zero(dir, 2 * 4096, size - 2 * 4096);
  expect(inspectDataFile(path.join(dir, 'data.mdb'))).toBeUndefined();
  await expectMovedAsideAndUsable(dir, /probe|opening it/);
});

test('an environment without the format marker (an older version) or of another format is moved aside', async () => {
  const older = await writtenEnvironment();
  rmSync(path.join(older, FORMAT_FILE));
  await expectMovedAsideAndUsable(older, /format marker/);
  const other = await writtenEnvironment();
  writeFileSync(path.join(other, FORMAT_FILE), JSON.stringify({ format: DISK_FORMAT + 1 }));
  await expectMovedAsideAndUsable(other, /record format/);
});

test('an empty or tiny data file is moved aside; only the newest damaged copy is kept', async () => {
  const dir = await writtenEnvironment();
  writeFileSync(path.join(dir, 'data.mdb'), '');
  expect(await prepareDiskEnvironment(dir, QUOTA, logger().log)).toMatch(/empty/);
  writeFileSync(path.join(dir, 'data.mdb'), 'not lmdb at all');
  expect(await prepareDiskEnvironment(dir, QUOTA, logger().log)).toMatch(/too short/);
  expect(readdirSync(dir).filter((n) => n.startsWith('damaged-'))).toHaveLength(1);
});

test('a disabled tier (maxBytes 0) is not looked at', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ringcache-env-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'data.mdb'), 'garbage');
  expect(await prepareDiskEnvironment(dir, 0, logger().log)).toBeUndefined();
  expect(readdirSync(dir)).toEqual(['data.mdb']);
});

test('the preload job state: a damaged file is moved aside, reported, and the store opens empty', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ringcache-jobs-env-'));
  dirs.push(dir);
  const first = JobStore.open(dir);
  await first.close();
  zero(dir, 0, 2 * 4096);
  const damage: { reason: string; movedTo: string }[] = [];
  const second = JobStore.open(dir, (d) => damage.push(d));
  try {
    expect(damage).toEqual([{ reason: expect.stringMatching(/meta page 0/), movedTo: expect.stringContaining('damaged-') }]);
    expect(second.list()).toEqual([]);
  } finally {
    await second.close();
  }
});
