/**
 * Jest side of ceph-rgw.ts: `describeWithRgw(title, body)` starts one fresh RGW for the
 * describe block (about 4 s) and stops it afterwards. Without the Ceph packages the block is
 * skipped with the reason; in CI (CI=true) it fails instead, so CI cannot pass by skipping.
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { rgwMissing, startRgw, type RgwServer } from './ceph-rgw';

interface RgwHandle {
  /** The running server (set in beforeAll). */
  readonly server: RgwServer;
  /** A raw SDK client for RGW itself (not through the gateway). */
  client(): S3Client;
  /** Creates a bucket on RGW. */
  createBucket(name: string): Promise<void>;
}

/** Start-up of the cluster plus the slowest first request (pool creation), with room for a busy machine. */
const START_TIMEOUT_MS = 120_000;

export function describeWithRgw(title: string, body: (rgw: RgwHandle) => void): void {
  const missing = rgwMissing();
  if (missing && process.env.CI !== 'true') {
    describe(title, () => {
      test.skip(`skipped: ${missing} (CI installs it)`, () => undefined);
    });
    return;
  }
  describe(title, () => {
    let server: RgwServer | undefined;
    const clients: S3Client[] = [];
    const handle: RgwHandle = {
      get server(): RgwServer {
        if (!server) throw new Error('RGW is not running');
        return server;
      },
      client() {
        const s = handle.server;
        const client = new S3Client({
          endpoint: s.endpoint,
          region: s.region,
          forcePathStyle: true,
          credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
        });
        clients.push(client);
        return client;
      },
      async createBucket(name: string) {
        await handle.client().send(new CreateBucketCommand({ Bucket: name }));
      },
    };
    beforeAll(async () => {
      server = await startRgw({ startTimeoutMs: START_TIMEOUT_MS - 10_000 });
      process.stdout.write(`Ceph RGW for "${title}" started in ${(server.startedInMs / 1000).toFixed(1)} s\n`);
    }, START_TIMEOUT_MS);
    afterAll(async () => {
      for (const client of clients) client.destroy();
      await server?.stop();
    }, 30_000);
    body(handle);
  });
}
