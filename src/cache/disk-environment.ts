/**
 * Checks the disk tier's LMDB environment before this process maps it. LMDB trusts its file:
 * mapping a damaged one kills the process (zeroed meta pages: SIGSEGV; a file truncated to half:
 * SIGBUS), at every start, with nothing logged. The cache is disposable, so a damaged or
 * incompatible environment is logged, moved aside (one damaged copy is kept, for a post-mortem)
 * and the tier starts empty.
 *
 * Before mapping, in this process: the file's size and both meta pages (magic, version, page
 * size, the newest meta's last page and roots within the file), and the record format this
 * version writes (a marker file beside the environment). Then a probe in a child process opens
 * the environment as the tier does and walks every key of its databases: a crash there costs a
 * child, not the gateway.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { lmdbOpenOptions } from './disk-lmdb';

/**
 * Layout of the records this version writes. 2: page checksums cover the page key (page-checksum.ts).
 * An environment of another format is moved aside rather than read as damage, page by page.
 */
export const DISK_FORMAT = 2;
export const FORMAT_FILE = 'ringcache-format.json';
const DATA_FILE = 'data.mdb';
const LOCK_FILE = 'lock.mdb';

export interface EnvironmentLog {
  warn(obj: object, msg: string): void;
  error?(obj: object, msg: string): void;
}

// LMDB's on-disk meta page (mdb.c of the lmdb-js vendored LMDB, 64-bit): a 24-byte page header
// (pgno, txnid, pad, flags, lower/upper), then MDB_meta.
const PAGE_HEADER_BYTES = 24;
const P_META = 0x08;
const MDB_MAGIC = 0xbeefc0de;
const MDB_DATA_VERSION = 2;
const P_INVALID = 0xffffffffffffffffn;
const META = {
  magic: 0,
  version: 4,
  freeDb: 24, // MDB_db: pad (the page size, for the free DB), flags, depth, 3 page counts, entries, root
  mainDb: 72,
  dbRoot: 40,
  lastPage: 120,
  txnid: 128,
  end: 144,
};

interface MetaPage {
  pageSize: number;
  lastPage: bigint;
  txnid: bigint;
  roots: bigint[];
}

function readMeta(buffer: Buffer, at: number, which: number): MetaPage | string {
  const flags = buffer.readUInt16LE(at + 18);
  const m = at + PAGE_HEADER_BYTES;
  if (!(flags & P_META) || buffer.readUInt32LE(m + META.magic) !== MDB_MAGIC) return `meta page ${which} is not an LMDB meta page`;
  const version = buffer.readUInt32LE(m + META.version);
  if (version !== MDB_DATA_VERSION) return `meta page ${which} has LMDB data version ${version}, not ${MDB_DATA_VERSION}`;
  const pageSize = buffer.readUInt32LE(m + META.freeDb);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return `meta page ${which} has an impossible page size ${pageSize}`;
  return {
    pageSize,
    lastPage: buffer.readBigUInt64LE(m + META.lastPage),
    txnid: buffer.readBigUInt64LE(m + META.txnid),
    roots: [buffer.readBigUInt64LE(m + META.freeDb + META.dbRoot), buffer.readBigUInt64LE(m + META.mainDb + META.dbRoot)],
  };
}

