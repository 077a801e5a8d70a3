/**
 * The built `ringcache` command, run as a user runs it (a child process, real gateways on
 * 127.0.0.1): every error path ends in a message without a stack trace and the documented exit
 * status (2 usage, 1 failure); client commands take the endpoint and the key from the
 * environment (RINGCACHE_ENDPOINT, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE);
 * `load` prints the job id when the job starts; `status` shows a 3-node ring, hit ratios and a
 * running job.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ADMIN, READER, startTestGateway, type TestGateway } from '../helpers/gateway';
import { freePort, metricValue, startTestCluster, waitFor, waitForRings, type TestCluster } from '../helpers/cluster-processes';
import { JobsClient } from '../../src/cli/jobs-client';

const CLI = path.resolve(__dirname, '../../dist/src/cli/ringcache.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with only PATH and HOME (a temporary one) from this environment, plus `env`. */
function run(args: string[], env: NodeJS.ProcessEnv = {}, options: { cwd?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? home, env: { PATH: process.env.PATH, HOME: home, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ringcache ${args.join(' ')} did not exit within ${options.timeoutMs ?? 60_000} ms\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** No "    at ..." frames and no Node error dump anywhere in the output. */
function expectNoStackTrace(r: Run): void {
  const text = `${r.stdout}\n${r.stderr}`;
  expect(text).not.toMatch(/^\s+at /m);
  expect(text).not.toMatch(/node:internal|TypeError|\[ERR_/);
}

/** One line on stderr, nothing on stdout. */
function expectOneLine(r: Run): void {
  expect(r.stdout).toBe('');
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expectNoStackTrace(r);
}

let home: string;

beforeAll(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'ringcache-cli-'));
});
afterAll(() => rm(home, { recursive: true, force: true }));

describe('ringcache CLI', () => {
  if (!existsSync(CLI)) {
    test('needs a build (npm test runs `npm run build` first)', () => {
      throw new Error(`${CLI} is missing: run npm run build`);
    });
    return;
  }

  describe('usage errors: one line, exit 2', () => {
    test.each([
      [[], /no command given/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['--bogus'], /Unknown option '--bogus'/],
      [['purge'], /purge: expected BUCKET\/KEY \(or --prefix BUCKET\/PREFIX\), got nothing/],
      [['purge', 'bucket-only'], /purge: "bucket-only" names no key/],
      [['purge', '/key'], /purge: "\/key" names no bucket/],
      [['purge', '--prefix'], /purge: expected BUCKET\/PREFIX, got nothing/],
      [['purge', 'a/b', 'c/d'], /purge: expected .* got "a\/b c\/d"/],
      [['purge', '--json', 'a/b'], /purge does not take --json/],
      [['load'], /load: expected BUCKET\/PREFIX, got nothing/],
      [['load', 'b/p', '--bandwidth', 'fast'], /bandwidth/],
      [['load', 'b/p', '--concurrency', '0'], /--concurrency must be a whole number/],
      [['jobs', 'bogus'], /jobs: expected no words, "show ID" or "cancel ID", got "bogus"/],
      [['jobs', 'show'], /jobs: expected no words/],
      [['status', 'extra'], /status: expected no words, got "extra"/],
      [['serve', '--endpoint', 'http://127.0.0.1:1'], /serve does not take --endpoint/],
      [['serve', 'extra'], /serve: expected no words/],
      [['jobs', '--endpoint', 'ftp://host'], /--endpoint "ftp:\/\/host": expected a URL such as http:\/\/127.0.0.1:9000/],
    ])('%j', async (args, message) => {
      const r = await run(args as string[]);
      expect(r.code).toBe(2);
      expectOneLine(r);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain('(ringcache --help shows the usage)');
    });

    test('a malformed RINGCACHE_ENDPOINT is a usage error naming the variable', async () => {
      const r = await run(['jobs'], { RINGCACHE_ENDPOINT: 'not a url' });
      expect(r.code).toBe(2);
      expectOneLine(r);
      expect(r.stderr).toContain('RINGCACHE_ENDPOINT "not a url"');
    });

    test('--help prints the usage and exits 0', async () => {
      const r = await run(['--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('usage: ringcache serve');
      expect(r.stdout).toContain('ringcache status');
    });
  });

  describe('failures: one line, exit 1', () => {
    let closedPort: number;
    beforeAll(async () => {
      closedPort = await freePort(); // nothing listens there
    });

    test.each([['load', 'bucket/prefix'], ['jobs'], ['purge', 'bucket/key'], ['status']])('an unreachable gateway: %s', async (...args) => {
      const r = await run(args, { RINGCACHE_ENDPOINT: `http://127.0.0.1:${closedPort}` });
      expect(r.code).toBe(1);
      expectOneLine(r);
      expect(r.stderr).toBe(`ringcache: cannot reach the gateway at http://127.0.0.1:${closedPort} (ECONNREFUSED): is it running? Set --endpoint or RINGCACHE_ENDPOINT\n`);
    });

    test('half a key in the environment, and an AWS_PROFILE that does not exist', async () => {
      const half = await run(['jobs'], { AWS_ACCESS_KEY_ID: 'only-the-id' });
      expect(half.code).toBe(1);
      expectOneLine(half);
      expect(half.stderr).toContain('set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
      const missing = await run(['jobs'], { AWS_PROFILE: 'nope' });
      expect(missing.code).toBe(1);
      expectOneLine(missing);
      expect(missing.stderr).toContain('AWS_PROFILE=nope: no such profile');
    });

    test('serve on a busy port names the address and what to change', async () => {
      const busy = net.createServer();
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
      const port = (busy.address() as net.AddressInfo).port;
      try {
        const r = await run(['serve'], { RINGCACHE_PORT: String(port), RINGCACHE_DATA_DIR: path.join(home, 'data'), RINGCACHE_CACHE_DIR: path.join(home, 'cache'), RINGCACHE_JOBS_DIR: path.join(home, 'jobs') });
        expect(r.code).toBe(1);
        expectNoStackTrace(r);
        expect(r.stderr).toBe(`ringcache: cannot listen on 127.0.0.1:${port}: the port is already in use (another gateway?); choose another with server.port or RINGCACHE_PORT\n`);
      } finally {
        busy.close();
      }
    });

    const serveWithMount = async (uri: string): Promise<Run> => {
      const dir = await mkdtemp(path.join(home, 'serve-'));
      const config = { server: { port: 0 }, mounts: { 'nfs-a': { uri } }, credentials: [{ ...ADMIN }], cache: { disk: { path: 'cache' } }, jobs: { stateDir: 'jobs' } };
      await writeFile(path.join(dir, 'ringcache.json'), JSON.stringify(config));
      return run(['serve', '--config', path.join(dir, 'ringcache.json')]);
    };

    test.each([
      ['file://nfs-a', 'a file:// URI is a path on this machine, but this one names the host "nfs-a" (two slashes); write file:///nfs-a'],
      ['file:///x%ZZ', 'its path "/x%ZZ" is not valid percent-encoding'],
      ['nfs://server/export', 'unknown scheme "nfs"'],
    ])('serve with the mount URI %s: the mount, the problem and the accepted forms', async (uri, problem) => {
      const r = await serveWithMount(uri);
      expect(r.code).toBe(1);
      expectNoStackTrace(r);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines[0]).toBe('ringcache: invalid configuration:');
      expect(lines[1]).toContain(`mounts.nfs-a.uri "${uri}": ${problem}`);
      expect(lines[2]).toMatch(/^ {2}accepted mount URIs: file:\/\/\/absolute\/path .*s3:\/\/bucket.*gs:\/\/bucket.*hdfs:\/\/namenode/);
    });

    test('serve with a mount root that does not exist is refused at start', async () => {
      const root = path.join(home, 'not-mounted');
      const r = await serveWithMount(pathToFileURL(root).href);
      expect(r.code).toBe(1);
      expectNoStackTrace(r);
      expect(r.stderr).toContain(`mount "nfs-a" (${pathToFileURL(root).href}): its root ${root} does not exist`);
    });
  });

  describe('against a gateway, endpoint and key from the environment', () => {
    let gw: TestGateway;
    const Bucket = 'cli-env';
    beforeAll(async () => {
      gw = await startTestGateway();
      const s3 = gw.client();
      await s3.send(new CreateBucketCommand({ Bucket }));
      for (let i = 0; i < 5; i++) await s3.send(new PutObjectCommand({ Bucket, Key: `set/${i}.bin`, Body: Buffer.alloc(64 * 1024, i) }));
    });
    afterAll(() => gw.close());

    test('RINGCACHE_ENDPOINT and AWS_PROFILE from a shared credentials file', async () => {
      const credentials = path.join(home, 'aws-credentials');
      await writeFile(credentials, `[ops]\naws_access_key_id = ${ADMIN.accessKeyId}\naws_secret_access_key = ${ADMIN.secretAccessKey}\n\n[reader]\naws_access_key_id = ${READER.accessKeyId}\naws_secret_access_key = ${READER.secretAccessKey}\n`);
      const env = { RINGCACHE_ENDPOINT: gw.url, AWS_SHARED_CREDENTIALS_FILE: credentials };
      const purged = await run(['purge', `${Bucket}/set/0.bin`], { ...env, AWS_PROFILE: 'ops' });
      expect(purged).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(purged.stdout)).toEqual({ purged: expect.any(Number) });
      const denied = await run(['purge', `${Bucket}/set/0.bin`], { ...env, AWS_PROFILE: 'reader' });
      expect(denied.code).toBe(1);
      expectOneLine(denied);
      expect(denied.stderr).toMatch(/^ringcache: AccessDenied: /);
    });

    test('~/.aws/credentials (the default location) with AWS_PROFILE, and AWS_ACCESS_KEY_ID winning over it', async () => {
      await mkdir(path.join(home, '.aws'), { recursive: true });
      await writeFile(path.join(home, '.aws', 'credentials'), `[wrong]\naws_access_key_id = nobody\naws_secret_access_key = nobody-secret\n`);
      const wrong = await run(['jobs'], { RINGCACHE_ENDPOINT: gw.url, AWS_PROFILE: 'wrong' });
      expect(wrong.code).toBe(1);
      expectOneLine(wrong);
      expect(wrong.stderr).toContain('InvalidAccessKeyId');
      const env = await run(['jobs'], { RINGCACHE_ENDPOINT: gw.url, AWS_PROFILE: 'wrong', AWS_ACCESS_KEY_ID: ADMIN.accessKeyId, AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey });
      expect(env).toMatchObject({ code: 0, stderr: '' });
    });

    test('load prints the job id first, then follows the job to its end; --endpoint wins over RINGCACHE_ENDPOINT', async () => {
      const r = await run(['load', `${Bucket}/set/`, '--endpoint', gw.url], { RINGCACHE_ENDPOINT: 'http://127.0.0.1:1', AWS_ACCESS_KEY_ID: ADMIN.accessKeyId, AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split('\n');
      const id = /^job (j[0-9a-z]+) started: cli-env\/set\/ /.exec(lines[0])?.[1];
      expect(id).toBeDefined();
      expect(lines[lines.length - 1]).toMatch(new RegExp(`^job ${id} completed in `));
      // With --json, stdout stays one JSON document: the id line goes to stderr.
      const json = await run(['load', `${Bucket}/set/`, '--json'], { RINGCACHE_ENDPOINT: gw.url, AWS_ACCESS_KEY_ID: ADMIN.accessKeyId, AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey });
      expect(json.code).toBe(0);
      expect(json.stderr).toMatch(/^job j[0-9a-z]+ started: /);
      expect(JSON.parse(json.stdout)).toMatchObject({ state: 'completed' });
    });

    test('a job that fails on the gateway: exit 1 with the gateway\'s error code', async () => {
      const r = await run(['load', 'no-such-bucket/x'], { RINGCACHE_ENDPOINT: gw.url, AWS_ACCESS_KEY_ID: ADMIN.accessKeyId, AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey });
      expect(r.code).toBe(1);
      expectOneLine(r);
      expect(r.stderr).toContain('NoSuchBucket');
    });
  });

  describe('status of a 3-node cluster', () => {
    let cluster: TestCluster;
    /** Page hits of all nodes (memory and disk) from their metrics, before the status is taken. */
    let hitsBefore = 0;
    const pageHits = async (c: TestCluster): Promise<number> => {
      let sum = 0;
      for (const node of c.nodes) {
        const text = await c.metrics(node);
        sum += metricValue(text, 'ringcache_cache_page_lookups_total', { result: 'memory' }) + metricValue(text, 'ringcache_cache_page_lookups_total', { result: 'disk' });
      }
      return sum;
    };
    const Bucket = 'status';
    beforeAll(async () => {
      cluster = await startTestCluster(3);
      await waitForRings(cluster.nodes, 3);
      const s3 = cluster.client(cluster.nodes[0]);
      await s3.send(new CreateBucketCommand({ Bucket }));
      for (let i = 0; i < 12; i++) await s3.send(new PutObjectCommand({ Bucket, Key: `hot/${i}`, Body: Buffer.alloc(32 * 1024, i) }));
      // Read each until 12 reads were hits on the owners: the first read fills the page, a later one
      // hits (a page is kept when its fill ends, which on a busy machine may be after the answer).
      const readAll = async (): Promise<void> => {
        for (let i = 0; i < 12; i++) await (await s3.send(new GetObjectCommand({ Bucket, Key: `hot/${i}` }))).Body?.transformToByteArray();
      };
      await readAll();
      await waitFor(async () => {
        await readAll();
        return (await pageHits(cluster)) >= 12;
      }, 30_000, '12 page hits');
      hitsBefore = await pageHits(cluster);
      // 8 MiB at 1 MiB/s: running for several seconds.
      for (let i = 0; i < 4; i++) await s3.send(new PutObjectCommand({ Bucket, Key: `slow/${i}`, Body: Buffer.alloc(2 * 1024 * 1024, i) }));
    }, 120_000);
    afterAll(() => cluster?.stop());

    test('the ring, each node\'s hit ratio and cache, and the running job', async () => {
      const jobs = new JobsClient(cluster.nodes[0].url, { ...ADMIN, region: 'us-east-1' });
      const job = await jobs.submit({ bucket: Bucket, prefix: 'slow/', options: { bandwidth: 1024 * 1024, skipCached: false } });
      await waitFor(async () => (await jobs.get(job.id)).state === 'running', 20_000, 'the job to run');
      const env = { RINGCACHE_ENDPOINT: cluster.nodes[0].url, AWS_ACCESS_KEY_ID: ADMIN.accessKeyId, AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey };
      const text = await run(['status'], env);
      const json = await run(['status', '--json'], env);
      await jobs.cancel(job.id);
      expect(text).toMatchObject({ code: 0, stderr: '' });
      expect(text.stdout).toMatch(/^ring \S+ \(changed .*\) seen from node-a at http:\/\/127\.0\.0\.1:\d+: 3 member\(s\)/);
      for (const node of cluster.nodes) expect(text.stdout).toMatch(new RegExp(`^  ${node.id} +${node.url.replace(/\./g, '\\.')} +\\d+\\.\\d% +healthy`, 'm'));
      expect(text.stdout).toMatch(/^ {2}NODE +HIT RATIO +LOOKUPS +MEMORY +DISK$/m);
      expect(text.stdout).toMatch(/^ {2}all 3 nodes: \d+\.\d% of \d+ page lookups were hits$/m);
      // Each tier's fill against its quota (64 MiB of memory, 256 MiB of disk in the test cluster).
      for (const node of cluster.nodes) expect(text.stdout).toMatch(new RegExp(`^  ${node.id} .* of 64\\.0 MiB \\(\\d+\\.\\d%\\), \\d+ pages +\\S+ \\S+ of 256 MiB \\(\\d+\\.\\d%\\), \\d+ pages$`, 'm'));
      expect(text.stdout).toMatch(new RegExp(`^jobs: 1 running, 0 queued\\n {2}${job.id} running .*  status/slow/$`, 'm'));

      expect(json.code).toBe(0);
      type Tier = { pages: number; bytes: number; quotaBytes: number };
      const status = JSON.parse(json.stdout) as { ring: { members: unknown[] }; nodes: Array<{ id: string; cache: { lookups: number; hitRatio: number; hits: { memory: number; disk: number }; memory: Tier; disk: Tier } }>; jobs: Array<{ id: string }> };
      expect(status.ring.members).toHaveLength(3);
      expect(status.nodes.map((n) => n.id)).toEqual(['node-a', 'node-b', 'node-c']);
      const lookups = status.nodes.reduce((s, n) => s + n.cache.lookups, 0);
      const hits = status.nodes.reduce((s, n) => s + n.cache.hits.memory + n.cache.hits.disk, 0);
      // 12 objects of one page, each read at least twice: the hits counted before, at least 12.
      expect(lookups).toBeGreaterThanOrEqual(24);
      expect(hitsBefore).toBeGreaterThanOrEqual(12);
      expect(hits).toBeGreaterThanOrEqual(hitsBefore);
      for (const n of status.nodes) if (n.cache.lookups > 0) expect(n.cache.hitRatio).toBeCloseTo((n.cache.hits.memory + n.cache.hits.disk) / n.cache.lookups, 6);
      expect(status.jobs.map((j) => j.id)).toEqual([job.id]);
      for (const n of status.nodes) {
        expect(n.cache.memory.quotaBytes).toBe(64 * 1024 * 1024);
        expect(n.cache.disk.quotaBytes).toBe(256 * 1024 * 1024);
      }
      // The hot objects' pages are held somewhere (ringcache_cache_resident_bytes of both tiers).
      expect(status.nodes.reduce((s, n) => s + n.cache.memory.bytes + n.cache.disk.bytes, 0)).toBeGreaterThanOrEqual(12 * 32 * 1024);
    }, 60_000);
  });
});
