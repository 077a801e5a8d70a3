/**
 * The S3 adapter against Ceph RGW 16, beyond the shared contract: what the first run against a
 * real S3 implementation found (an empty ETag from CompleteMultipartUpload, NoSuchKey for an
 * aborted upload, x-amz-copy-source-if-match ignored), streamed multipart writes and
 * UploadPartCopy on a real store. Each defect test fails without its fix.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { HeadObjectCommand, ListMultipartUploadsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { isUfsError } from '../../ufs-adapters/errors';
import { createS3AdapterFromUri, type S3Adapter, type S3AdapterOptions } from '../../ufs-adapters/s3/s3-adapter';
import type { ObjectMetadata } from '../../ufs-adapters/types';
import { describeWithRgw } from '../servers/rgw-fixture';

const MiB = 1024 * 1024;
const meta = (extra: Partial<ObjectMetadata> = {}): ObjectMetadata => ({ userMetadata: {}, ...extra });
const md5 = (data: Buffer): Buffer => createHash('md5').update(data).digest();

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

describeWithRgw('S3 adapter on Ceph RGW: what a real store showed', (rgw) => {
  const adapters: S3Adapter[] = [];
  const open = (prefix: string, options: S3AdapterOptions = {}): S3Adapter => {
    const { endpoint, accessKeyId, secretAccessKey } = rgw.server;
    const adapter = createS3AdapterFromUri(`s3://adapter/${prefix}?endpoint=${encodeURIComponent(endpoint)}`, {
      credentials: { accessKeyId, secretAccessKey },
      maxAttempts: 2,
      ...options,
    });
    adapters.push(adapter);
    return adapter;
  };
  /** Runs `before` once, just before the adapter's client sends its first `command`. */
  const beforeFirst = (adapter: S3Adapter, command: string, before: () => Promise<void>): void => {
    let done = false;
    adapter.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (!done && context.commandName === `${command}Command`) {
          done = true;
          await before();
        }
        return next(args);
      },
      { step: 'initialize', name: `before-${command}` },
    );
  };
  const uploadsLeft = async (prefix: string): Promise<number> =>
    (await rgw.client().send(new ListMultipartUploadsCommand({ Bucket: 'adapter', Prefix: prefix }))).Uploads?.length ?? 0;

  beforeAll(() => rgw.createBucket('adapter'));
  afterAll(async () => {
    for (const adapter of adapters) await adapter.close();
  });

  test('CompleteMultipartUpload answered with an empty ETag: the ETag and Last-Modified come from a HEAD', async () => {
    const adapter = open('etag');
    const upload = await adapter.createMultipartUpload('mp', meta());
    const part = randomBytes(MiB);
    const p1 = await adapter.uploadPart({ uploadId: upload.uploadId, key: 'mp', partNumber: 1, body: Readable.from([part]) });
    const done = await adapter.completeMultipartUpload('mp', upload.uploadId, [{ partNumber: 1, etag: p1.etag }]);
    const head = await rgw.client().send(new HeadObjectCommand({ Bucket: 'adapter', Key: 'etag/mp' }));
    expect(done.etag).toBe(`"${createHash('md5').update(md5(part)).digest('hex')}-1"`);
    expect(done.etag).toBe(head.ETag);
    expect(done.lastModified.getTime()).toBe(head.LastModified?.getTime());
  });

  test('a streamed write over partSize (multipart inside) reports the stored ETag and Last-Modified', async () => {
    const adapter = open('streamed', { partSize: 5 * MiB, queueSize: 2 });
    const data = randomBytes(12 * MiB);
    const result = await adapter.write({ key: 'big', body: Readable.from([data.subarray(0, 7 * MiB), data.subarray(7 * MiB)]), metadata: meta({ contentType: 'application/x-big' }) });
    const info = await adapter.stat('big');
    expect(result.etag).toMatch(/^"[0-9a-f]{32}-3"$/);
    expect(result).toEqual({ etag: info.etag, size: data.length, lastModified: info.lastModified });
    expect(info.contentType).toBe('application/x-big');
    expect(md5(await readAll(await adapter.read('big', undefined))).equals(md5(data))).toBe(true);
    expect(await uploadsLeft('streamed/')).toBe(0);
  });

  test('UploadPart, Complete and ListParts on an aborted upload are NoSuchUpload (RGW says NoSuchKey)', async () => {
    const adapter = open('aborted');
    const upload = await adapter.createMultipartUpload('gone', meta());
    await adapter.abortMultipartUpload('gone', upload.uploadId);
    for (const call of [
      () => adapter.uploadPart({ uploadId: upload.uploadId, key: 'gone', partNumber: 1, body: Readable.from([Buffer.from('x')]) }),
      () => adapter.listParts('gone', upload.uploadId),
      () => adapter.completeMultipartUpload('gone', upload.uploadId, [{ partNumber: 1, etag: '"00"' }]),
      () => adapter.abortMultipartUpload('gone', upload.uploadId),
    ]) {
      const err = await call().catch((e: unknown) => e);
      expect(isUfsError(err, 'NoSuchUpload')).toBe(true);
    }
  });

  test.each([
    ['CopyObject', {}],
    ['UploadPartCopy', { multipartCopyThreshold: MiB, multipartCopyPartSize: 5 * MiB }],
  ] as const)('a source replaced during the copy (%s): the copy is of one version, and its size is that one', async (command, options) => {
    const adapter = open(`race-${command}`, options);
    const first = randomBytes(6 * MiB);
    const second = randomBytes(7 * MiB);
    await adapter.write({ key: 'src', body: Readable.from([first]), metadata: meta() });
    // After the adapter's HEAD of the source, before its copy request: another writer replaces the source.
    beforeFirst(adapter, command, async () => {
      await rgw.client().send(new PutObjectCommand({ Bucket: 'adapter', Key: `race-${command}/src`, Body: second }));
    });
    const copied = await adapter.copy({ sourceKey: 'src', destinationKey: 'dst' });
    const stored = await adapter.stat('dst');
    const bytes = await readAll(await adapter.read('dst', undefined));
    expect(bytes.equals(second)).toBe(true);
    expect(copied.size).toBe(second.length);
    expect(copied.etag).toBe(stored.etag);
    expect(await uploadsLeft(`race-${command}/`)).toBe(0);
  });
});
