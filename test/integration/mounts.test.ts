/**
 * One gateway, several stores as buckets of one namespace: PUT, ranged GET, LIST and
 * multipart through @aws-sdk/client-s3 on each. Stores: a local folder, s3rver (S3), and the
 * GCS and WebHDFS emulators (test/emulators). Plus a store that only answers 503 SlowDown:
 * the adapter retries with backoff, then the client gets 503 SlowDown.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { bodyBytes, startTestGateway, type TestGateway } from '../helpers/gateway';
import { startS3rver, type S3rverFixture } from '../emulators/s3/s3rver-fixture';
import { extraMounts, type ExtraMounts } from './mounts-extra';

const MiB = 1024 * 1024;
let gw: TestGateway;
let s3: S3rverFixture;
let localRoot: string;
let slowDown: http.Server;
let slowDownHits = 0;
let extra: ExtraMounts;

beforeAll(async () => {
  localRoot = await mkdtemp(path.join(os.tmpdir(), 'ringcache-mount-local-'));
  s3 = await startS3rver({ bucket: 'upstream' });
  slowDown = http.createServer((req, res) => {
    // Count the object's requests only (the multipart sweeper also lists this store now and then).
    if (req.url?.includes('/anything')) slowDownHits++;
    req.resume();
    res.writeHead(503, { 'content-type': 'application/xml' });
    res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
  });
  await new Promise<void>((resolve) => slowDown.listen(0, '127.0.0.1', resolve));
  const slowPort = (slowDown.address() as { port: number }).port;
  extra = await extraMounts();
  gw = await startTestGateway({
    mounts: {
      'local-data': { uri: pathToFileURL(localRoot).href },
      's3-data': {
        uri: `s3://upstream/gateway?endpoint=${encodeURIComponent(s3.endpoint)}&pathStyle=true`,
        options: { credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, maxAttempts: 2 },
      },
      'throttled': {
        uri: `s3://busy?endpoint=${encodeURIComponent(`http://127.0.0.1:${slowPort}`)}&pathStyle=true`,
        options: { credentials: { accessKeyId: 'x', secretAccessKey: 'y' }, maxAttempts: 3 },
      },
      ...extra.mounts,
    },
  });
});

afterAll(async () => {
  await gw?.close();
  await s3?.close();
  await extra?.close();
  await new Promise((r) => slowDown.close(r));
  await rm(localRoot, { recursive: true, force: true });
});

const buckets = () => ['local-data', 's3-data', ...Object.keys(extra.mounts)];

test('every store serves PUT, ranged GET, LIST and multipart through the gateway', async () => {
  const client = gw.client();
  for (const Bucket of buckets()) {
    const data = randomBytes(200_000);
    await client.send(new PutObjectCommand({ Bucket, Key: 'dir/one.bin', Body: data, ContentType: 'application/x-one' }));
    await client.send(new PutObjectCommand({ Bucket, Key: 'dir/sub/two.txt', Body: 'two' }));
    const ranged = await client.send(new GetObjectCommand({ Bucket, Key: 'dir/one.bin', Range: 'bytes=1000-1999' }));
    expect({ Bucket, status: ranged.$metadata.httpStatusCode }).toEqual({ Bucket, status: 206 });
    expect((await bodyBytes(ranged.Body)).equals(data.subarray(1000, 2000))).toBe(true);
    const whole = await client.send(new GetObjectCommand({ Bucket, Key: 'dir/one.bin' }));
    expect(whole.ContentType).toBe('application/x-one');
    expect((await bodyBytes(whole.Body)).equals(data)).toBe(true);

    const listed = await client.send(new ListObjectsV2Command({ Bucket, Prefix: 'dir/', Delimiter: '/' }));
    expect({ Bucket, keys: listed.Contents?.map((c) => c.Key), prefixes: listed.CommonPrefixes?.map((p) => p.Prefix) }).toEqual({
      Bucket,
      keys: ['dir/one.bin'],
      prefixes: ['dir/sub/'],
    });

    const part1 = randomBytes(5 * MiB);
    const part2 = randomBytes(12345);
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp/big.bin' }));
    const e1 = await client.send(new UploadPartCommand({ Bucket, Key: 'mp/big.bin', UploadId, PartNumber: 1, Body: part1 }));
    const e2 = await client.send(new UploadPartCommand({ Bucket, Key: 'mp/big.bin', UploadId, PartNumber: 2, Body: part2 }));
    const done = await client.send(
      new CompleteMultipartUploadCommand({ Bucket, Key: 'mp/big.bin', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1.ETag }, { PartNumber: 2, ETag: e2.ETag }] } }),
    );
    expect({ Bucket, etag: done.ETag }).toEqual({ Bucket, etag: expect.stringMatching(/-2"$/) });
    const back = await client.send(new GetObjectCommand({ Bucket, Key: 'mp/big.bin' }));
    expect((await bodyBytes(back.Body)).equals(Buffer.concat([part1, part2]))).toBe(true);
  }
}, 120_000);

test('a store that keeps answering SlowDown is retried, then the client gets 503 SlowDown', async () => {
  slowDownHits = 0;
  const err = await gw.client().send(new GetObjectCommand({ Bucket: 'throttled', Key: 'anything' })).catch((e) => e);
  expect(err.$metadata.httpStatusCode).toBe(503);
  expect(err.name).toBe('SlowDown');
  expect(slowDownHits).toBe(3); // the adapter's attempts, with backoff between them
});
