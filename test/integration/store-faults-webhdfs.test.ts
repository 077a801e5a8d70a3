/**
 * An HDFS store that misbehaves, behind a gateway: the WebHDFS emulator's fault modes (a 5xx
 * burst, a DataNode that stops reading an upload or stops sending a download, a NameNode that
 * redirects to a DataNode port where nothing listens) each become a bounded, clean failure:
 * 503 to the client, nothing partial at the key or in the temp folder, the gateway's DataNode
 * request closed. The emulator also refuses data sent to the NameNode before the redirect.
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { waitFor } from '../helpers/cluster-processes';
import { bodyBytes, startTestGateway, type TestGateway } from '../helpers/gateway';
import { downloadOutcome, statusOf } from '../helpers/s3-outcome';
import { startWebHdfsEmulator, type WebHdfsEmulator } from '../emulators/webhdfs';

jest.setTimeout(60_000);

const MiB = 1024 * 1024;
const ROOT = '/warehouse/faults';

describe('WebHDFS faults through the gateway', () => {
  let emulator: WebHdfsEmulator;
  let gw: TestGateway;

  beforeAll(async () => {
    emulator = await startWebHdfsEmulator({ allowAnonymous: false });
    gw = await startTestGateway({
      mounts: {
        hdfs: { uri: `hdfs://127.0.0.1:${emulator.nameNodePort}${ROOT}?user=ringcache`, timeoutMs: 2000 },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await emulator?.close();
  });
  afterEach(() => {
    emulator.clearFaults();
    expect(emulator.unknownOps).toEqual([]);
    expect(emulator.violations).toEqual([]);
  });

  const put = (key: string, body: Buffer) => gw.client().send(new PutObjectCommand({ Bucket: 'hdfs', Key: key, Body: body }));
  const get = (key: string) => gw.client().send(new GetObjectCommand({ Bucket: 'hdfs', Key: key }));
  /** Files left in the adapter's temp folder (partial uploads). */
  const temporaries = (): Promise<string[]> => emulator.list(`${ROOT}/.ringcache/tmp`);

  test('a 5xx burst: 503 to the client (the adapter does not retry), nothing stored; afterwards all is well', async () => {
    emulator.injectFault({ op: 'CREATE', status: 500, exception: 'RuntimeException', javaClassName: 'java.lang.RuntimeException', times: 3 });
    expect(await statusOf(put('burst/a.bin', randomBytes(1000)))).toBe(503);
    emulator.injectFault({ op: 'GETFILESTATUS', status: 503, exception: 'StandbyException', javaClassName: 'org.apache.hadoop.ipc.StandbyException', times: 50 });
    expect(await statusOf(get('burst/a.bin'))).toBe(503);
    emulator.clearFaults();
    expect(await emulator.fileStatus(`${ROOT}/burst/a.bin`)).toBeUndefined();
    expect(await temporaries()).toEqual([]);
    expect(await statusOf(put('burst/a.bin', randomBytes(1000)))).toBe(200);
  });

  test('a NameNode redirecting to a dead DataNode port: 503 at once for PUT and GET, nothing stored', async () => {
    emulator.injectFault({ op: 'CREATE', deadDataNode: true });
    expect(await statusOf(put('dead/a.bin', randomBytes(2 * MiB)))).toBe(503);
    expect(await emulator.fileStatus(`${ROOT}/dead/a.bin`)).toBeUndefined();
    expect(await temporaries()).toEqual([]);
    await put('dead/b.bin', randomBytes(1000));
    emulator.injectFault({ op: 'OPEN', deadDataNode: true });
    expect(await statusOf(get('dead/b.bin'))).toBe(503);
    expect(emulator.requests.filter((r) => r.op === 'CREATE' || r.op === 'OPEN').every((r) => !r.url.includes(String(emulator.deadPort)))).toBe(true);
  });

  test('a DataNode that stops reading an upload: 503, its request closed, the partial temp file removed', async () => {
    emulator.injectFault({ op: 'CREATE', stallBodyAfter: MiB });
    expect(await statusOf(put('stall/up.bin', randomBytes(16 * MiB)))).toBe(503);
    const stalled = emulator.requests.filter((r) => r.node === 'datanode' && r.op === 'CREATE' && r.stalled);
    expect(stalled).toHaveLength(1);
    emulator.drainStalledUploads();
    await waitFor(() => stalled[0].closedUnanswered === true, 10_000, 'the gateway to close its DataNode request');
    expect(await emulator.fileStatus(`${ROOT}/stall/up.bin`)).toBeUndefined();
    expect(await temporaries()).toEqual([]);
  });

  test('a DataNode that stops sending a download after its first bytes: the body is cut, its request closed, the next GET whole', async () => {
    const data = randomBytes(3 * MiB);
    await emulator.writeFile(`${ROOT}/stall/down.bin`, data);
    emulator.injectFault({ op: 'OPEN', stallReplyAfter: 100 * 1024 });
    expect(await downloadOutcome(get('stall/down.bin'))).toEqual([200, 'cut']);
    const stalled = emulator.requests.filter((r) => r.node === 'datanode' && r.op === 'OPEN' && r.stalled);
    expect(stalled).toHaveLength(1);
    await waitFor(() => stalled[0].closedUnanswered === true, 10_000, 'the gateway to close its DataNode request');
    expect((await bodyBytes((await get('stall/down.bin')).Body)).equals(data)).toBe(true);
  });

  test('a store answering 501 is 501 NotImplemented to the client', async () => {
    emulator.injectFault({ op: 'GETFILESTATUS', status: 501, exception: 'UnsupportedOperationException', javaClassName: 'java.lang.UnsupportedOperationException' });
    const err = (await get('burst/a.bin').catch((e: unknown) => e)) as { name?: string; $metadata?: { httpStatusCode?: number } };
    expect([err.$metadata?.httpStatusCode, err.name]).toEqual([501, 'NotImplemented']);
  });
});
