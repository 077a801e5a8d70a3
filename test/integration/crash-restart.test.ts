/**
 * kill -9 of a gateway process in the middle of a PUT, an UploadPart, a CompleteMultipartUpload
 * and a cache fill, then a restart on the same folders: no partial object is ever visible, no
 * corrupt byte is served, and the start-up sweep removes every temp file the dead process left.
 * And a cache file damaged while the gateway was down (zeroed meta pages, truncated to half):
 * the gateway starts, logs it, moves it aside and serves from the store.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, truncate } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { bodyBytes, errorCode } from '../helpers/gateway';
import { cliBuilt, gatewayProcess, type GatewayProcess } from '../helpers/gateway-process';
import { waitFor } from '../helpers/cluster-processes';
import { signRequest } from '../helpers/raw-request';

const MiB = 1024 * 1024;
const Bucket = 'crash';
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

/**
 * Streams a signed request body of `total` bytes, 1 MiB at a time with a pause between, so the
 * gateway is certainly in the middle of it when the test kills it. Settles when the request ends
 * either way.
 */
async function pacedUpload(url: string, target: string, query: Record<string, string>, total: number, pauseMs = 15): Promise<{ done: Promise<number> }> {
  const signed = await signRequest(url, { method: 'PUT', path: target, query, headers: { 'content-length': String(total) } });
  const { hostname, port } = new URL(url);
  const done = new Promise<number>((resolve) => {
    const req = http.request({ host: hostname, port, method: 'PUT', path: signed.path, headers: signed.headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    let sent = 0;
    const next = (): void => {
      if (sent >= total) {
        req.end();
        return;
      }
      const n = Math.min(MiB, total - sent);
      sent += n;
      req.write(randomBytes(n), () => setTimeout(next, pauseMs));
    };
    next();
  });
  return { done };
}

/** Files (not folders) under `dir` whose names match, recursively. */
async function filesUnder(dir: string, match: RegExp): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full, match)));
    else if (match.test(entry.name)) out.push({ path: full, size: (await stat(full).catch(() => ({ size: 0 }))).size });
  }
  return out;
}

