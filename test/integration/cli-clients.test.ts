/**
 * The aws CLI v2, s3cmd and rclone, as installed from Debian, against a running gateway:
 * make bucket, cp of a 40 MiB file (multipart) and back byte-identical, sync of 200 small
 * files, ls, ranged get, rm, remove bucket. Outside CI a missing client skips its suite
 * with the reason; in CI (CI=true) a missing client fails. Each round runs against one gateway
 * and against node-a of a three-process cluster, where most keys are owned by the other nodes
 * (forwarded requests: aws-chunked and Expect: 100-continue uploads, multipart, ranges).
 * Last, the aws CLI's multipart upload with checksums and what head-object and
 * get-object-attributes then say.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { ADMIN, startTestGateway } from '../helpers/gateway';
import { metricValue, startTestCluster, waitForRings } from '../helpers/cluster-processes';

/** Where a round runs: one gateway, or one node of a cluster. */
interface Target {
  url: string;
  dataDir: string;
  client(): S3Client;
  close(): Promise<void>;
  /** Requests this node forwarded to owners (cluster only). */
  forwarded?(): Promise<number>;
}

const run = promisify(execFile);
const MiB = 1024 * 1024;

interface CliClient {
  name: string;
  binary: string;
  /** Arguments every invocation starts with. */
  globalArgs?(env: NodeJS.ProcessEnv): string[];
  env(target: { url: string }, home: string): Promise<NodeJS.ProcessEnv>;
  mb(bucket: string): string[];
  cpUp(file: string, bucket: string, key: string): string[];
  cpDown(bucket: string, key: string, file: string): string[];
  sync(dir: string, bucket: string, prefix: string): string[];
  ls(bucket: string, prefix: string): string[];
  /** Ranged get into `file`; undefined when the client has no ranged get (then the test uses the next best). */
  rangedGet(bucket: string, key: string, first: number, last: number, file: string): string[];
  rm(bucket: string, key: string): string[];
  rb(bucket: string): string[];
}

/** Environment without AWS_* and proxies (rclone refuses to start with AWS_CA_BUNDLE set). */
function cleanEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('AWS_') && !/proxy/i.test(k) && !k.startsWith('RCLONE_')) env[k] = v;
  }
  return { ...env, HOME: home };
}

const awsCli: CliClient = {
  name: 'aws CLI v2',
  binary: '/usr/bin/aws',
  // --endpoint-url works on every v2 release; AWS_ENDPOINT_URL needs 2.13+.
  globalArgs: (env) => ['--endpoint-url', env.RINGCACHE_TEST_ENDPOINT as string],
  async env(target, home) {
    return {
      ...cleanEnv(home),
      AWS_ACCESS_KEY_ID: ADMIN.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      RINGCACHE_TEST_ENDPOINT: target.url,
      AWS_PAGER: '',
    };
  },
  mb: (b) => ['s3', 'mb', `s3://${b}`],
  cpUp: (f, b, k) => ['s3', 'cp', f, `s3://${b}/${k}`],
  cpDown: (b, k, f) => ['s3', 'cp', `s3://${b}/${k}`, f],
  sync: (d, b, p) => ['s3', 'sync', d, `s3://${b}/${p}`],
  ls: (b, p) => ['s3', 'ls', '--recursive', `s3://${b}/${p}`],
  rangedGet: (b, k, first, last, f) => ['s3api', 'get-object', '--bucket', b, '--key', k, '--range', `bytes=${first}-${last}`, f],
  rm: (b, k) => ['s3', 'rm', `s3://${b}/${k}`],
  rb: (b) => ['s3', 'rb', `s3://${b}`, '--force'],
};

