/**
 * Starts a real gateway on 127.0.0.1 with an ephemeral port over a temporary data dir,
 * and builds @aws-sdk/client-s3 clients for it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { buildApp, type RingcacheApp } from '../../src/app';
import type { AdapterFactory } from '../../src/mounts/bucket-registry';
import { mkdir } from 'node:fs/promises';
import { parseConfig } from '../../src/config/load-config';
import type { ConfigInput } from '../../src/config/schema';

export const ADMIN = { accessKeyId: 'test-admin', secretAccessKey: 'test-admin-secret' };
export const READER = { accessKeyId: 'test-reader', secretAccessKey: 'test-reader-secret' };

export interface TestGateway extends RingcacheApp {
  url: string;
  port: number;
  dataDir: string;
  cacheDir: string;
  client(credentials?: { accessKeyId: string; secretAccessKey: string }, extra?: Partial<ConstructorParameters<typeof S3Client>[0]>): S3Client;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  /** Wraps or replaces the store adapters (counting, fault injection). */
  adapterFactory?: AdapterFactory;
  /** Reuse these folders (a restart); otherwise fresh temporary ones. */
  dataDir?: string;
  cacheDir?: string;
  /** Keep the folders on close (the test restarts on them). */
  keepDirs?: boolean;
}

/** Folders this helper made; a gateway restarted on one removes it when it closes for good. */
const madeHere = new Set<string>();

/** The folders to remove when a gateway on these data and cache folders closes without keepDirs. */
function foldersOf(dataDir: string, cacheDir: string): string[] {
  return [...madeHere].filter((base) => [dataDir, cacheDir].some((dir) => dir === base || dir.startsWith(`${base}${path.sep}`)));
}

export async function startTestGateway(overrides: Partial<ConfigInput> = {}, options: TestGatewayOptions = {}): Promise<TestGateway> {
  const base = options.dataDir !== undefined && options.cacheDir !== undefined ? undefined : await mkdtemp(path.join(os.tmpdir(), 'ringcache-test-'));
  if (base !== undefined) madeHere.add(base);
  const dataDir = options.dataDir ?? path.join(base as string, 'data');
  const cacheDir = options.cacheDir ?? path.join(base as string, 'cache');
  await mkdir(dataDir, { recursive: true });
  const { cache, ...rest } = overrides;
  const config = parseConfig({
    server: { host: '127.0.0.1', port: 0 },
    dataDir,
    cache: { ...cache, disk: { path: cacheDir, maxBytes: 256 * 1024 * 1024, ...cache?.disk }, memory: { maxBytes: 64 * 1024 * 1024, ...cache?.memory } },
    credentials: [
      { accessKeyId: ADMIN.accessKeyId, secretAccessKey: ADMIN.secretAccessKey, grants: { '*': 'write' } },
      { accessKeyId: READER.accessKeyId, secretAccessKey: READER.secretAccessKey, grants: { '*': 'read' } },
    ],
    log: { level: 'warn' },
    ...rest,
    // Job state beside the cache, so a restart on the same cacheDir finds its jobs (never ./jobs).
    jobs: { stateDir: path.join(path.dirname(cacheDir), 'jobs'), ...rest.jobs },
  });
  const built = await buildApp({ config, logger: false, adapterFactory: options.adapterFactory });
  await built.app.listen({ host: '127.0.0.1', port: 0 });
  const address = built.app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  const clients: S3Client[] = [];
  return {
    ...built,
    url,
    port,
    dataDir,
    cacheDir,
    client(credentials = ADMIN, extra = {}) {
      const client = new S3Client({
        endpoint: url,
        region: 'us-east-1',
        forcePathStyle: true,
        // A copy: the SDK annotates the credentials object it is given.
        credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
        maxAttempts: 1,
        ...extra,
      });
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) c.destroy();
      await built.app.close();
      if (options.keepDirs) return;
      for (const folder of foldersOf(dataDir, cacheDir)) {
        madeHere.delete(folder);
        await rm(folder, { recursive: true, force: true });
      }
    },
  };
}

/** Resolves to the S3 error code (name) a command fails with, or "ok". */
export async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    return (err as { name?: string; Code?: string }).Code ?? (err as Error).name;
  }
}

export async function bodyBytes(body: unknown): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}
