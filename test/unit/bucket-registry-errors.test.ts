/**
 * The bucket registry refuses with its own typed errors; the S3 layer maps each to the S3 code
 * and status a client gets.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { createAdapter } from '../../src/mounts/adapter-factory';
import { BucketRegistry } from '../../src/mounts/bucket-registry';
import { isBucketError } from '../../src/mounts/bucket-errors';
import { toS3Error } from '../../src/s3/errors';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ringcache-registry-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function refusal(action: Promise<unknown>) {
  const err = await action.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isBucketError(err)).toBe(true);
  const s3 = toS3Error(err);
  return { kind: (err as { kind: string }).kind, code: s3.code, status: s3.status };
}

test('a gateway with mounts only: no CreateBucket, no DeleteBucket of a mount, NoSuchBucket for the rest', async () => {
  const registry = new BucketRegistry({ dataDir: undefined, mounts: { data: { uri: pathToFileURL(dir).href } } } as never, createAdapter);
  try {
    expect(await refusal(registry.create('fresh'))).toEqual({ kind: 'NoDataDir', code: 'InvalidRequest', status: 400 });
    expect(await refusal(registry.delete('data'))).toEqual({ kind: 'MountedBucket', code: 'MethodNotAllowed', status: 405 });
    expect(await refusal(registry.get('other'))).toEqual({ kind: 'NoSuchBucket', code: 'NoSuchBucket', status: 404 });
  } finally {
    await registry.close();
  }
});

test('data-dir buckets: bad names, a second create, a delete of a bucket that holds objects', async () => {
  const registry = new BucketRegistry({ dataDir: dir, mounts: {} } as never, createAdapter);
  try {
    await registry.init();
    expect(await refusal(registry.create('Not_A_Bucket'))).toEqual({ kind: 'InvalidBucketName', code: 'InvalidBucketName', status: 400 });
    await registry.create('bkt-one');
    expect(await refusal(registry.create('bkt-one'))).toEqual({ kind: 'BucketAlreadyOwnedByYou', code: 'BucketAlreadyOwnedByYou', status: 409 });
    const bucket = await registry.get('bkt-one');
    await bucket.store.write({ key: 'k', body: Readable.from([Buffer.from('v')]), metadata: { userMetadata: {} } });
    expect(await refusal(registry.delete('bkt-one'))).toEqual({ kind: 'BucketNotEmpty', code: 'BucketNotEmpty', status: 409 });
  } finally {
    await registry.close();
  }
});