const s3cmd: CliClient = {
  name: 's3cmd',
  binary: '/usr/bin/s3cmd',
  async env(target, home) {
    const host = new URL(target.url).host;
    await writeFile(
      path.join(home, '.s3cfg'),
      [
        '[default]',
        `access_key = ${ADMIN.accessKeyId}`,
        `secret_key = ${ADMIN.secretAccessKey}`,
        `host_base = ${host}`,
        `host_bucket = ${host}`,
        'use_https = False',
        'signature_v2 = False',
        'bucket_location = us-east-1',
        'multipart_chunk_size_mb = 8',
        '',
      ].join('\n'),
    );
    return cleanEnv(home);
  },
  mb: (b) => ['mb', `s3://${b}`],
  cpUp: (f, b, k) => ['put', f, `s3://${b}/${k}`],
  cpDown: (b, k, f) => ['get', '--force', `s3://${b}/${k}`, f],
  sync: (d, b, p) => ['sync', `${d}/`, `s3://${b}/${p}`],
  ls: (b, p) => ['ls', '--recursive', `s3://${b}/${p}`],
  // s3cmd has no range flag; it resumes a partial download with a Range request (--continue).
  rangedGet: (b, k, _first, _last, f) => ['get', '--continue', `s3://${b}/${k}`, f],
  rm: (b, k) => ['rm', `s3://${b}/${k}`],
  rb: (b) => ['rb', '--recursive', '--force', `s3://${b}`],
};

const rclone: CliClient = {
  name: 'rclone',
  binary: '/usr/bin/rclone',
  async env(target, home) {
    return {
      ...cleanEnv(home),
      RCLONE_CONFIG: path.join(home, 'rclone.conf'),
      RCLONE_CONFIG_RC_TYPE: 's3',
      RCLONE_CONFIG_RC_PROVIDER: 'Other',
      RCLONE_CONFIG_RC_ENDPOINT: target.url,
      RCLONE_CONFIG_RC_ACCESS_KEY_ID: ADMIN.accessKeyId,
      RCLONE_CONFIG_RC_SECRET_ACCESS_KEY: ADMIN.secretAccessKey,
      RCLONE_CONFIG_RC_REGION: 'us-east-1',
      RCLONE_CONFIG_RC_FORCE_PATH_STYLE: 'true',
      // Force multipart for the 40 MiB file (default cutoff is 200 MiB).
      RCLONE_S3_UPLOAD_CUTOFF: '8M',
      RCLONE_S3_CHUNK_SIZE: '8M',
    };
  },
  mb: (b) => ['mkdir', `rc:${b}`],
  cpUp: (f, b, k) => ['copyto', f, `rc:${b}/${k}`],
  cpDown: (b, k, f) => ['copyto', `rc:${b}/${k}`, f],
  sync: (d, b, p) => ['sync', d, `rc:${b}/${p.replace(/\/$/, '')}`],
  ls: (b, p) => ['ls', `rc:${b}/${p.replace(/\/$/, '')}`],
  rangedGet: (b, k, first, last, f) => ['cat', '--offset', String(first), '--count', String(last - first + 1), `rc:${b}/${k}`],
  rm: (b, k) => ['deletefile', `rc:${b}/${k}`],
  rb: (b) => ['purge', `rc:${b}`],
};

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function oneGateway(): Promise<Target> {
  const gw = await startTestGateway();
  return { url: gw.url, dataDir: gw.dataDir, client: () => gw.client(), close: () => gw.close() };
}

async function clusterNodeA(): Promise<Target> {
  const cluster = await startTestCluster(3);
  await waitForRings(cluster.nodes, 3);
  const a = cluster.nodes[0];
  return {
    url: a.url,
    dataDir: cluster.dataDir,
    client: () => cluster.client(a),
    close: () => cluster.stop(),
    forwarded: async () => metricValue(await cluster.metrics(a), 'ringcache_cluster_requests_total', { route: 'forwarded' }),
  };
}

const TARGETS = [
  { where: 'one gateway', start: oneGateway },
  { where: 'node-a of a three-node cluster', start: clusterNodeA },
];

