/**
 * A local mount whose root goes away (renamed, an NFS export unmounted) or is closed to the
 * gateway (chmod 000): cached objects keep being served (serve-stale), everything else answers
 * 503 ServiceUnavailable, nothing is written into a re-created root, and the mount recovers by
 * itself. Metadata TTL 0 makes every request revalidate, so the stale path is what serves.
 */
import { chmod, chown, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { bodyBytes, errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';
import { cliBuilt, gatewayProcess, type GatewayProcess } from '../helpers/gateway-process';
import { waitFor } from '../helpers/cluster-processes';

const Bucket = 'export';
const CACHED = Buffer.alloc(3 * 1024 * 1024 + 17, 'c'); // several pages

/** What a client sees of the bucket while its root is gone. */
async function expectUnavailableButStale(s3: S3Client): Promise<void> {
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'cached.bin' }));
  expect(Buffer.compare(await bodyBytes(got.Body), CACHED)).toBe(0);
  expect(await errorCode(s3.send(new HeadObjectCommand({ Bucket, Key: 'cached.bin' })))).toBe('ok');
  expect(await errorCode(s3.send(new GetObjectCommand({ Bucket, Key: 'uncached.txt' })))).toBe('ServiceUnavailable');
  expect(await errorCode(s3.send(new GetObjectCommand({ Bucket, Key: 'never-existed' })))).toBe('ServiceUnavailable');
  expect(await errorCode(s3.send(new ListObjectsV2Command({ Bucket })))).toBe('ServiceUnavailable');
  expect(await errorCode(s3.send(new PutObjectCommand({ Bucket, Key: 'written-while-gone', Body: 'lost?' })))).toBe('ServiceUnavailable');
  expect(await errorCode(s3.send(new DeleteObjectCommand({ Bucket, Key: 'uncached.txt' })))).toBe('ServiceUnavailable');
}

async function expectRecovered(s3: S3Client): Promise<void> {
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'uncached.txt' }));
  expect(Buffer.from(await bodyBytes(got.Body)).toString()).toBe('on the export');
  await s3.send(new PutObjectCommand({ Bucket, Key: 'after.txt', Body: 'back' }));
  const keys = (await s3.send(new ListObjectsV2Command({ Bucket }))).Contents?.map((c) => c.Key);
  expect(keys).toEqual(['after.txt', 'cached.bin', 'uncached.txt']);
}

describe('a mount root that is renamed away (an export unmounted)', () => {
  let gw: TestGateway;
  let base: string;
  let root: string;

  beforeAll(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'ringcache-rootgone-'));
    root = path.join(base, 'export');
    await mkdir(root);
    await writeFile(path.join(root, 'uncached.txt'), 'on the export');
    gw = await startTestGateway({ mounts: { [Bucket]: { uri: pathToFileURL(root).href, metadataTtlSeconds: 0 } } });
    const s3 = gw.client();
    await s3.send(new PutObjectCommand({ Bucket, Key: 'cached.bin', Body: CACHED }));
    await bodyBytes((await s3.send(new GetObjectCommand({ Bucket, Key: 'cached.bin' }))).Body);
  });
  afterAll(async () => {
    await gw.close();
    await rm(base, { recursive: true, force: true });
  });

  it('serves cached objects, answers 503 for the rest, never re-creates the root, and recovers', async () => {
    const s3 = gw.client();
    await rename(root, path.join(base, 'unmounted'));
    await expectUnavailableButStale(s3);
    expect(existsSync(root)).toBe(false);
    await rename(path.join(base, 'unmounted'), root);
    await expectRecovered(s3);
  });
});

/** As root, file permissions stop nobody: the gateway then runs as `nobody` for this test. */
const asRoot = process.getuid?.() === 0;
const NOBODY = 65534;

describe('a mount root closed to the gateway (chmod 000)', () => {
  if (!cliBuilt()) {
    test('needs a build (npm test runs `npm run build` first)', () => {
      throw new Error('dist/src/cli/ringcache.js is missing: run npm run build');
    });
    return;
  }
  let base: string;
  let root: string;
  let gw: GatewayProcess;

  beforeAll(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'ringcache-chmod-'));
    await chmod(base, 0o755); // mkdtemp makes it 0700: the gateway user must reach its folders
    root = path.join(base, 'export');
    for (const dir of [root, path.join(base, 'cache'), path.join(base, 'jobs')]) {
      await mkdir(dir);
      if (asRoot) await chown(dir, NOBODY, NOBODY);
    }
    await writeFile(path.join(root, 'uncached.txt'), 'on the export');
    if (asRoot) await chown(path.join(root, 'uncached.txt'), NOBODY, NOBODY);
    gw = await gatewayProcess(
      path.join(base, 'config.json'),
      {
        mounts: { [Bucket]: { uri: pathToFileURL(root).href, metadataTtlSeconds: 0 } },
        cache: { disk: { path: path.join(base, 'cache'), maxBytes: 64 * 1024 * 1024 }, memory: { maxBytes: 64 * 1024 * 1024 } },
        jobs: { stateDir: path.join(base, 'jobs') },
      },
      asRoot ? { uid: NOBODY, gid: NOBODY } : {},
    );
    await gw.start();
    const s3 = gw.client();
    await s3.send(new PutObjectCommand({ Bucket, Key: 'cached.bin', Body: CACHED }));
    await bodyBytes((await s3.send(new GetObjectCommand({ Bucket, Key: 'cached.bin' }))).Body);
  });
  afterAll(async () => {
    await gw?.stop();
    await chmod(root, 0o755).catch(() => undefined);
    await rm(base, { recursive: true, force: true });
  });

  it('is 503 with serve-stale, not 403, and recovers when access comes back', async () => {
    const s3 = gw.client();
    await chmod(root, 0o000);
    try {
      await expectUnavailableButStale(s3);
    } finally {
      await chmod(root, 0o755);
    }
    await waitFor(async () => (await errorCode(s3.send(new HeadObjectCommand({ Bucket, Key: 'uncached.txt' })))) === 'ok', 10_000, 'the root readable again');
    await expectRecovered(s3);
  });
});
