/**
 * One gateway as a real process (`node dist/src/cli/ringcache.js serve --config FILE`), for what
 * an in-process gateway cannot show: kill -9 at any moment and a restart on the same folders, or
 * a gateway running as another user (file permissions do not stop root, so a chmod-000 test runs
 * the gateway as `nobody` when the suite runs as root).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { ADMIN, READER } from './gateway';

const CLI = path.resolve(__dirname, '../../dist/src/cli/ringcache.js');
export const cliBuilt = (): boolean => existsSync(CLI);

interface GatewayProcessOptions {
  /** Run as this user and group (needs root). */
  uid?: number;
  gid?: number;
  /** Extra environment. */
  env?: NodeJS.ProcessEnv;
  /** How long start() waits for the banner. */
  startTimeoutMs?: number;
}

export interface GatewayProcess {
  readonly configFile: string;
  url: string;
  child: ChildProcess | undefined;
  /** stdout + stderr of the current run. */
  output: string;
  start(): Promise<void>;
  /** SIGKILL (no shutdown of any kind) or SIGTERM; resolves once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  client(credentials?: { accessKeyId: string; secretAccessKey: string }): S3Client;
  stop(): Promise<void>;
}

/** The default credentials of test gateways (as startTestGateway). */
const TEST_CREDENTIALS = [
  { accessKeyId: ADMIN.accessKeyId, secretAccessKey: ADMIN.secretAccessKey, grants: { '*': 'write' } },
  { accessKeyId: READER.accessKeyId, secretAccessKey: READER.secretAccessKey, grants: { '*': 'read' } },
];

/** Writes `config` (server on 127.0.0.1, port 0 unless given) to `configFile`; start() runs it. */
export async function gatewayProcess(configFile: string, config: Record<string, unknown>, options: GatewayProcessOptions = {}): Promise<GatewayProcess> {
  const full = { credentials: TEST_CREDENTIALS, log: { level: 'warn' }, ...config, server: { host: '127.0.0.1', port: 0, ...(config.server as object | undefined) } };
  await writeFile(configFile, JSON.stringify(full, null, 2));
  const clients: S3Client[] = [];
  const gw: GatewayProcess = {
    configFile,
    url: '',
    child: undefined,
    output: '',
    async start() {
      const child = spawn(process.execPath, [CLI, 'serve', '--config', configFile], {
        // Defaults (./cache, ./jobs) land beside the config file, never in the working tree.
        cwd: path.dirname(configFile),
        env: { PATH: process.env.PATH, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
        uid: options.uid,
        gid: options.gid,
      });
      gw.child = child;
      gw.output = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the gateway did not start:\n${gw.output}`)), options.startTimeoutMs ?? 30_000);
        const onData = (chunk: Buffer): void => {
          gw.output += chunk.toString();
          const match = /listening on (http:\/\/\S+)/.exec(gw.output);
          if (match && gw.output.includes('health:')) {
            clearTimeout(timer);
            gw.url = match[1];
            resolve();
          }
        };
        child.stdout?.on('data', onData);
        child.stderr?.on('data', onData);
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`the gateway exited (${code ?? signal}):\n${gw.output}`));
        });
      });
    },
    async kill(signal = 'SIGKILL') {
      const child = gw.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await exited;
      gw.child = undefined;
    },
    client(credentials = ADMIN) {
      const client = new S3Client({
        endpoint: gw.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { ...credentials },
        maxAttempts: 1,
      });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await gw.kill('SIGTERM');
    },
  };
  return gw;
}
