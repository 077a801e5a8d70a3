/**
 * Concurrent readers of one key share one store stat (single-flight). One of them going away
 * must not fail the others: the shared stat runs without any one caller's AbortSignal, and
 * each caller stops waiting on its own.
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ufsError } from '../../ufs-adapters/errors';
import type { UfsAdapter } from '../../ufs-adapters/types';
import { createAdapter } from '../../src/mounts/adapter-factory';
import { bodyBytes, errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';

const Bucket = 'flights';
/** Store stats that take this long and stop on their signal, as the S3 and GCS adapters do. */
const STAT_MS = 300;

let gw: TestGateway;
let storeStats = 0;

/**
 * The store adapter with slow metadata calls (stat, and readWithInfo, which a GET's metadata miss
 * uses to fetch the first page with the metadata) that honour their signal (UfsError Aborted).
 */
function slowStat(inner: UfsAdapter): UfsAdapter {
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'readWithInfo') {
        return (key: string, range: { start: number; end: number }, options: { signal?: AbortSignal } = {}) =>
          slow(options.signal, () => (target.readWithInfo as NonNullable<UfsAdapter['readWithInfo']>)(key, range));
      }
      if (property !== 'stat') return Reflect.get(target, property, receiver) as unknown;
      return (key: string, signal?: AbortSignal) => slow(signal, () => target.stat(key));
    },
  });
}

function slow<T>(signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    storeStats++;
    const timer = setTimeout(() => resolve(call()), STAT_MS);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(ufsError('Aborted', 'request aborted'));
      },
      { once: true },
    );
  });
}

beforeAll(async () => {
  gw = await startTestGateway({}, { adapterFactory: (uri, options) => slowStat(createAdapter(uri, options)) });
  await gw.client().send(new CreateBucketCommand({ Bucket }));
  await gw.client().send(new PutObjectCommand({ Bucket, Key: 'hot', Body: 'hello' }));
});

afterAll(() => gw?.close());

test('a reader that disconnects does not fail a reader that joined its stat', async () => {
  const stats = storeStats;
  const leaving = new AbortController();
  const first = errorCode(gw.client().send(new GetObjectCommand({ Bucket, Key: 'hot' }), { abortSignal: leaving.signal }));
  await new Promise((r) => setTimeout(r, 50));
  const second = gw.client().send(new GetObjectCommand({ Bucket, Key: 'hot' }));
  await new Promise((r) => setTimeout(r, 50));
  leaving.abort(); // the first client goes away while the shared stat is in flight

  expect((await bodyBytes((await second).Body)).toString()).toBe('hello');
  expect(await first).toBe('AbortError');
  expect(storeStats - stats).toBe(1); // one shared stat
});
