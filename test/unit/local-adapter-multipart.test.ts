import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { cleanupAbandonedUploads } from '../../ufs-adapters/local/abandoned-cleanup';
import { LocalAdapter } from '../../ufs-adapters/local/local-adapter';
import { MIN_PART_SIZE, type MultipartUpload } from '../../ufs-adapters/types';
import { expectUfsError, meta, readAll } from '../helpers/adapter-test-kit';

const md5 = (data: Buffer): Buffer => createHash('md5').update(data).digest();
const quoted = (data: Buffer): string => `"${md5(data).toString('hex')}"`;

async function uploads(adapter: LocalAdapter, prefix = ''): Promise<MultipartUpload[]> {
  const out: MultipartUpload[] = [];
  for await (const upload of adapter.listMultipartUploads(prefix)) out.push(upload);
  return out;
}

let base: string;
let root: string;
let adapter: LocalAdapter;
const uploadsDir = (): string => path.join(root, '.ringcache', 'uploads');

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'ringcache-mpu-'));
  root = path.join(base, 'root');
  await mkdir(root);
  adapter = new LocalAdapter({ root });
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const part1 = Buffer.alloc(MIN_PART_SIZE, 'a');
const part2 = Buffer.alloc(MIN_PART_SIZE, 'b');
const part3 = Buffer.from('the tail');

async function uploadThree(key: string, uploadId: string) {
  const p1 = await adapter.uploadPart({ key, uploadId, partNumber: 1, body: Readable.from([part1]) });
  const p2 = await adapter.uploadPart({ key, uploadId, partNumber: 2, body: Readable.from([part2]) });
  const p3 = await adapter.uploadPart({ key, uploadId, partNumber: 3, body: Readable.from([part3]) });
  return [p1, p2, p3];
}