describe.each([awsCli, s3cmd, rclone].flatMap((client) => TARGETS.map((target) => ({ ...client, client, ...target }))))('$name against $where', ({ client, start }) => {
  const installed = existsSync(client.binary);
  if (!installed && process.env.CI !== 'true') {
    test.skip(`${client.name}: ${client.binary} is not installed (apt-get install it; CI does)`, () => undefined);
    return;
  }

  let gw: Target;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const bucket = `cli-${client.name.split(' ')[0].toLowerCase()}`;
  const exec = async (args: string[]) => {
    try {
      return await run(client.binary, [...(client.globalArgs?.(env) ?? []), ...args], { env, cwd: work, maxBuffer: 64 * MiB, timeout: 120_000, encoding: 'buffer' });
    } catch (err) {
      const e = err as { stderr?: Buffer; stdout?: Buffer; message: string };
      throw new Error(`${client.name} ${args.join(' ')} failed: ${e.message}\n${e.stderr?.toString() ?? ''}`);
    }
  };

  beforeAll(async () => {
    if (!installed) return;
    gw = await start();
    work = await mkdtemp(path.join(os.tmpdir(), 'ringcache-cli-'));
    env = await client.env(gw, work);
  });
  afterAll(async () => {
    if (!installed) return;
    await gw?.close();
    await rm(work, { recursive: true, force: true });
  });

  test('the whole round: mb, multipart cp both ways, sync 200 files, ls, ranged get, rm, rb', async () => {
    if (!installed) throw new Error(`${client.name} is required in CI but ${client.binary} is missing`);
    await exec(client.mb(bucket));

    const big = randomBytes(40 * MiB);
    await writeFile(path.join(work, 'big.bin'), big);
    await exec(client.cpUp(path.join(work, 'big.bin'), bucket, 'dir/big.bin'));
    const listing = await gw.client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'dir/' }));
    const stored = listing.Contents?.find((c) => c.Key === 'dir/big.bin');
    expect(stored?.Size).toBe(big.length);
    expect(stored?.ETag).toMatch(/-\d+"$/); // multipart ETag: the client used multipart
    await exec(client.cpDown(bucket, 'dir/big.bin', path.join(work, 'big.back')));
    expect(sha(await readFile(path.join(work, 'big.back')))).toBe(sha(big));

    const syncDir = path.join(work, 'many');
    await mkdir(path.join(syncDir, 'sub'), { recursive: true });
    for (let i = 0; i < 200; i++) {
      await writeFile(path.join(syncDir, i % 2 ? 'sub' : '', `file-${i} +x.txt`), `content ${i}`);
    }
    await exec(client.sync(syncDir, bucket, 'many/'));
    const ls = (await exec(client.ls(bucket, 'many/'))).stdout.toString();
    const listed = ls.split('\n').filter((l) => l.includes('file-'));
    expect(listed).toHaveLength(200);
    expect(ls).toContain('file-199 +x.txt');

    const rangeFile = path.join(work, 'range.out');
    if (client === s3cmd) {
      await writeFile(rangeFile, big.subarray(0, 1000)); // s3cmd continues from byte 1000
      await exec(client.rangedGet(bucket, 'dir/big.bin', 1000, big.length - 1, rangeFile));
      expect(sha(await readFile(rangeFile))).toBe(sha(big));
    } else {
      const out = await exec(client.rangedGet(bucket, 'dir/big.bin', 1000, 1999, rangeFile));
      const bytes = client === rclone ? out.stdout : await readFile(rangeFile);
      expect(bytes.equals(big.subarray(1000, 2000))).toBe(true);
    }

    await exec(client.rm(bucket, 'dir/big.bin'));
    const after = await gw.client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'dir/' }));
    expect(after.Contents ?? []).toEqual([]);

    await exec(client.rb(bucket));
    expect(await readdir(gw.dataDir)).not.toContain(bucket);
    // In the cluster, node-a forwarded the requests for keys the other nodes own.
    if (gw.forwarded) expect(await gw.forwarded()).toBeGreaterThan(100);
  });
});

/**
 * A multipart upload with checksums by the aws CLI v2 (Debian's 2.9 has no --checksum-algorithm
 * on `aws s3 cp`, so the s3api commands: create-multipart-upload and upload-part with
 * --checksum-algorithm, the CLI computing each part's checksum, complete-multipart-upload with the
 * parts' checksums), then what S3 answers for it: head-object --checksum-mode ENABLED and
 * get-object-attributes with Checksum and ObjectParts (paged with --max-parts).
 */
