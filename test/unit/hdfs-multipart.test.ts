/**
 * Multipart uploads on HDFS: parts as files under .ringcache/uploads/<id>, completion by
 * CONCAT (no data copied), the streaming fallback when the NameNode refuses CONCAT, resuming
 * a completion that failed after CONCAT, and housekeeping.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { HdfsAdapter, createHdfsAdapterFromUri } from '../../ufs-adapters/hdfs/hdfs-adapter';
import { MIN_PART_SIZE, type MultipartUpload } from '../../ufs-adapters/types';
import { startWebHdfsEmulator, type WebHdfsEmulator, type WebHdfsEmulatorOptions } from '../emulators/webhdfs';
import { body, expectUfsError, meta, readAll } from '../helpers/adapter-test-kit';

const md5 = (data: Buffer): Buffer => createHash('md5').update(data).digest();
const multipartEtag = (...parts: Buffer[]): string => `"${createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex')}-${parts.length}"`;

const ROOT = '/warehouse';
const UPLOADS = `${ROOT}/.ringcache/uploads`;
let emulator: WebHdfsEmulator;
let adapter: HdfsAdapter;

async function start(options: WebHdfsEmulatorOptions = {}): Promise<void> {
  emulator = await startWebHdfsEmulator({ lsLimit: 4, ...options });
  adapter = createHdfsAdapterFromUri(`hdfs://127.0.0.1:${emulator.nameNodePort}${ROOT}?user=etl`);
}

afterEach(async () => {
  await adapter?.close();
  await emulator?.close();
});

async function uploadParts(key: string, parts: Buffer[]): Promise<{ upload: MultipartUpload; etags: { partNumber: number; etag: string }[] }> {
  const upload = await adapter.createMultipartUpload(key, meta({ contentType: 'application/x-parquet', userMetadata: { job: '42' } }));
  const etags = [];
  for (let i = 0; i < parts.length; i++) {
    const part = await adapter.uploadPart({ uploadId: upload.uploadId, key, partNumber: i + 1, body: body(parts[i]) });
    expect(part.etag).toBe(`"${md5(parts[i]).toString('hex')}"`);
    etags.push({ partNumber: i + 1, etag: part.etag });
  }
  return { upload, etags };
}

async function uploads(prefix = ''): Promise<MultipartUpload[]> {
  const out: MultipartUpload[] = [];
  for await (const u of adapter.listMultipartUploads(prefix)) out.push(u);
  return out;
}

describe('completion by CONCAT', () => {
  it('moves the parts onto the first one: no data copied, S3 ETag and part sizes, nothing left over', async () => {
    await start();
    const parts = [randomBytes(MIN_PART_SIZE), randomBytes(MIN_PART_SIZE + 3), randomBytes(1000)];
    const { upload, etags } = await uploadParts('tables/t1/part-0.parquet', parts);
    emulator.resetCounts();
    const done = await adapter.completeMultipartUpload('tables/t1/part-0.parquet', upload.uploadId, etags);
    expect(done).toMatchObject({ etag: multipartEtag(...parts), size: parts.reduce((n, p) => n + p.length, 0) });
    expect(emulator.count('CONCAT')).toBe(1);
    const concat = emulator.requests.find((r) => r.op === 'CONCAT');
    expect(concat?.path).toBe(`${UPLOADS}/${upload.uploadId}/part-1`);
    expect(concat?.params.sources).toBe(`${UPLOADS}/${upload.uploadId}/part-2,${UPLOADS}/${upload.uploadId}/part-3`);
    expect(emulator.count('CREATE', 'datanode')).toBe(0);
    expect(emulator.count('OPEN', 'datanode')).toBe(0);

    const info = await adapter.stat('tables/t1/part-0.parquet');
    expect(info).toMatchObject({ etag: done.etag, contentType: 'application/x-parquet', userMetadata: { job: '42' }, partSizes: parts.map((p) => p.length) });
    expect((await readAll(await adapter.read('tables/t1/part-0.parquet', undefined))).equals(Buffer.concat(parts))).toBe(true);
    const names = (await emulator.namespace.getXAttrs(['warehouse', 'tables', 't1', 'part-0.parquet'], [], 'etl')).map((a) => a.name);
    expect(names).toEqual(['user.ringcache.meta']);
    expect(await emulator.list(UPLOADS)).toEqual([]);
    expect(await emulator.list(`${ROOT}/.ringcache/tmp`)).toEqual([]);
    await expectUfsError(adapter.completeMultipartUpload('tables/t1/part-0.parquet', upload.uploadId, etags), 'NoSuchUpload');
  });

  it('leaves empty parts out of CONCAT and renames a lone non-empty part', async () => {
    await start();
    const parts = [randomBytes(MIN_PART_SIZE), Buffer.alloc(0)];
    const { upload, etags } = await uploadParts('lone', parts);
    emulator.resetCounts();
    const done = await adapter.completeMultipartUpload('lone', upload.uploadId, etags);
    expect(emulator.count('CONCAT')).toBe(0);
    expect(done.etag).toBe(multipartEtag(...parts));
    expect(await adapter.stat('lone')).toMatchObject({ size: MIN_PART_SIZE, partSizes: [MIN_PART_SIZE, 0] });

    const small = await uploadParts('small', [Buffer.from('just one small part')]);
    await adapter.completeMultipartUpload('small', small.upload.uploadId, small.etags);
    expect((await readAll(await adapter.read('small', undefined))).toString()).toBe('just one small part');

    const empty = await uploadParts('empty', [Buffer.alloc(0)]);
    await adapter.completeMultipartUpload('empty', empty.upload.uploadId, empty.etags);
    expect(await adapter.stat('empty')).toMatchObject({ size: 0, etag: multipartEtag(Buffer.alloc(0)) });
  });

  it('streams the parts into one file when the NameNode refuses CONCAT (pre-2.7 full-block rule)', async () => {
    await start({ legacyConcat: true, blockSize: 1024 * 1024 });
    const parts = [randomBytes(MIN_PART_SIZE + 1), randomBytes(MIN_PART_SIZE), randomBytes(10)];
    const { upload, etags } = await uploadParts('legacy', parts);
    emulator.resetCounts();
    const done = await adapter.completeMultipartUpload('legacy', upload.uploadId, etags);
    expect(done.etag).toBe(multipartEtag(...parts));
    expect(emulator.count('CONCAT')).toBe(1); // refused: 400 HadoopIllegalArgumentException
    expect(emulator.count('OPEN', 'datanode')).toBe(3);
    expect(emulator.count('CREATE', 'datanode')).toBe(1);
    expect((await readAll(await adapter.read('legacy', undefined))).equals(Buffer.concat(parts))).toBe(true);
    expect(await emulator.list(UPLOADS)).toEqual([]);
    expect(await emulator.list(`${ROOT}/.ringcache/tmp`)).toEqual([]);

    // Whole blocks in every part but the last: the same NameNode accepts CONCAT.
    const whole = [randomBytes(MIN_PART_SIZE), randomBytes(MIN_PART_SIZE), randomBytes(10)];
    const second = await uploadParts('whole-blocks', whole);
    emulator.resetCounts();
    await adapter.completeMultipartUpload('whole-blocks', second.upload.uploadId, second.etags);
    expect(emulator.count('CREATE', 'datanode')).toBe(0);
    expect((await readAll(await adapter.read('whole-blocks', undefined))).equals(Buffer.concat(whole))).toBe(true);
  });

  it('a completion that failed after CONCAT can be retried with the same part list', async () => {
    await start();
    const parts = [randomBytes(MIN_PART_SIZE), randomBytes(2000)];
    const { upload, etags } = await uploadParts('resume/me', parts);
    emulator.injectFault({
      op: 'RENAME',
      path: `${UPLOADS}/${upload.uploadId}/part-1`,
      status: 403,
      exception: 'StandbyException',
      javaClassName: 'org.apache.hadoop.ipc.StandbyException',
      message: 'Operation category WRITE is not supported in state standby',
    });
    await expectUfsError(adapter.completeMultipartUpload('resume/me', upload.uploadId, etags), 'Unavailable');
    expect(emulator.count('CONCAT')).toBe(1);
    await expectUfsError(adapter.stat('resume/me'), 'NotFound');
    // Another part list cannot reuse the assembled data.
    await expectUfsError(adapter.completeMultipartUpload('resume/me', upload.uploadId, etags.slice(0, 1)), 'InvalidPart');
    const done = await adapter.completeMultipartUpload('resume/me', upload.uploadId, etags);
    expect(done.etag).toBe(multipartEtag(...parts));
    expect(emulator.count('CONCAT')).toBe(1);
    expect((await readAll(await adapter.read('resume/me', undefined))).equals(Buffer.concat(parts))).toBe(true);
    expect(await emulator.list(UPLOADS)).toEqual([]);
  });
});

describe('multipart bookkeeping', () => {
  beforeEach(() => start());

  it('lists parts in numeric order; re-uploading a part number replaces it', async () => {
    const upload = await adapter.createMultipartUpload('k', meta());
    for (const n of [10, 2, 1]) await adapter.uploadPart({ uploadId: upload.uploadId, key: 'k', partNumber: n, body: body(`part ${n}`) });
    const replaced = await adapter.uploadPart({ uploadId: upload.uploadId, key: 'k', partNumber: 2, body: body('part two, again') });
    const parts = await adapter.listParts('k', upload.uploadId);
    expect(parts.map((p) => [p.partNumber, p.size])).toEqual([
      [1, 6],
      [2, 15],
      [10, 7],
    ]);
    expect(parts[1].etag).toBe(replaced.etag);
    expect(parts[1].lastModified).toBeInstanceOf(Date);
    expect(await emulator.list(`${UPLOADS}/${upload.uploadId}`)).toEqual(['part-1', 'part-10', 'part-2']);
    expect(await adapter.getMultipartUpload('k', upload.uploadId)).toMatchObject({ key: 'k', metadata: { userMetadata: {} } });
  });

  it('checks the key, the upload id and the part number; a failed part leaves nothing', async () => {
    const upload = await adapter.createMultipartUpload('k', meta());
    await expectUfsError(adapter.listParts('other', upload.uploadId), 'NoSuchUpload');
    await expectUfsError(adapter.listParts('k', '../../etc'), 'NoSuchUpload');
    await expectUfsError(adapter.getMultipartUpload('k', 'AAAAAAAAAAAAAAAAAAAAAAAA'), 'NoSuchUpload');
    await expectUfsError(adapter.uploadPart({ uploadId: upload.uploadId, key: 'k', partNumber: 0, body: body('x') }), 'InvalidPart');
    await expectUfsError(adapter.uploadPart({ uploadId: upload.uploadId, key: 'k', partNumber: 10001, body: body('x') }), 'InvalidPart');
    const failing = new Readable({
      read() {
        this.destroy(new Error('socket hang up'));
      },
    });
    await expect(adapter.uploadPart({ uploadId: upload.uploadId, key: 'k', partNumber: 1, body: failing })).rejects.toThrow('socket hang up');
    expect(await emulator.list(`${UPLOADS}/${upload.uploadId}`)).toEqual([]);
    await expectUfsError(adapter.createMultipartUpload('dir/', meta()), 'InvalidKey');
  });

  it('abort removes the upload, and a late part does not bring its folder back', async () => {
    const upload = await adapter.createMultipartUpload('gone', meta());
    await adapter.abortMultipartUpload('gone', upload.uploadId);
    await expectUfsError(adapter.listParts('gone', upload.uploadId), 'NoSuchUpload');
    await expectUfsError(adapter.uploadPart({ uploadId: upload.uploadId, key: 'gone', partNumber: 1, body: body('late') }), 'NoSuchUpload');
    await expectUfsError(adapter.abortMultipartUpload('gone', upload.uploadId), 'NoSuchUpload');
    expect(await emulator.list(UPLOADS)).toEqual([]);
  });

  it('refuses completion onto a path conflict before CONCAT, keeping the upload', async () => {
    await adapter.write({ key: 'file', body: body('f'), metadata: meta() });
    const { upload, etags } = await uploadParts('file/below', [randomBytes(MIN_PART_SIZE), Buffer.from('tail')]);
    emulator.resetCounts();
    await expectUfsError(adapter.completeMultipartUpload('file/below', upload.uploadId, etags), 'PathConflict');
    expect(emulator.count('CONCAT')).toBe(0);
    expect((await adapter.listParts('file/below', upload.uploadId)).length).toBe(2);

    await adapter.write({ key: 'folder/inner', body: body('i'), metadata: meta() });
    const second = await uploadParts('folder', [Buffer.from('x')]);
    await expectUfsError(adapter.completeMultipartUpload('folder', second.upload.uploadId, second.etags), 'PathConflict');
    expect((await adapter.listParts('folder', second.upload.uploadId)).length).toBe(1);
  });

  it('lists uploads by key (UTF-8 order) then initiation time, filtered by prefix', async () => {
    const created: MultipartUpload[] = [];
    for (const key of ['b/2', 'ﬀ', 'a', 'b/1', '😀', 'b/1']) {
      created.push(await adapter.createMultipartUpload(key, meta()));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const all = await uploads();
    expect(all.map((u) => u.key)).toEqual(['a', 'b/1', 'b/1', 'b/2', 'ﬀ', '😀']);
    expect(all.filter((u) => u.key === 'b/1').map((u) => u.uploadId)).toEqual([created[3].uploadId, created[5].uploadId]);
    expect((await uploads('b/')).map((u) => u.key)).toEqual(['b/1', 'b/1', 'b/2']);
    expect(await uploads('zzz')).toEqual([]);
  });

  it('cleanupAbandonedUploads removes old uploads and stale temp files only', async () => {
    const old = await adapter.createMultipartUpload('old', meta());
    await adapter.uploadPart({ key: 'old', uploadId: old.uploadId, partNumber: 1, body: body('x') });
    await emulator.writeFile(`${ROOT}/.ringcache/tmp/crashed-put`, 'left behind by a crash');
    expect(await adapter.cleanupAbandonedUploads(60_000)).toBe(0);
    expect((await uploads()).length).toBe(1);

    await new Promise((resolve) => setTimeout(resolve, 400));
    const fresh = await adapter.createMultipartUpload('fresh', meta());
    expect(await adapter.cleanupAbandonedUploads(200)).toBe(2);
    expect((await uploads()).map((u) => u.uploadId)).toEqual([fresh.uploadId]);
    expect(await emulator.list(`${ROOT}/.ringcache/tmp`)).toEqual([]);
  });
});
