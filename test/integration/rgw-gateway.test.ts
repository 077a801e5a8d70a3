/**
 * End to end on a real S3 store: a gateway whose bucket `lake` is an `s3://` mount on Ceph RGW
 * (test/servers/ceph-rgw.ts), driven by the aws CLI v2 from Debian and by @aws-sdk/client-s3:
 * put/get with metadata, ranged gets, listing with delimiter and max-keys, a 40 MiB multipart
 * upload and download, copy (small, and multipart with UploadPartCopy), delete, and a cache
 * hit after the first read. What the gateway answers is checked against RGW itself.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ADMIN, bodyBytes, errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';
import { metricValue } from '../helpers/cluster-processes';
import { describeWithRgw } from '../servers/rgw-fixture';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const AWS = '/usr/bin/aws';
const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describeWithRgw('a gateway with an s3:// mount on Ceph RGW', (rgw) => {
  let gw: TestGateway;
  let client: S3Client;
  let work: string;
  /** The store's own view of a gateway key (mount prefix "gw/"). */
  const onRgw = (key: string) => rgw.client().send(new HeadObjectCommand({ Bucket: 'lake', Key: `gw/${key}` }));
  const ufsReads = async (): Promise<number> => {
    const text = await (await fetch(`${gw.url}/_ringcache/metrics`)).text();
    return metricValue(text, 'ringcache_ufs_reads_total', { adapter: 's3' });
  };

  beforeAll(async () => {
    await rgw.createBucket('lake');
    const { endpoint, accessKeyId, secretAccessKey } = rgw.server;
    gw = await startTestGateway({
      mounts: {
        lake: {
          uri: `s3://lake/gw?endpoint=${encodeURIComponent(endpoint)}`,
          options: { credentials: { accessKeyId, secretAccessKey }, maxAttempts: 3 },
          timeoutMs: 20_000,
        },
      },
    });
    client = gw.client();
    work = await mkdtemp(path.join(os.tmpdir(), 'ringcache-rgw-e2e-'));
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe('@aws-sdk/client-s3', () => {
    test('put and get with metadata; the object lands on RGW under the mount prefix', async () => {
      const data = randomBytes(300_000);
      const put = await client.send(
        new PutObjectCommand({
          Bucket: 'lake',
          Key: 'sdk/doc.bin',
          Body: data,
          ContentType: 'application/x-doc',
          CacheControl: 'max-age=60',
          ContentDisposition: 'attachment; filename="doc.bin"',
          Metadata: { owner: 'team-a', note: 'two words' },
        }),
      );
      const got = await client.send(new GetObjectCommand({ Bucket: 'lake', Key: 'sdk/doc.bin' }));
      expect((await bodyBytes(got.Body)).equals(data)).toBe(true);
      expect(got).toMatchObject({
        ETag: put.ETag,
        ContentType: 'application/x-doc',
        CacheControl: 'max-age=60',
        ContentDisposition: 'attachment; filename="doc.bin"',
        Metadata: { owner: 'team-a', note: 'two words' },
        ContentLength: data.length,
      });
      const stored = await onRgw('sdk/doc.bin');
      expect(stored).toMatchObject({ ETag: put.ETag, ContentLength: data.length, ContentType: 'application/x-doc', Metadata: { owner: 'team-a', note: 'two words' } });
      expect(got.LastModified?.getTime()).toBe(stored.LastModified?.getTime());
    });

    test('ranged gets: a-b, a-, -n, past the end (416)', async () => {
      const data = randomBytes(3 * MiB + 123);
      await client.send(new PutObjectCommand({ Bucket: 'lake', Key: 'sdk/ranges.bin', Body: data }));
      const range = async (Range: string) => {
        const out = await client.send(new GetObjectCommand({ Bucket: 'lake', Key: 'sdk/ranges.bin', Range }));
        return { status: out.$metadata.httpStatusCode, contentRange: out.ContentRange, body: await bodyBytes(out.Body) };
      };
      const middle = await range('bytes=1048570-2097160');
      expect(middle.status).toBe(206);
      expect(middle.contentRange).toBe(`bytes 1048570-2097160/${data.length}`);
      expect(middle.body.equals(data.subarray(1048570, 2097161))).toBe(true);
      expect((await range(`bytes=${3 * MiB}-`)).body.equals(data.subarray(3 * MiB))).toBe(true);
      expect((await range('bytes=-100')).body.equals(data.subarray(data.length - 100))).toBe(true);
      expect(await errorCode(client.send(new GetObjectCommand({ Bucket: 'lake', Key: 'sdk/ranges.bin', Range: `bytes=${data.length}-` })))).toBe('InvalidRange');
    });

    test('listing with delimiter and max-keys pages through common prefixes and keys', async () => {
      const keys = ['list/a.txt', 'list/b/1', 'list/b/2', 'list/c.txt', 'list/d/x/y', 'list/e.txt'];
      await Promise.all(keys.map((Key) => client.send(new PutObjectCommand({ Bucket: 'lake', Key, Body: Key }))));
      const pages: string[][] = [];
      let ContinuationToken: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: 'list/', Delimiter: '/', MaxKeys: 2, ContinuationToken }));
        pages.push([...(page.Contents ?? []).map((c) => c.Key as string), ...(page.CommonPrefixes ?? []).map((p) => `P:${p.Prefix}`)].sort());
        expect(page.KeyCount).toBeLessThanOrEqual(2);
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
      expect(pages).toEqual([['P:list/b/', 'list/a.txt'], ['P:list/d/', 'list/c.txt'], ['list/e.txt']]);
      const all = await client.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: 'list/b/' }));
      expect(all.Contents?.map((c) => [c.Key, c.Size])).toEqual([
        ['list/b/1', 8],
        ['list/b/2', 8],
      ]);
    });

    test('a 40 MiB multipart upload and download; the ETag is the store\'s, never empty', async () => {
      const data = randomBytes(40 * MiB);
      const upload = new Upload({ client, params: { Bucket: 'lake', Key: 'sdk/forty.bin', Body: data, ContentType: 'application/x-forty' }, partSize: 8 * MiB, queueSize: 2 });
      const done = await upload.done();
      const stored = await onRgw('sdk/forty.bin');
      expect(done.ETag).toMatch(/^"[0-9a-f]{32}-5"$/);
      expect(done.ETag).toBe(stored.ETag);
      const head = await client.send(new HeadObjectCommand({ Bucket: 'lake', Key: 'sdk/forty.bin' }));
      expect(head).toMatchObject({ ETag: stored.ETag, ContentLength: data.length, ContentType: 'application/x-forty' });
      const got = await client.send(new GetObjectCommand({ Bucket: 'lake', Key: 'sdk/forty.bin' }));
      expect(sha(await bodyBytes(got.Body))).toBe(sha(data));
    }, 120_000);

    test('copy: small (CopyObject) and multipart (UploadPartCopy), with REPLACE metadata', async () => {
      const small = Buffer.from('a small source');
      await client.send(new PutObjectCommand({ Bucket: 'lake', Key: 'copy/src.txt', Body: small, ContentType: 'text/plain', Metadata: { a: '1' } }));
      const copied = await client.send(new CopyObjectCommand({ Bucket: 'lake', Key: 'copy/dst.txt', CopySource: 'lake/copy/src.txt' }));
      expect(copied.CopyObjectResult?.ETag).toBe(`"${createHash('md5').update(small).digest('hex')}"`);
      const replaced = await client.send(
        new CopyObjectCommand({ Bucket: 'lake', Key: 'copy/replaced.txt', CopySource: 'lake/copy/src.txt', MetadataDirective: 'REPLACE', ContentType: 'text/x-new', Metadata: { b: '2' } }),
      );
      expect(replaced.CopyObjectResult?.ETag).toBeTruthy();
      expect(await onRgw('copy/dst.txt')).toMatchObject({ ContentType: 'text/plain', Metadata: { a: '1' }, ContentLength: small.length });
      expect(await onRgw('copy/replaced.txt')).toMatchObject({ ContentType: 'text/x-new', Metadata: { b: '2' } });

      const big = randomBytes(11 * MiB);
      await client.send(new PutObjectCommand({ Bucket: 'lake', Key: 'copy/big.bin', Body: big }));
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'lake', Key: 'copy/big-copy.bin' }));
      const parts = [];
      for (const [n, range] of [
        [1, `bytes=0-${6 * MiB - 1}`],
        [2, `bytes=${6 * MiB}-${big.length - 1}`],
      ] as const) {
        const out = await client.send(new UploadPartCopyCommand({ Bucket: 'lake', Key: 'copy/big-copy.bin', UploadId, PartNumber: n, CopySource: 'lake/copy/big.bin', CopySourceRange: range }));
        parts.push({ PartNumber: n, ETag: out.CopyPartResult?.ETag });
      }
      const completed = await client.send(new CompleteMultipartUploadCommand({ Bucket: 'lake', Key: 'copy/big-copy.bin', UploadId, MultipartUpload: { Parts: parts } }));
      const stored = await onRgw('copy/big-copy.bin');
      expect(completed.ETag).toMatch(/-2"$/);
      expect(completed.ETag).toBe(stored.ETag);
      const got = await client.send(new GetObjectCommand({ Bucket: 'lake', Key: 'copy/big-copy.bin' }));
      expect(sha(await bodyBytes(got.Body))).toBe(sha(big));
    }, 60_000);

    test('delete: DeleteObject and DeleteObjects remove the objects from RGW', async () => {
      for (const Key of ['del/one', 'del/two', 'del/three']) await client.send(new PutObjectCommand({ Bucket: 'lake', Key, Body: Key }));
      await client.send(new DeleteObjectCommand({ Bucket: 'lake', Key: 'del/one' }));
      const multi = await client.send(new DeleteObjectsCommand({ Bucket: 'lake', Delete: { Objects: [{ Key: 'del/two' }, { Key: 'del/three' }, { Key: 'del/never' }] } }));
      expect(multi.Errors ?? []).toEqual([]);
      for (const key of ['del/one', 'del/two', 'del/three']) expect(await errorCode(onRgw(key))).toBe('NotFound');
      expect(await errorCode(client.send(new GetObjectCommand({ Bucket: 'lake', Key: 'del/two' })))).toBe('NoSuchKey');
    });

    test('the second read of an object is a cache hit: no store read', async () => {
      const data = randomBytes(2 * MiB + 17);
      await client.send(new PutObjectCommand({ Bucket: 'lake', Key: 'cache/hot.bin', Body: data }));
      const before = await ufsReads();
      const first = await client.send(new GetObjectCommand({ Bucket: 'lake', Key: 'cache/hot.bin' }));
      expect((await bodyBytes(first.Body)).equals(data)).toBe(true);
      const afterFirst = await ufsReads();
      expect(afterFirst).toBeGreaterThan(before);
      const second = await client.send(new GetObjectCommand({ Bucket: 'lake', Key: 'cache/hot.bin' }));
      expect((await bodyBytes(second.Body)).equals(data)).toBe(true);
      const ranged = await client.send(new GetObjectCommand({ Bucket: 'lake', Key: 'cache/hot.bin', Range: 'bytes=100-199' }));
      expect((await bodyBytes(ranged.Body)).equals(data.subarray(100, 200))).toBe(true);
      expect(await ufsReads()).toBe(afterFirst);
    });
  });

  describe('aws CLI v2', () => {
    if (!existsSync(AWS) && process.env.CI !== 'true') {
      test.skip(`${AWS} is not installed (apt-get install awscli; CI does)`, () => undefined);
      return;
    }
    const aws = async (...args: string[]): Promise<string> => {
      const env: NodeJS.ProcessEnv = { HOME: work, PATH: process.env.PATH };
      Object.assign(env, {
        AWS_ACCESS_KEY_ID: ADMIN.accessKeyId,
        AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_PAGER: '',
      });
      const { stdout } = await run(AWS, ['--endpoint-url', gw.url, ...args], { env, timeout: 90_000, maxBuffer: 16 * MiB });
      return stdout;
    };

    test('put-object with metadata, head-object, ranged get-object, list with delimiter and max-items', async () => {
      const file = path.join(work, 'small.txt');
      await writeFile(file, 'hello from the aws CLI\n');
      await aws('s3api', 'put-object', '--bucket', 'lake', '--key', 'cli/small.txt', '--body', file, '--content-type', 'text/plain', '--metadata', 'origin=cli,step=1');
      const head = JSON.parse(await aws('s3api', 'head-object', '--bucket', 'lake', '--key', 'cli/small.txt')) as { ContentType: string; Metadata: Record<string, string>; ContentLength: number };
      expect(head).toMatchObject({ ContentType: 'text/plain', Metadata: { origin: 'cli', step: '1' }, ContentLength: 23 });
      expect((await onRgw('cli/small.txt')).Metadata).toEqual({ origin: 'cli', step: '1' });
      const part = path.join(work, 'part.txt');
      await aws('s3api', 'get-object', '--bucket', 'lake', '--key', 'cli/small.txt', '--range', 'bytes=6-9', part);
      expect(await readFile(part, 'utf8')).toBe('from');

      for (const key of ['cli/dir/a', 'cli/dir/b', 'cli/other/c']) await aws('s3api', 'put-object', '--bucket', 'lake', '--key', key, '--body', file);
      const listed = JSON.parse(await aws('s3api', 'list-objects-v2', '--bucket', 'lake', '--prefix', 'cli/', '--delimiter', '/')) as {
        Contents: { Key: string }[];
        CommonPrefixes: { Prefix: string }[];
      };
      expect(listed.Contents.map((c) => c.Key)).toEqual(['cli/small.txt']);
      expect(listed.CommonPrefixes.map((p) => p.Prefix)).toEqual(['cli/dir/', 'cli/other/']);
      const firstPage = JSON.parse(await aws('s3api', 'list-objects-v2', '--bucket', 'lake', '--prefix', 'cli/', '--max-keys', '2', '--no-paginate')) as {
        Contents: { Key: string }[];
        IsTruncated: boolean;
      };
      expect(firstPage.Contents.map((c) => c.Key)).toEqual(['cli/dir/a', 'cli/dir/b']);
      expect(firstPage.IsTruncated).toBe(true);
      const ls = await aws('s3', 'ls', '--recursive', 's3://lake/cli/');
      expect(ls.trim().split('\n').map((line) => line.trim().split(/\s+/).pop())).toEqual(['cli/dir/a', 'cli/dir/b', 'cli/other/c', 'cli/small.txt']);
    }, 120_000);

    test('40 MiB: cp up (multipart), cp down byte-identical, cp in the store (multipart copy), rm', async () => {
      const data = randomBytes(40 * MiB);
      const up = path.join(work, 'forty.bin');
      const down = path.join(work, 'forty.down');
      await writeFile(up, data);
      await aws('s3', 'cp', up, 's3://lake/cli/forty.bin');
      const stored = await onRgw('cli/forty.bin');
      expect(stored.ETag).toMatch(/^"[0-9a-f]{32}-5"$/);
      await aws('s3', 'cp', 's3://lake/cli/forty.bin', down);
      expect(sha(await readFile(down))).toBe(sha(data));
      // Above its 8 MiB threshold the CLI copies with CreateMultipartUpload + UploadPartCopy.
      await aws('s3', 'cp', 's3://lake/cli/forty.bin', 's3://lake/cli/forty-copy.bin');
      expect((await onRgw('cli/forty-copy.bin')).ContentLength).toBe(data.length);
      await aws('s3', 'cp', 's3://lake/cli/forty-copy.bin', down);
      expect(sha(await readFile(down))).toBe(sha(data));
      await aws('s3', 'rm', 's3://lake/cli/forty.bin');
      await aws('s3', 'rm', 's3://lake/cli/forty-copy.bin');
      expect(await errorCode(onRgw('cli/forty.bin'))).toBe('NotFound');
      expect(await errorCode(onRgw('cli/forty-copy.bin'))).toBe('NotFound');
    }, 180_000);
  });
});
