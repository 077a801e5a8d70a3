/**
 * A GCS store that misbehaves, behind a gateway: the GCS JSON API emulator's fault modes (a
 * 5xx burst, a stall mid-body both ways, a resumable session finalised early) each become a
 * bounded, clean failure: 503 to the client, no object (not even part of one) at the key, no
 * temporary object or open upload session left, and the gateway's store request cancelled.
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { waitFor } from '../helpers/cluster-processes';
import { bodyBytes, startTestGateway, type TestGateway } from '../helpers/gateway';
import { downloadOutcome, statusOf } from '../helpers/s3-outcome';
import { startGcsEmulator, type GcsEmulator, type RecordedRequest } from '../emulators/gcs/gcs-emulator';

jest.setTimeout(60_000);

const MiB = 1024 * 1024;
const BUCKET = 'faulty';
const PREFIX = 'mount/';

const isUpload = (r: RecordedRequest): boolean => r.route.startsWith('upload/');
const isChunk = (r: RecordedRequest): boolean => r.method === 'PUT' && isUpload(r);
const isMedia = (r: RecordedRequest): boolean => r.method === 'GET' && r.query.alt === 'media';

describe('GCS faults through the gateway', () => {
  let emulator: GcsEmulator;
  let gw: TestGateway;

  beforeAll(async () => {
    emulator = await startGcsEmulator({ buckets: [BUCKET] });
    gw = await startTestGateway({
      mounts: {
        gcs: {
          uri: `gs://${BUCKET}/${PREFIX}`,
          // Short bounds so that each fault shows within a few seconds.
          options: { apiEndpoint: emulator.endpoint, requestTimeoutMs: 3000, retryOptions: { maxRetries: 1, retryDelayMultiplier: 1 } },
          timeoutMs: 2000,
        },
        // The same store with bounds no test waits for: a fault that must fail at once (not
        // after a deadline) is checked here, and a hang fails the test by its timeout, whatever
        // the machine's load does to a 40 MiB upload. (Two mounts of one URI keep their own
        // bounds: the short ones above still apply to "gcs".)
        'gcs-patient': {
          uri: `gs://${BUCKET}/${PREFIX}`,
          options: { apiEndpoint: emulator.endpoint, requestTimeoutMs: 600_000, retryOptions: { maxRetries: 1, retryDelayMultiplier: 1 } },
          timeoutMs: 600_000,
        },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await emulator?.close();
  });
  afterEach(() => {
    emulator.clearFaults();
    expect(emulator.unexpected).toEqual([]);
  });

  /** Objects under `dir` of the mount other than `keep`, and any temporary object of the adapter. */
  const leftovers = (dir: string, ...keep: string[]): string[] =>
    emulator
      .objectNames(BUCKET)
      .filter((name) => name.startsWith(PREFIX + dir) || name.includes('.ringcache-tmp/'))
      .filter((name) => !keep.map((k) => PREFIX + k).includes(name));
  const put = (key: string, body: Buffer, bucket = 'gcs') => gw.client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));

  test('a 5xx burst within the retries is absorbed; past them the client gets 503 and nothing is stored', async () => {
    emulator.inject({ match: isUpload, status: 503, times: 1 });
    expect(await statusOf(put('burst/ok.bin', randomBytes(1000)))).toBe(200);
    emulator.inject({ match: isUpload, status: 500, times: 10 });
    expect(await statusOf(put('burst/fails.bin', randomBytes(1000)))).toBe(503);
    emulator.inject({ match: isMedia, status: 502, times: 10 });
    expect(await statusOf(gw.client().send(new GetObjectCommand({ Bucket: 'gcs', Key: 'burst/ok.bin' })))).toBe(503);
    expect(leftovers('burst/', 'burst/ok.bin')).toEqual([]);
  });

  test('a store answering 501 is 501 NotImplemented to the client, not a 503 to retry', async () => {
    emulator.inject({ match: isUpload, status: 501, times: 10 });
    const err = (await put('burst/unsupported.bin', randomBytes(1000)).catch((e: unknown) => e)) as { name?: string; $metadata?: { httpStatusCode?: number } };
    expect([err.$metadata?.httpStatusCode, err.name]).toEqual([501, 'NotImplemented']);
    expect(emulator.requests.filter((r) => r.query.name === `${PREFIX}burst/unsupported.bin`)).toHaveLength(1);
  });

  test('a resumable session finalised early fails the PUT at once: 503, nothing at the key, no temporary', async () => {
    const data = randomBytes(40 * MiB);
    emulator.inject({ match: isChunk, finalizeEarly: true });
    expect(await statusOf(put('early/forty.bin', data, 'gcs-patient'))).toBe(503);
    const finalisedEarly = emulator.requests.filter((r) => r.finalizeEarly);
    expect(finalisedEarly).toHaveLength(1);
    expect(leftovers('early/')).toEqual([]);
    expect(emulator.openSessions()).toEqual([]);
    // The same PUT without the fault goes through.
    expect(await statusOf(put('early/forty.bin', data, 'gcs-patient'))).toBe(200);
    expect(emulator.getObject(BUCKET, `${PREFIX}early/forty.bin`)?.data.equals(data)).toBe(true);
    expect(leftovers('early/', 'early/forty.bin')).toEqual([]);
  });

  test('a store that stops reading a resumable upload mid-body: 503, the chunk request cancelled, the session cancelled', async () => {
    emulator.inject({ match: isChunk, stallBodyAfter: 1 * MiB });
    expect(await statusOf(put('stall/big.bin', randomBytes(12 * MiB)))).toBe(503);
    const stalled = emulator.stalled.filter(isChunk);
    expect(stalled).toHaveLength(1);
    await waitFor(() => emulator.openSessions().length === 0, 10_000, 'the session to be cancelled');
    emulator.drainStalledUploads();
    await waitFor(() => stalled[0].closedUnanswered === true, 10_000, 'the gateway to close its chunk request');
    expect(leftovers('stall/')).toEqual([]);
    expect(emulator.openSessions()).toEqual([]);
  });

  test('a store that stops reading a simple upload: 503 within the commit deadline, nothing stored', async () => {
    emulator.inject({ match: (r) => isUpload(r) && r.query.uploadType === 'multipart', stallBodyAfter: 64 * 1024 });
    expect(await statusOf(put('stall/small.bin', randomBytes(MiB)))).toBe(503);
    // The upload request is given up after the client's requestTimeoutMs (3 s here).
    const stalled = emulator.stalled.filter((r) => r.query.uploadType === 'multipart');
    expect(stalled).toHaveLength(1);
    const drain = setInterval(() => emulator.drainStalledUploads(), 100);
    try {
      await waitFor(() => stalled[0].closedUnanswered === true, 10_000, 'the upload request to be given up');
    } finally {
      clearInterval(drain);
    }
    expect(leftovers('stall/')).toEqual([]);
  });

  test('a download that stalls mid-body: the body is cut, nothing wrong cached, the next GET is whole', async () => {
    const data = randomBytes(3 * MiB);
    emulator.putObject(BUCKET, `${PREFIX}stall/read.bin`, data);
    emulator.inject({ match: isMedia, stallReplyAfter: 100 * 1024 });
    expect(await downloadOutcome(gw.client().send(new GetObjectCommand({ Bucket: 'gcs', Key: 'stall/read.bin' })))).toEqual([200, 'cut']);
    expect(emulator.stalled.filter(isMedia)).toHaveLength(1);
    // The stalled response's connection is not closed by the gateway: @google-cloud/storage 7
    // reads through node-fetch 2, which cannot abort a response body (ufs-adapters/gcs/README.md).
    const again = await gw.client().send(new GetObjectCommand({ Bucket: 'gcs', Key: 'stall/read.bin' }));
    expect((await bodyBytes(again.Body)).equals(data)).toBe(true);
  });
});
