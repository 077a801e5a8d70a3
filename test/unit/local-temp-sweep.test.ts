/**
 * The sweep of temp files that no live request owns (ufs-adapters/local/temp-sweep.ts), on real
 * folders: a crash's leftovers go at once, a write in progress keeps its file, and files whose
 * writer cannot be told dead (another host) go by age only.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { LocalAdapter } from '../../ufs-adapters/local/local-adapter';
import { HOST_TAG, TEMP_OWNER } from '../../ufs-adapters/local/temp-files';

const HOUR = 3600_000;

let root: string;
let adapter: LocalAdapter;
let tmp: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'ringcache-sweep-'));
  adapter = new LocalAdapter({ root });
  tmp = path.join(root, '.ringcache', 'tmp');
  await mkdir(tmp, { recursive: true });
});
afterEach(async () => {
  await adapter.close();
  await rm(root, { recursive: true, force: true });
});

/** A pid that was running a moment ago and is not any more. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  const pid = child.pid as number;
  await new Promise((resolve) => child.once('exit', resolve));
  return pid;
}

const owned = (owner: string): string => `put-${owner}-${randomUUID()}`;

async function plant(name: string, ageMs = 0, dir = tmp): Promise<string> {
  const target = path.join(dir, name);
  await writeFile(target, Buffer.alloc(1024));
  if (ageMs > 0) {
    const when = new Date(Date.now() - ageMs);
    await utimes(target, when, when);
  }
  return name;
}

test('the temp files of dead writers on this host go at once; a live write keeps its own', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const body = Readable.from(
    (async function* () {
      yield Buffer.from('in progress ');
      await gate;
      yield Buffer.from('done');
    })(),
  );
  const writing = adapter.write({ key: 'live.txt', body, metadata: { userMetadata: {} } });
  for (let i = 0; i < 200 && (await readdir(tmp)).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const [liveTemp] = await readdir(tmp);
  expect(liveTemp).toContain(TEMP_OWNER);

  const leaked = await plant(owned(TEMP_OWNER)); // ours, but no request owns it
  const crashed = await plant(owned(`h${HOST_TAG}p${await deadPid()}iabcdef`));
  const samePidEarlierRun = await plant(owned(`h${HOST_TAG}p${process.pid}i000000`));
  expect(await adapter.sweepTempFiles(HOUR)).toBe(3);
  expect(await readdir(tmp)).toEqual([liveTemp]);
  for (const gone of [leaked, crashed, samePidEarlierRun]) expect(await readdir(tmp)).not.toContain(gone);

  release();
  await writing;
  expect(await readdir(tmp)).toEqual([]);
});

test('files of writers that may be alive go only once untouched for the stale age', async () => {
  const otherHostFresh = await plant(owned('h00000000p42i123456'));
  const otherHostOld = await plant(owned('h00000000p42i123456'), 2 * HOUR);
  const liveLocalProcess = await plant(owned(`h${HOST_TAG}p${process.ppid}i123456`), 10 * 60_000);
  const legacyOld = await plant(`put-${randomUUID()}`, 2 * HOUR);
  const legacyFresh = await plant(`json-${randomUUID()}`);
  expect(await adapter.sweepTempFiles(HOUR)).toBe(2);
  expect((await readdir(tmp)).sort()).toEqual([otherHostFresh, liveLocalProcess, legacyFresh].sort());
  expect(await readdir(tmp)).not.toContain(otherHostOld);
  expect(await readdir(tmp)).not.toContain(legacyOld);
  expect(await adapter.sweepTempFiles(5 * 60_000)).toBe(1); // the live local process's, 10 min old
});

test('part temps of a crashed UploadPart go; the upload, its parts and its record stay', async () => {
  const upload = await adapter.createMultipartUpload('big.bin', { userMetadata: {} });
  await adapter.uploadPart({ uploadId: upload.uploadId, key: 'big.bin', partNumber: 1, body: Readable.from([Buffer.alloc(5 * 1024 * 1024, 1)]) });
  const dir = path.join(root, '.ringcache', 'uploads', upload.uploadId);
  const before = (await readdir(dir)).sort();
  const crashedOwner = `h${HOST_TAG}p${await deadPid()}iabcdef`;
  await plant(`part-2.tmp-${crashedOwner}-${randomUUID()}`, 0, dir);
  await plant(`part-2.json.tmp-${crashedOwner}-${randomUUID()}`, 0, dir);
  await plant(`part-3.tmp-${randomUUID()}`, 2 * HOUR, dir); // an older version's name
  expect(await adapter.sweepTempFiles(HOUR)).toBe(3);
  expect((await readdir(dir)).sort()).toEqual(before);
  expect((await adapter.listParts('big.bin', upload.uploadId)).map((p) => p.partNumber)).toEqual([1]);
});

test('a missing tmp folder or uploads folder is nothing to sweep', async () => {
  await rm(path.join(root, '.ringcache'), { recursive: true, force: true });
  expect(await adapter.sweepTempFiles(HOUR)).toBe(0);
});
