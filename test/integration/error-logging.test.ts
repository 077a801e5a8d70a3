/**
 * Expected answers are not logged as errors of the gateway, on a real gateway process with
 * debug logs: a 501 for a sub-resource Ringcache does not implement and 4xx answers are logged at
 * debug; a store that cannot be reached (503) at warn; nothing at error level.
 */
import { GetBucketLifecycleConfigurationCommand, GetBucketPolicyCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3';
import { freePort, startTestCluster, type TestCluster } from '../helpers/cluster-processes';

interface LogLine {
  level: number;
  msg: string;
  code?: string;
  op?: string;
}

const DEBUG = 20;
const WARN = 40;
const ERROR = 50;

describe('log levels of error answers', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    // A WebHDFS mount whose NameNode port nobody listens on: every store call is refused (503).
    const closed = await freePort();
    cluster = await startTestCluster(1, { config: { log: { level: 'debug' }, mounts: { down: { uri: `hdfs://127.0.0.1:${closed}/data?user=ringcache`, timeoutMs: 2000 } } } });
  }, 60_000);
  afterAll(() => cluster?.stop());

  test('501 and 4xx at debug, 503 at warn, nothing at error', async () => {
    const node = cluster.nodes[0];
    const s3 = cluster.client(node);
    await s3.send(new CreateBucketCommand({ Bucket: 'logs' }));
    await s3.send(new PutObjectCommand({ Bucket: 'logs', Key: 'a', Body: 'x' }));
    const from = node.output.length;
    const status = (err: unknown): number | undefined => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const answers = [
      await s3.send(new GetBucketPolicyCommand({ Bucket: 'logs' })).catch(status),
      await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'logs' })).catch(status),
      await s3.send(new HeadObjectCommand({ Bucket: 'logs', Key: 'missing' })).catch(status),
      await s3.send(new GetObjectCommand({ Bucket: 'nosuchbucket', Key: 'a' })).catch(status),
      await s3.send(new GetObjectCommand({ Bucket: 'down', Key: 'a' })).catch(status),
    ];
    expect(answers).toEqual([501, 501, 404, 404, 503]);
    // The child writes its log lines as it answers; the last answer's line may trail the response.
    const lines = (): LogLine[] =>
      node.output
        .slice(from)
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as LogLine);
    const deadline = Date.now() + 10_000;
    while (!lines().some((l) => l.level === WARN && l.msg === 'request failed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const logged = lines();
    expect(logged.filter((l) => l.level >= ERROR)).toEqual([]);
    expect(logged.filter((l) => l.msg === 'error answer' && l.code === 'NotImplemented').map((l) => l.level)).toEqual([DEBUG, DEBUG]);
    expect(logged.filter((l) => l.msg === 'error answer' && l.code === 'NoSuchBucket').map((l) => l.level)).toEqual([DEBUG]);
    expect(logged.filter((l) => l.level === WARN && l.msg === 'request failed').map((l) => l.op)).toEqual(['GetObject']);
  }, 60_000);
});
