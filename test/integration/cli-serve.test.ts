/**
 * The built CLI, as the README starts it: `ringcache serve` with no config listens on the
 * embedded default (./data under the working directory) and prints how to connect.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

const CLI = path.resolve(__dirname, '../../dist/src/cli/ringcache.js');

function startCli(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; output: () => string; url: Promise<string> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match && out.includes('health:')) resolve(match[1]); // the banner's last line
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
  });
  url.catch(() => undefined); // tests that expect an exit do not wait for the url
  return { child, output: () => out, url };
}

const exitCode = (child: ChildProcess) => new Promise<number | null>((resolve) => child.once('exit', resolve));

describe('ringcache serve', () => {
  if (!existsSync(CLI)) {
    test('needs a build (npm test runs `npm run build` first)', () => {
      throw new Error(`${CLI} is missing: run npm run build`);
    });
    return;
  }

  let cwd: string;
  beforeEach(async () => {
    cwd = await mkdtemp(path.join(os.tmpdir(), 'ringcache-serve-'));
  });
  afterEach(() => rm(cwd, { recursive: true, force: true }));

  test('the embedded default serves ./data with the printed credentials, and stops on SIGTERM', async () => {
    const { child, output, url } = startCli(cwd, ['serve'], { RINGCACHE_PORT: '0' });
    try {
      const endpoint = await url;
      expect(output()).toContain('AWS_ACCESS_KEY_ID=ringcache AWS_SECRET_ACCESS_KEY=ringcache-secret');
      const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'ringcache', secretAccessKey: 'ringcache-secret' } });
      await s3.send(new CreateBucketCommand({ Bucket: 'first' }));
      await s3.send(new PutObjectCommand({ Bucket: 'first', Key: 'hello.txt', Body: 'hello' }));
      expect((await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(['first']);
      s3.destroy();
      expect(await readFile(path.join(cwd, 'data', 'first', 'hello.txt'), 'utf8')).toBe('hello');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exitCode(child)).toBe(0);
  });

  test('a bad config file exits 1 with a message naming the problem', async () => {
    await writeFile(path.join(cwd, 'bad.json'), JSON.stringify({ server: { port: 'nine' }, credentials: [] }));
    const { child, output } = startCli(cwd, ['serve', '--config', 'bad.json']);
    expect(await exitCode(child)).toBe(1);
    expect(output()).toContain('server.port');
    expect(output()).toContain('credentials');
  });

  test('an unknown command exits 2 with one line pointing at the usage', async () => {
    const { child, output } = startCli(cwd, ['frobnicate']);
    expect(await exitCode(child)).toBe(2);
    expect(output()).toBe('ringcache: unknown command "frobnicate" (ringcache --help shows the usage)\n');
  });
});