describe('kill -9 and restart', () => {
  if (!cliBuilt()) {
    test('needs a build (npm test runs `npm run build` first)', () => {
      throw new Error('dist/src/cli/ringcache.js is missing: run npm run build');
    });
    return;
  }

  let base: string;
  let bucketDir: string;
  let cacheDir: string;
  let gw: GatewayProcess;
  /** Temp files in the bucket's reserved folder: loose ones and part temps. */
  const temps = () => filesUnder(path.join(bucketDir, '.ringcache'), /(^(put|complete|copy|json)-)|(\.tmp-)/);

  beforeAll(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'ringcache-crash-'));
    bucketDir = path.join(base, 'data', Bucket);
    cacheDir = path.join(base, 'cache');
    await mkdir(bucketDir, { recursive: true });
    gw = await gatewayProcess(path.join(base, 'config.json'), {
      dataDir: path.join(base, 'data'),
      cache: { disk: { path: cacheDir, maxBytes: 256 * MiB }, memory: { maxBytes: 16 * MiB } },
      jobs: { stateDir: path.join(base, 'jobs') },
    });
    await gw.start();
  });
  afterAll(async () => {
    await gw?.stop();
    await rm(base, { recursive: true, force: true });
  });

  /** kill -9, start again, and wait for the start-up sweep to remove what the dead process left. */
  async function crashAndRestart(): Promise<void> {
    await gw.kill('SIGKILL');
    await gw.start();
    await waitFor(async () => (await temps()).length === 0, 15_000, 'the start-up sweep of temp files');
  }

  test('during a PUT that overwrites an object: the old version stays whole, no partial object, no temp file', async () => {
    const old = randomBytes(3 * MiB + 5);
    await gw.client().send(new PutObjectCommand({ Bucket, Key: 'put.bin', Body: old }));
    const upload = await pacedUpload(gw.url, `/${Bucket}/put.bin`, {}, 96 * MiB);
    await pacedUpload(gw.url, `/${Bucket}/fresh.bin`, {}, 96 * MiB);
    await waitFor(async () => (await temps()).filter((t) => t.size > 4 * MiB).length >= 2, 30_000, 'both PUTs half-way');
    await crashAndRestart();
    await upload.done;
    const s3 = gw.client();
    const got = await bodyBytes((await s3.send(new GetObjectCommand({ Bucket, Key: 'put.bin' }))).Body);
    expect(md5(got)).toBe(md5(old));
    expect(await errorCode(s3.send(new HeadObjectCommand({ Bucket, Key: 'fresh.bin' })))).toBe('NotFound');
    const keys = (await s3.send(new ListObjectsV2Command({ Bucket }))).Contents?.map((c) => c.Key);
    expect(keys).not.toContain('fresh.bin');
  });

  test('during an UploadPart: the parts before it stay, the part in flight is not there, the upload completes', async () => {
    const s3 = gw.client();
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'parts.bin' }));
    const part1 = randomBytes(5 * MiB);
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket, Key: 'parts.bin', UploadId, PartNumber: 1, Body: part1 }));
    const upload = await pacedUpload(gw.url, `/${Bucket}/parts.bin`, { partNumber: '2', uploadId: UploadId as string }, 96 * MiB);
    await waitFor(async () => (await temps()).some((t) => /part-2\.tmp-/.test(t.path) && t.size > 4 * MiB), 30_000, 'part 2 half-way');
    await crashAndRestart();
    await upload.done;
    const after = gw.client();
    const parts = (await after.send(new ListPartsCommand({ Bucket, Key: 'parts.bin', UploadId }))).Parts ?? [];
    expect(parts.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([[1, ETag, 5 * MiB]]);
    await after.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'parts.bin', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] } }));
    expect(md5(await bodyBytes((await after.send(new GetObjectCommand({ Bucket, Key: 'parts.bin' }))).Body))).toBe(md5(part1));
  });

  test('during a CompleteMultipartUpload: the object is absent (and the upload completes later) or whole; never partial', async () => {
    const s3 = gw.client();
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'complete.bin' }));
    const parts: Buffer[] = [];
    const etags: string[] = [];
    for (let n = 1; n <= 8; n++) {
      const data = randomBytes(8 * MiB);
      parts.push(data);
      etags.push((await s3.send(new UploadPartCommand({ Bucket, Key: 'complete.bin', UploadId, PartNumber: n, Body: data }))).ETag as string);
    }
    const whole = Buffer.concat(parts);
    const completion = s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'complete.bin', UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) } })).catch(() => undefined);
    // Killed as soon as the concatenation has started, or at once if it is already done.
    await waitFor(async () => (await temps()).some((t) => /complete-/.test(t.path)) || (await stat(path.join(bucketDir, 'complete.bin')).then(() => true, () => false)), 30_000, 'the completion under way');
    await crashAndRestart();
    await completion;
    const after = gw.client();
    const code = await errorCode(after.send(new HeadObjectCommand({ Bucket, Key: 'complete.bin' })));
    if (code === 'NotFound') {
      // Not committed: the upload is intact and completes now.
      await after.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'complete.bin', UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) } }));
    } else {
      expect(code).toBe('ok');
    }
    expect(md5(await bodyBytes((await after.send(new GetObjectCommand({ Bucket, Key: 'complete.bin' }))).Body))).toBe(md5(whole));
  });

  test('during a cache fill: after the restart every byte served is the object\'s', async () => {
    const data = randomBytes(64 * MiB);
    const s3 = gw.client();
    await s3.send(new PutObjectCommand({ Bucket, Key: 'cached.bin', Body: data }));
    // Several readers fill the cache (memory, then LMDB writes) when the process dies.
    const reads = Array.from({ length: 3 }, () => s3.send(new GetObjectCommand({ Bucket, Key: 'cached.bin' })).then((r) => bodyBytes(r.Body)).catch(() => undefined));
    await waitFor(async () => (await stat(path.join(cacheDir, 'data.mdb')).then((s) => s.size, () => 0)) > 8 * MiB, 30_000, 'the LMDB file filling');
    await gw.kill('SIGKILL');
    await Promise.all(reads);
    await gw.start();
    const after = gw.client();
    for (let round = 0; round < 2; round++) {
      // The first round reads what survived in the cache, the second what it kept since.
      const got = await bodyBytes((await after.send(new GetObjectCommand({ Bucket, Key: 'cached.bin' }))).Body);
      expect(md5(got)).toBe(md5(data));
      const ranged = await bodyBytes((await after.send(new GetObjectCommand({ Bucket, Key: 'cached.bin', Range: 'bytes=33554000-33558000' }))).Body);
      expect(ranged.equals(data.subarray(33554000, 33558001))).toBe(true);
    }
  });

  test.each([
    ['zeroed meta pages', (file: string) => zeroFirstPages(file)],
    ['a file truncated to half', async (file: string) => truncate(file, Math.floor((await stat(file)).size / 2))],
  ])('a cache file damaged while the gateway was down (%s): it starts, says so, and serves from the store', async (_what, damage) => {
    const data = randomBytes(5 * MiB);
    const s3 = gw.client();
    await s3.send(new PutObjectCommand({ Bucket, Key: 'damaged.bin', Body: data }));
    await bodyBytes((await s3.send(new GetObjectCommand({ Bucket, Key: 'damaged.bin' }))).Body);
    await gw.kill('SIGTERM');
    await damage(path.join(cacheDir, 'data.mdb'));
    await gw.start();
    expect(gw.output).toMatch(/cannot be used .* moved it to .*damaged-/);
    expect((await readdir(cacheDir)).some((n) => n.startsWith('damaged-'))).toBe(true);
    const after = gw.client();
    expect(md5(await bodyBytes((await after.send(new GetObjectCommand({ Bucket, Key: 'damaged.bin' }))).Body))).toBe(md5(data));
    // And the fresh tier works: the next start finds it healthy.
    await gw.kill('SIGTERM');
    await gw.start();
    expect(gw.output).not.toMatch(/cannot be used/);
  });
});

function zeroFirstPages(file: string): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.alloc(8192), 0, 8192, 0);
  } finally {
    closeSync(fd);
  }
}