/** Why the data file cannot be mapped safely, or undefined when its structure holds. Reads two pages. */
export function inspectDataFile(file: string): string | undefined {
  const size = statSync(file).size;
  const head = Buffer.alloc(2 * 65536);
  const fd = openSync(file, 'r');
  let read: number;
  try {
    read = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (read < PAGE_HEADER_BYTES + META.end) return `the file is ${size} bytes, too short for an LMDB environment`;
  const first = readMeta(head, 0, 0);
  if (typeof first === 'string') return first;
  if (size < 2 * first.pageSize || read < first.pageSize + PAGE_HEADER_BYTES + META.end) return `the file is ${size} bytes, shorter than its two meta pages`;
  const second = readMeta(head, first.pageSize, 1);
  if (typeof second === 'string') return second;
  if (second.pageSize !== first.pageSize) return 'the two meta pages disagree on the page size';
  const newest = second.txnid > first.txnid ? second : first;
  const pages = BigInt(size) / BigInt(newest.pageSize);
  if (newest.lastPage + 1n > pages) return `the file is truncated: it holds ${pages} pages, its last transaction uses ${newest.lastPage + 1n}`;
  for (const root of newest.roots) {
    if (root !== P_INVALID && (root < 2n || root > newest.lastPage)) return `a database root (page ${root}) lies outside the file's pages`;
  }
  return undefined;
}

/** Opens the environment read-only as the tier does and walks every key; exits 0 if all held. */
const PROBE_SCRIPT = `
const { open } = require(process.argv[1]);
const options = JSON.parse(process.argv[2]);
const env = open({ ...options, readOnly: true });
let keys = 0;
for (const name of ['pages', 'index', 'meta']) {
  const db = env.openDB(name, { encoding: name === 'pages' ? 'binary' : 'msgpack', compression: false });
  for (const key of db.getKeys()) keys++;
}
env.close();
process.stdout.write(JSON.stringify({ keys }));
`;

/** Runs the probe in a child process; why it failed, or undefined. */
export function probeEnvironment(dir: string, maxBytes: number, timeoutMs = 120_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', PROBE_SCRIPT, require.resolve('lmdb'), JSON.stringify(lmdbOpenOptions(dir, maxBytes))], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve(`the probe could not run (${err.message})`);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(undefined);
      else if (signal === 'SIGKILL') resolve(`opening it did not finish within ${timeoutMs} ms`);
      else if (signal) resolve(`opening it crashed the probe process (${signal})`);
      else resolve(`opening it failed: ${output.trim().split('\n').slice(-1)[0] ?? `exit ${code}`}`);
    });
  });
}

/** The format recorded beside the environment; undefined when there is no marker. */
function recordedFormat(dir: string): number | undefined {
  try {
    const value = (JSON.parse(readFileSync(path.join(dir, FORMAT_FILE), 'utf8')) as { format?: unknown }).format;
    return typeof value === 'number' ? value : -1;
  } catch {
    return undefined;
  }
}

/** Moves the environment's files into `<dir>/damaged-<time>/`, keeping only the newest such folder. */
function moveAside(dir: string): string {
  for (const name of readdirSync(dir)) {
    if (name.startsWith('damaged-')) rmSync(path.join(dir, name), { recursive: true, force: true });
  }
  const aside = path.join(dir, `damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(aside, { recursive: true });
  for (const name of [DATA_FILE, FORMAT_FILE]) {
    if (existsSync(path.join(dir, name))) renameSync(path.join(dir, name), path.join(aside, name));
  }
  rmSync(path.join(dir, LOCK_FILE), { force: true });
  return aside;
}

/**
 * For environments that are not disposable caches but must not kill the process either (the
 * preload jobs' state): the structural check only (no probe, no format marker). A damaged file is
 * moved aside; returns why and where, or undefined when it is fine or absent.
 */
export function quarantineDamagedEnvironment(dir: string): { reason: string; movedTo: string } | undefined {
  const file = path.join(dir, DATA_FILE);
  if (!existsSync(file)) return undefined;
  const reason = statSync(file).size === 0 ? 'the data file is empty' : inspectDataFile(file);
  return reason === undefined ? undefined : { reason, movedTo: moveAside(dir) };
}

/**
 * Makes `dir` safe to open: a damaged or incompatible environment is logged and moved aside (the
 * tier then starts empty), and the format marker is written. Returns why it was moved, if it was.
 */
export async function prepareDiskEnvironment(dir: string, maxBytes: number, log: EnvironmentLog): Promise<string | undefined> {
  if (maxBytes === 0) return undefined;
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, DATA_FILE);
  let reason: string | undefined;
  if (existsSync(file)) {
    const format = recordedFormat(dir);
    if (statSync(file).size === 0) reason = 'the data file is empty';
    else if (format !== DISK_FORMAT) reason = format === undefined ? 'it has no format marker (written by an older version)' : `it is of record format ${format}, this version writes ${DISK_FORMAT}`;
    else reason = inspectDataFile(file) ?? (await probeEnvironment(dir, maxBytes));
  }
  if (reason !== undefined) {
    const aside = moveAside(dir);
    const report = log.error ?? log.warn;
    report.call(log, { path: dir, movedTo: aside, reason }, `the disk cache at ${dir} cannot be used (${reason}); moved it to ${aside} and starting with an empty disk tier`);
  }
  writeFileSync(path.join(dir, FORMAT_FILE), JSON.stringify({ format: DISK_FORMAT }));
  return reason;
}
