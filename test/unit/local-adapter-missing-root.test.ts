/**
 * A local mount whose root folder is missing (a deleted bucket folder, an export not mounted):
 * writes fail Unavailable and never re-create the root, whatever the kind of write (PUT of an
 * object in a new sub-folder, a folder marker, a copy, a multipart upload); the root created
 * again by its owner (CreateBucket) takes writes as before.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { isUfsError } from '../../ufs-adapters/errors';
import { LocalAdapter } from '../../ufs-adapters/local/local-adapter';

const body = (data: string): Readable => Readable.from([Buffer.from(data)]);
const meta = { userMetadata: {} };

let base: string;
let root: string;
let adapter: LocalAdapter;

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'ringcache-missing-root-'));
  root = path.join(base, 'bucket');
  await mkdir(root);
  adapter = new LocalAdapter({ root });
});

afterEach(async () => {
  await adapter.close();
  await rm(base, { recursive: true, force: true });
});

async function kindOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'ok',
    (err: unknown) => (isUfsError(err) ? err.kind : `other: ${(err as Error).message}`),
  );
}

test('writes into a root that was moved away fail Unavailable and leave no root behind', async () => {
  await adapter.write({ key: 'before', body: body('x'), metadata: meta });
  const upload = await adapter.createMultipartUpload('multi', meta);
  // DeleteBucket moves the folder aside first.
  await rename(root, path.join(base, 'aside'));

  expect(await kindOf(adapter.write({ key: 'a/b/c', body: body('data'), metadata: meta }))).toBe('Unavailable');
  expect(await kindOf(adapter.write({ key: 'folder/', body: body(''), metadata: meta }))).toBe('Unavailable');
  expect(await kindOf(adapter.write({ key: 'top', body: body('data'), metadata: meta }))).toBe('Unavailable');
  expect(await kindOf(adapter.copy({ sourceKey: 'before', destinationKey: 'copied' }))).not.toBe('ok');
  expect(await kindOf(adapter.createMultipartUpload('another', meta))).toBe('Unavailable');
  expect(await kindOf(adapter.uploadPart({ uploadId: upload.uploadId, key: 'multi', partNumber: 1, body: body('part') }))).not.toBe('ok');
  expect(existsSync(root)).toBe(false);
  expect(await readdir(base)).toEqual(['aside']);

  // Created again by its owner: writes work.
  await mkdir(root);
  await adapter.write({ key: 'a/b/c', body: body('data'), metadata: meta });
  expect(existsSync(path.join(root, 'a', 'b', 'c'))).toBe(true);
});
