/**
 * Bucket creation and deletion in a cluster (issue #13, defect 3), with real gateway processes
 * over a shared data folder: every node sees a change before it is acknowledged. A PUT through
 * another node right after DeleteBucket answers NoSuchBucket and recreates nothing, whichever
 * node owns the key; a GET answers NoSuchBucket (not NoSuchKey); a bucket just created is there
 * on every node at once.
 *
 * Before the fix, the other nodes trusted what they knew of the bucket for a second, and the
 * local store re-created the missing bucket folder on write: the PUT answered 200 and the
 * deleted bucket came back.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ringKey } from '../../src/cluster/cluster-node';
import { buildRing } from '../../src/cluster/ring';
import { errorCode } from '../helpers/gateway';
import { startTestCluster, waitForRings, type TestCluster } from '../helpers/cluster-processes';

jest.setTimeout(120_000);

const ring = buildRing(['node-a', 'node-b', 'node-c']);
const keyOwnedBy = (bucket: string, owner: string, prefix = 'k'): string => {
  for (let i = 0; ; i++) if (ring.owner(ringKey(bucket, `${prefix}-${i}`)) === owner) return `${prefix}-${i}`;
};

describe('bucket changes are seen by every node before they are acknowledged', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster(3);
    await waitForRings(cluster.nodes, 3);
  });
  afterAll(() => cluster?.stop());

  it.each(['node-b', 'node-c'])('DeleteBucket through node-a, then at once a PUT through node-b of a key %s owns: NoSuchBucket, nothing recreated', async (owner) => {
    const [a, b, c] = cluster.nodes;
    const bucket = `gone-${owner.slice(-1)}`;
    const key = keyOwnedBy(bucket, owner);
    const clients = [a, b, c].map((n) => cluster.client(n));
    await clients[0].send(new CreateBucketCommand({ Bucket: bucket }));
    // Every node has just looked at the bucket (it is in their short-lived view of it).
    await clients[1].send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'first' }));
    for (const client of clients) await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    await clients[2].send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    for (const client of clients) await client.send(new HeadBucketCommand({ Bucket: bucket }));

    await clients[0].send(new DeleteBucketCommand({ Bucket: bucket }));
    const put = await errorCode(clients[1].send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'second' })));
    const get = await errorCode(clients[1].send(new GetObjectCommand({ Bucket: bucket, Key: key })));
    const getThroughOwner = await errorCode(clients[owner === 'node-b' ? 1 : 2].send(new GetObjectCommand({ Bucket: bucket, Key: key })));
    expect({ put, get, getThroughOwner }).toEqual({ put: 'NoSuchBucket', get: 'NoSuchBucket', getThroughOwner: 'NoSuchBucket' });
    expect(existsSync(path.join(cluster.dataDir, bucket))).toBe(false);
  });

  it('CreateBucket through node-a is seen at once through node-b and node-c', async () => {
    const [a, b, c] = cluster.nodes;
    // Both know the name does not exist yet.
    for (const node of [b, c]) expect(await errorCode(cluster.client(node).send(new HeadBucketCommand({ Bucket: 'fresh' })))).toBe('NotFound');
    await cluster.client(a).send(new CreateBucketCommand({ Bucket: 'fresh' }));
    for (const node of [b, c]) await cluster.client(node).send(new HeadBucketCommand({ Bucket: 'fresh' }));
    // And a delete then a create of the same name through different nodes: the new bucket is empty and writable everywhere.
    await cluster.client(b).send(new DeleteBucketCommand({ Bucket: 'fresh' }));
    await cluster.client(c).send(new CreateBucketCommand({ Bucket: 'fresh' }));
    await cluster.client(a).send(new PutObjectCommand({ Bucket: 'fresh', Key: keyOwnedBy('fresh', 'node-b'), Body: 'x' }));
  });
});