describe('aws CLI v2: multipart upload with --checksum-algorithm, head-object and get-object-attributes', () => {
  const installed = existsSync(awsCli.binary);
  if (!installed && process.env.CI !== 'true') {
    test.skip(`aws CLI v2: ${awsCli.binary} is not installed (apt-get install it; CI does)`, () => undefined);
    return;
  }
  let gw: Target;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const aws = async (...args: string[]): Promise<Record<string, unknown>> => {
    try {
      const { stdout } = await run(awsCli.binary, [...(awsCli.globalArgs?.(env) ?? []), '--output', 'json', ...args], { env, cwd: work, maxBuffer: 64 * MiB, timeout: 120_000 });
      return stdout.trim() === '' ? {} : (JSON.parse(stdout) as Record<string, unknown>);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`aws ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
    }
  };
  beforeAll(async () => {
    if (!installed) return;
    gw = await oneGateway();
    work = await mkdtemp(path.join(os.tmpdir(), 'ringcache-cli-sums-'));
    env = await awsCli.env(gw, work);
  });
  afterAll(async () => {
    if (!installed) return;
    await gw?.close();
    await rm(work, { recursive: true, force: true });
  });

  test.each(['SHA256', 'CRC32'] as const)('%s: the composite checksum and each part with its checksum', async (algorithm) => {
    if (!installed) throw new Error(`the aws CLI v2 is required in CI but ${awsCli.binary} is missing`);
    const bucket = `cli-sums-${algorithm.toLowerCase()}`;
    const key = 'dir/big.bin';
    const field = `Checksum${algorithm}`;
    await aws('s3api', 'create-bucket', '--bucket', bucket);
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(2 * MiB + 17)];
    const digest = (b: Buffer): Buffer => {
      if (algorithm === 'SHA256') return createHash('sha256').update(b).digest();
      const out = Buffer.alloc(4);
      out.writeUInt32BE(zlib.crc32(b) >>> 0);
      return out;
    };
    const created = await aws('s3api', 'create-multipart-upload', '--bucket', bucket, '--key', key, '--checksum-algorithm', algorithm);
    expect(created.ChecksumAlgorithm).toBe(algorithm);
    const uploadId = created.UploadId as string;
    const done: Array<Record<string, unknown>> = [];
    for (let i = 0; i < parts.length; i++) {
      const file = path.join(work, `part-${i + 1}`);
      await writeFile(file, parts[i]);
      const up = await aws('s3api', 'upload-part', '--bucket', bucket, '--key', key, '--upload-id', uploadId, '--part-number', String(i + 1), '--body', file, '--checksum-algorithm', algorithm);
      expect(up[field]).toBe(digest(parts[i]).toString('base64')); // the CLI sent it, the gateway checked and kept it
      done.push({ PartNumber: i + 1, ETag: up.ETag, [field]: up[field] });
    }
    await writeFile(path.join(work, 'parts.json'), JSON.stringify({ Parts: done }));
    const completed = await aws('s3api', 'complete-multipart-upload', '--bucket', bucket, '--key', key, '--upload-id', uploadId, '--multipart-upload', `file://${path.join(work, 'parts.json')}`);
    const composite = `${(algorithm === 'SHA256' ? createHash('sha256').update(Buffer.concat(parts.map(digest))).digest() : digest(Buffer.concat(parts.map(digest)))).toString('base64')}-3`;
    expect(completed[field]).toBe(composite);

    const head = await aws('s3api', 'head-object', '--bucket', bucket, '--key', key, '--checksum-mode', 'ENABLED');
    expect(head[field]).toBe(composite);
    expect(head.ContentLength).toBe(12 * MiB + 17);

    const attrs = await aws('s3api', 'get-object-attributes', '--bucket', bucket, '--key', key, '--object-attributes', 'Checksum', 'ObjectParts', 'ObjectSize');
    expect(attrs.Checksum).toMatchObject({ [field]: composite.slice(0, -2) });
    expect(attrs.ObjectSize).toBe(12 * MiB + 17);
    expect(attrs.ObjectParts).toMatchObject({ TotalPartsCount: 3, IsTruncated: false });
    expect((attrs.ObjectParts as { Parts: unknown[] }).Parts).toEqual(parts.map((p, i) => ({ PartNumber: i + 1, Size: p.length, [field]: digest(p).toString('base64') })));
    const page = await aws('s3api', 'get-object-attributes', '--bucket', bucket, '--key', key, '--object-attributes', 'ObjectParts', '--max-parts', '2', '--part-number-marker', '1');
    expect(page.ObjectParts).toMatchObject({ TotalPartsCount: 3, MaxParts: 2, PartNumberMarker: 1, IsTruncated: false });
    expect((page.ObjectParts as { Parts: Array<{ PartNumber: number }> }).Parts.map((p) => p.PartNumber)).toEqual([2, 3]);
  });
});