describe('multipart uploads', () => {
  it('assembles parts into one object with the multipart ETag', async () => {
    const upload = await adapter.createMultipartUpload('big/file.bin', meta({ contentType: 'application/x-big', userMetadata: { m: '1' } }));
    expect(upload.uploadId).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(upload.key).toBe('big/file.bin');
    expect(JSON.parse(await readFile(path.join(uploadsDir(), upload.uploadId, 'upload.json'), 'utf8'))).toMatchObject({ key: 'big/file.bin' });

    const parts = await uploadThree('big/file.bin', upload.uploadId);
    expect(parts.map((p) => [p.partNumber, p.etag, p.size])).toEqual([
      [1, quoted(part1), MIN_PART_SIZE],
      [2, quoted(part2), MIN_PART_SIZE],
      [3, quoted(part3), part3.length],
    ]);
    expect((await adapter.listParts('big/file.bin', upload.uploadId)).map((p) => p.etag)).toEqual(parts.map((p) => p.etag));
    expect(await adapter.getMultipartUpload('big/file.bin', upload.uploadId)).toEqual({
      uploadId: upload.uploadId,
      key: 'big/file.bin',
      initiated: upload.initiated,
      metadata: { contentType: 'application/x-big', userMetadata: { m: '1' } },
    });

    const result = await adapter.completeMultipartUpload(
      'big/file.bin',
      upload.uploadId,
      // Clients may send ETags with or without quotes .
      parts.map((p, i) => ({ partNumber: p.partNumber, etag: [p.etag, p.etag.slice(1, -1), p.etag][i] })),
    );
    const expectedEtag = `"${createHash('md5').update(Buffer.concat([md5(part1), md5(part2), md5(part3)])).digest('hex')}-3"`;
    expect(result.etag).toBe(expectedEtag);
    expect(result.size).toBe(2 * MIN_PART_SIZE + part3.length);

    const info = await new LocalAdapter({ root }).stat('big/file.bin');
    expect(info).toMatchObject({
      etag: expectedEtag,
      size: result.size,
      partSizes: [MIN_PART_SIZE, MIN_PART_SIZE, part3.length],
      contentType: 'application/x-big',
      userMetadata: { m: '1' },
    });
    const whole = await readAll(await adapter.read('big/file.bin', undefined));
    expect(whole.equals(Buffer.concat([part1, part2, part3]))).toBe(true);
    const boundary = await readAll(await adapter.read('big/file.bin', { start: MIN_PART_SIZE - 2, end: MIN_PART_SIZE + 1 }));
    expect(boundary.toString()).toBe('aabb');

    expect(existsSync(path.join(uploadsDir(), upload.uploadId))).toBe(false);
    expect(await uploads(adapter)).toEqual([]);
    await expectUfsError(adapter.completeMultipartUpload('big/file.bin', upload.uploadId, parts), 'NoSuchUpload');
    expect(await readdir(path.join(root, '.ringcache', 'tmp'))).toEqual([]);
  });

  it('a single (small) part is fine, and re-uploading a part number replaces it', async () => {
    const { uploadId } = await adapter.createMultipartUpload('one', meta());
    await adapter.uploadPart({ key: 'one', uploadId, partNumber: 1, body: Readable.from([Buffer.from('first try')]) });
    const again = await adapter.uploadPart({ key: 'one', uploadId, partNumber: 1, body: Readable.from([Buffer.from('second')]) });
    const listed = await adapter.listParts('one', uploadId);
    expect(listed).toEqual([{ partNumber: 1, etag: again.etag, size: 6, lastModified: again.lastModified }]);
    const result = await adapter.completeMultipartUpload('one', uploadId, [{ partNumber: 1, etag: again.etag }]);
    expect(result.etag).toMatch(/-1"$/);
    expect((await readAll(await adapter.read('one', undefined))).toString()).toBe('second');
  });

  it('lists parts in numeric order', async () => {
    const { uploadId } = await adapter.createMultipartUpload('k', meta());
    for (const n of [10, 2, 1, 100]) {
      await adapter.uploadPart({ key: 'k', uploadId, partNumber: n, body: Readable.from([Buffer.from(`part ${n}`)]) });
    }
    expect((await adapter.listParts('k', uploadId)).map((p) => p.partNumber)).toEqual([1, 2, 10, 100]);
  });

  it('validates the part list: InvalidPartOrder, InvalidPart, EntityTooSmall', async () => {
    const { uploadId } = await adapter.createMultipartUpload('v', meta());
    const [p1, p2, p3] = await uploadThree('v', uploadId);
    const small = await adapter.uploadPart({ key: 'v', uploadId, partNumber: 4, body: Readable.from([Buffer.from('tiny')]) });
    const ref = (p: { partNumber: number; etag: string }) => ({ partNumber: p.partNumber, etag: p.etag });

    await expectUfsError(adapter.completeMultipartUpload('v', uploadId, []), 'InvalidPartOrder');
    await expectUfsError(adapter.completeMultipartUpload('v', uploadId, [ref(p2), ref(p1)]), 'InvalidPartOrder');
    await expectUfsError(adapter.completeMultipartUpload('v', uploadId, [ref(p1), ref(p1)]), 'InvalidPartOrder');
    await expectUfsError(adapter.completeMultipartUpload('v', uploadId, [ref(p1), { partNumber: 2, etag: p1.etag }]), 'InvalidPart');
    await expectUfsError(adapter.completeMultipartUpload('v', uploadId, [ref(p1), { partNumber: 7, etag: p2.etag }]), 'InvalidPart');
    await expectUfsError(adapter.completeMultipartUpload('v', uploadId, [ref(p3), ref(small)]), 'EntityTooSmall');
    await expectUfsError(adapter.completeMultipartUpload('v', uploadId, [ref(p1), ref(p3), ref(small)]), 'EntityTooSmall');

    // Nothing was committed and the upload is still usable.
    await expectUfsError(adapter.stat('v'), 'NotFound');
    const done = await adapter.completeMultipartUpload('v', uploadId, [ref(p1), ref(p2), ref(small)]);
    expect(done.size).toBe(2 * MIN_PART_SIZE + 4);
    expect(await readdir(path.join(root, '.ringcache', 'tmp'))).toEqual([]);
  });

  it('rejects part numbers out of range', async () => {
    const { uploadId } = await adapter.createMultipartUpload('n', meta());
    for (const partNumber of [0, -1, 10001, 1.5]) {
      await expectUfsError(adapter.uploadPart({ key: 'n', uploadId, partNumber, body: Readable.from([Buffer.from('x')]) }), 'InvalidPart');
    }
  });

  it('keeps a failed part out, with no temp file left and the body error unchanged', async () => {
    const { uploadId } = await adapter.createMultipartUpload('f', meta());
    const boom = new Error('BadDigest');
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1024, 'x'));
        this.destroy(boom);
      },
    });
    await expect(adapter.uploadPart({ key: 'f', uploadId, partNumber: 1, body: failing })).rejects.toBe(boom);
    const refused = new Error('bad trailer checksum');
    await expect(
      adapter.uploadPart({ key: 'f', uploadId, partNumber: 2, body: Readable.from([Buffer.from('y')]), beforeCommit: () => { throw refused; } }),
    ).rejects.toBe(refused);
    expect(await adapter.listParts('f', uploadId)).toEqual([]);
    expect(await readdir(path.join(uploadsDir(), uploadId))).toEqual(['upload.json']);
  });

  it('checks the key and the upload id on every operation', async () => {
    const { uploadId } = await adapter.createMultipartUpload('mine', meta());
    const body = () => Readable.from([Buffer.from('x')]);
    await expectUfsError(adapter.uploadPart({ key: 'other', uploadId, partNumber: 1, body: body() }), 'NoSuchUpload');
    await expectUfsError(adapter.listParts('other', uploadId), 'NoSuchUpload');
    await expectUfsError(adapter.getMultipartUpload('other', uploadId), 'NoSuchUpload');
    await expectUfsError(adapter.completeMultipartUpload('other', uploadId, [{ partNumber: 1, etag: 'x' }]), 'NoSuchUpload');
    await expectUfsError(adapter.abortMultipartUpload('other', uploadId), 'NoSuchUpload');
    for (const bogus of ['../../../etc', '..', '', 'a/b', 'nonexistent-upload-id-0000']) {
      await expectUfsError(adapter.listParts('mine', bogus), 'NoSuchUpload');
      await expectUfsError(adapter.abortMultipartUpload('mine', bogus), 'NoSuchUpload');
    }
    expect((await uploads(adapter)).map((u) => u.uploadId)).toEqual([uploadId]);
  });

  it('abort removes the upload; later operations report NoSuchUpload', async () => {
    const { uploadId } = await adapter.createMultipartUpload('gone', meta());
    await adapter.uploadPart({ key: 'gone', uploadId, partNumber: 1, body: Readable.from([Buffer.from('x')]) });
    await adapter.abortMultipartUpload('gone', uploadId);
    expect(existsSync(path.join(uploadsDir(), uploadId))).toBe(false);
    await expectUfsError(adapter.abortMultipartUpload('gone', uploadId), 'NoSuchUpload');
    await expectUfsError(adapter.uploadPart({ key: 'gone', uploadId, partNumber: 2, body: Readable.from([Buffer.from('y')]) }), 'NoSuchUpload');
    await expectUfsError(adapter.listParts('gone', uploadId), 'NoSuchUpload');
    expect(existsSync(path.join(uploadsDir(), uploadId))).toBe(false);
  });

  it('lists uploads by key (UTF-8 order) then initiation time, filtered by prefix', async () => {
    const created: MultipartUpload[] = [];
    for (const key of ['b/2', '😀', 'a', 'b/1', 'ﬀ', 'b/1']) {
      created.push(await adapter.createMultipartUpload(key, meta()));
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    const all = await uploads(adapter);
    expect(all.map((u) => u.key)).toEqual(['a', 'b/1', 'b/1', 'b/2', 'ﬀ', '😀']);
    const b1 = all.filter((u) => u.key === 'b/1');
    expect(b1.map((u) => u.uploadId)).toEqual([created[3].uploadId, created[5].uploadId]);
    expect((await uploads(adapter, 'b/')).map((u) => u.key)).toEqual(['b/1', 'b/1', 'b/2']);
    expect(await uploads(adapter, 'zzz')).toEqual([]);
  });

  it('rejects completion onto a path conflict and keeps the upload', async () => {
    await adapter.write({ key: 'file', body: Readable.from([Buffer.from('f')]), metadata: meta() });
    const { uploadId } = await adapter.createMultipartUpload('file/below', meta());
    const p = await adapter.uploadPart({ key: 'file/below', uploadId, partNumber: 1, body: Readable.from([Buffer.from('x')]) });
    await expectUfsError(adapter.completeMultipartUpload('file/below', uploadId, [{ partNumber: 1, etag: p.etag }]), 'PathConflict');
    expect((await adapter.listParts('file/below', uploadId)).length).toBe(1);
    expect(await readdir(path.join(root, '.ringcache', 'tmp'))).toEqual([]);
  });

  it('cleanupAbandonedUploads removes old uploads and stale temp files only', async () => {
    // Ages are set, not waited for: an upload's start is its upload.json's `initiated`, a temp
    // file's age its mtime. Nothing here depends on how fast the machine is.
    const HOUR = 3600_000;
    const age = async (uploadId: string, ms: number): Promise<void> => {
      const file = path.join(root, '.ringcache', 'uploads', uploadId, 'upload.json');
      const record = JSON.parse(await readFile(file, 'utf8'));
      await writeFile(file, JSON.stringify({ ...record, initiated: new Date(Date.now() - ms).toISOString() }));
    };
    const old = await adapter.createMultipartUpload('old', meta());
    await adapter.uploadPart({ key: 'old', uploadId: old.uploadId, partNumber: 1, body: Readable.from([Buffer.from('x')]) });
    await mkdir(path.join(root, '.ringcache', 'tmp'), { recursive: true });
    const crashed = path.join(root, '.ringcache', 'tmp', 'put-crashed');
    await writeFile(crashed, 'left behind by a crash');

    expect(await adapter.cleanupAbandonedUploads(HOUR)).toBe(0);
    expect((await uploads(adapter)).length).toBe(1);

    await age(old.uploadId, 2 * HOUR);
    const twoHoursAgo = new Date(Date.now() - 2 * HOUR);
    await utimes(crashed, twoHoursAgo, twoHoursAgo);
    const fresh = await adapter.createMultipartUpload('fresh', meta());
    expect(await adapter.cleanupAbandonedUploads(HOUR)).toBe(2);
    expect((await uploads(adapter)).map((u) => u.uploadId)).toEqual([fresh.uploadId]);
    expect(await readdir(path.join(root, '.ringcache', 'tmp'))).toEqual([]);
    await expectUfsError(adapter.listParts('old', old.uploadId), 'NoSuchUpload');

    await age(fresh.uploadId, 2 * HOUR);
    expect(await cleanupAbandonedUploads(root, HOUR)).toBe(1);
    expect(await uploads(adapter)).toEqual([]);
  });
});
