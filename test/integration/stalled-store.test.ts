/**
 * A store whose reads open but never send a byte (a hung NFS mount, a half-open connection):
 * the cache's page read gives up after cache.storeIdleTimeoutMs, so a GET answers 503 instead
 * of hanging, a preload job records the key as failed and ends, and a cancelled job stops at
 * once even while its reads hang.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { ADMIN, errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';
import { InstrumentedUfs } from '../helpers/instrumented-ufs';
import { createAdapter } from '../../src/mounts/adapter-factory';
import { JobsClient } from '../../src/cli/jobs-client';
import { isFinished, type JobView } from '../../src/jobs/job-types';
import type { ByteRange, ObjectInfo, ReadOptions } from '../../ufs-adapters/types';

jest.setTimeout(60_000);

class StallingUfs extends InstrumentedUfs {
  override async read(_key: string, _range: ByteRange | undefined, _options?: ReadOptions): Promise<Readable> {
    return new Readable({ read() {} }); // opens, then never sends
  }

  /** The metadata arrives (a ranged GET's headers), then the body never sends a byte. */
  override readWithInfo = async (key: string, _range: ByteRange): Promise<{ info: ObjectInfo; body: Readable }> => {
    const info = await this.stat(key);
    return { info, body: new Readable({ read() {} }) };
  };
}

async function gatewayOverStallingStore(idleMs: number): Promise<TestGateway> {
  const gw = await startTestGateway({ cache: { storeIdleTimeoutMs: idleMs } }, { adapterFactory: (uri) => new StallingUfs(createAdapter(uri)) });
  await mkdir(path.join(gw.dataDir, 'bkt', 'p'), { recursive: true });
  for (let i = 0; i < 3; i++) await writeFile(path.join(gw.dataDir, 'bkt', 'p', `x${i}.bin`), Buffer.alloc(10_000, i));
  return gw;
}

async function settle(client: JobsClient, id: string): Promise<JobView> {
  let job = await client.get(id);
  while (!isFinished(job.state)) {
    await new Promise((r) => setTimeout(r, 50));
    job = await client.get(id);
  }
  return job;
}

describe('a store that stops sending', () => {
  let gw: TestGateway;
  afterEach(() => gw?.close());

  it('a GET answers 503 after the idle timeout instead of hanging', async () => {
    gw = await gatewayOverStallingStore(300);
    const started = Date.now();
    expect(await errorCode(gw.client().send(new GetObjectCommand({ Bucket: 'bkt', Key: 'p/x0.bin' })))).toBe('ServiceUnavailable');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a load job records the keys as failed with the reason, and ends', async () => {
    gw = await gatewayOverStallingStore(300);
    const client = new JobsClient(gw.url, { ...ADMIN, region: 'us-east-1' });
    const job = await settle(client, (await client.submit({ bucket: 'bkt', prefix: 'p/' })).id);
    expect(job.state).toBe('failed');
    expect(job.progress.filesFailed).toBe(3);
    expect(job.progress.recentFailures[0].error).toMatch(/ServiceUnavailable/);
  });

  it('a cancelled job stops at once while its reads hang', async () => {
    gw = await gatewayOverStallingStore(60_000);
    const client = new JobsClient(gw.url, { ...ADMIN, region: 'us-east-1' });
    const submitted = await client.submit({ bucket: 'bkt', prefix: 'p/' });
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    await client.cancel(submitted.id);
    const job = await settle(client, submitted.id);
    expect(job.state).toBe('cancelled');
    expect(Date.now() - started).toBeLessThan(6000);
    const closing = Date.now();
    await gw.close();
    expect(Date.now() - closing).toBeLessThan(6000);
  });
});
