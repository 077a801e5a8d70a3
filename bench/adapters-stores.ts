/**
 * Child process of bench/adapters-rss.ts: runs ONE store on 127.0.0.1 and seeds it directly
 * (never through the gateway), so that neither the store's memory nor its CPU is counted
 * in the benchmark client or in the gateway.
 *
 *   node dist/bench/adapters-stores.js <local|s3|gcs|hdfs>     (with an IPC channel)
 *
 * Protocol (process.send / 'message'):
 *   child -> parent  { type: 'ready', mount, description }   once the store answers
 *   parent -> child  { type: 'seed', prefix, keys, dirs }    create `keys` empty objects
 *   child -> parent  { type: 'seeded', seconds }
 *   parent -> child  { type: 'stop' }                         close, remove data, exit 0
 *   child -> parent  { type: 'stopped', warnings }            just before exiting
 *   child -> parent  { type: 'error', message }               any failure (then exits 1)
 *
 * Every file the store writes goes under $TMPDIR, which the parent sets to a folder of its
 * own temp dir, so a killed child leaves nothing behind once the parent removes that dir.
 * The child also cleans up and exits when the parent goes away (IPC disconnect) or on
 * SIGINT/SIGTERM.
 */
import { createHash } from 'node:crypto';
import { closeSync, createWriteStream, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';

export const STORE_KINDS = ['local', 's3', 'gcs', 'hdfs'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export interface MountSpec {
  uri: string;
  options?: Record<string, unknown>;
}

export type ToStore = { type: 'seed'; prefix: string; keys: number; dirs: number } | { type: 'stop' };

export type FromStore =
  | { type: 'ready'; mount: MountSpec; description: string }
  | { type: 'seeded'; seconds: number }
  | { type: 'stopped'; warnings: string[] }
  | { type: 'error'; message: string };

/** Key of seeded object `i` (mount-relative): `<prefix>dir-07/key-0012345`, spread over `dirs` folders. */
export function seededKey(prefix: string, i: number, keys: number, dirs: number): string {
  const perDir = Math.ceil(keys / dirs);
  const dir = Math.floor(i / perDir);
  return `${prefix}dir-${String(dir).padStart(2, '0')}/key-${String(i).padStart(7, '0')}`;
}

interface RunningStore {
  mount: MountSpec;
  description: string;
  /** Creates the (empty) object of mount key `key`; parents may need creating. */
  seedOne(key: string): void;
  close(): Promise<string[]>;
}

const EMPTY_MD5_HEX = 'd41d8cd98f00b204e9800998ecf8427e';

/** Creates an empty file, making its folder once. */
function emptyFileMaker(): (file: string) => void {
  const made = new Set<string>();
  return (file) => {
    const dir = path.dirname(file);
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
    closeSync(openSync(file, 'w'));
  };
}

async function startLocal(): Promise<RunningStore> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'local-'));
  const touch = emptyFileMaker();
  return {
    mount: { uri: pathToFileURL(root).href },
    description: `local folder ${root}`,
    // Files written by someone else (no sidecar), as an NFS user would.
    seedOne: (key) => touch(path.join(root, ...key.split('/'))),
    close: async () => {
      await rm(root, { recursive: true, force: true });
      return [];
    },
  };
}

/**
 * s3rver writes a part as `<uploadDir>/<n>` while it streams in and its `<n>.md5` only at the
 * end, so a ListParts (the fixture's, which reads every part's .md5) that runs while another
 * part is in flight fails with ENOENT -> 500 InternalError. The gateway's S3 adapter checks
 * the upload with ListParts on every UploadPart, so with 4 parts in flight nearly every part
 * would fail against s3rver. S3 lists a part only once it is complete: parts are written
 * under a temporary name here and renamed into place after their .md5, which gives s3rver
 * that behaviour. Same bytes, same size and ETag; nothing else changes.
 */
function makeS3rverPartsAtomic(): void {
  /* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
  const FilesystemStore: any = require('s3rver/lib/stores/filesystem');
  if (FilesystemStore.prototype.putPart.ringcacheAtomic) return;
  const putPart = async function (this: any, bucket: string, uploadId: string, partNumber: number, content: NodeJS.ReadableStream) {
    const partPath = path.join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId, partNumber.toString());
    await mkdir(path.dirname(partPath), { recursive: true });
    const temp = `${partPath}.inflight-${process.hrtime.bigint()}`;
    const md5 = createHash('md5');
    let size = 0;
    try {
      await pipeline(
        content,
        new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            md5.update(chunk);
            size += chunk.length;
            callback(null, chunk);
          },
        }),
        createWriteStream(temp),
      );
      const hex = md5.digest('hex');
      await writeFile(`${partPath}.md5`, hex);
      await rename(temp, partPath);
      return { size, md5: hex };
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  };
  (putPart as any).ringcacheAtomic = true;
  FilesystemStore.prototype.putPart = putPart;
}

async function startS3(): Promise<RunningStore> {
  makeS3rverPartsAtomic();
  const { startS3rver } = await import('../test/emulators/s3/s3rver-fixture');
  const bucket = 'upstream';
  const mountPrefix = 'bench';
  const fixture = await startS3rver({ bucket });
  const touch = emptyFileMaker();
  return {
    mount: {
      uri: `s3://${bucket}/${mountPrefix}?endpoint=${encodeURIComponent(fixture.endpoint)}&pathStyle=true`,
      options: { credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
    },
    description: `s3rver ${fixture.endpoint}, bucket ${bucket}, files in ${fixture.directory}`,
    // s3rver's on-disk layout (lib/stores/filesystem.js): <dir>/<bucket>/<key>._S3rver_object
    // and its .md5; the metadata JSON is optional (missing means no stored metadata).
    seedOne: (key) => {
      const base = path.join(fixture.directory, bucket, ...`${mountPrefix}/${key}`.split('/'));
      touch(`${base}._S3rver_object`);
      writeFileSync(`${base}._S3rver_object.md5`, EMPTY_MD5_HEX);
    },
    close: async () => {
      const warnings = fixture.errors.map((e) => `s3rver internal error: ${e instanceof Error ? e.message : String(e)}`);
      await fixture.close();
      return warnings;
    },
  };
}

async function startGcs(): Promise<RunningStore> {
  const { startGcsEmulator } = await import('../test/emulators/gcs/gcs-emulator');
  const bucket = 'bench-bucket';
  const mountPrefix = 'bench/';
  const emulator = await startGcsEmulator({ buckets: [bucket] });
  // The emulator sorts every name of the bucket on each objects.list call (comparing
  // freshly allocated Buffers); with 100 000 objects that is ~1 s per page, emulator time
  // the benchmark would report as listing time. The sorted names are kept between writes
  // instead: the same answer, computed once per change. Nothing else is altered.
  const store = emulator.store as unknown as {
    put: (...args: unknown[]) => unknown;
    delete: (...args: unknown[]) => unknown;
    sortedNames: (bucket: string) => string[];
    objects: (bucket: string) => Map<string, unknown>;
  };
  if (typeof store.put === 'function' && typeof store.delete === 'function' && typeof store.sortedNames === 'function') {
    let version = 0;
    const memo = new Map<string, { version: number; size: number; names: string[] }>();
    const put = store.put.bind(store);
    const del = store.delete.bind(store);
    const sortedNames = store.sortedNames.bind(store);
    store.put = (...args) => {
      version++;
      return put(...args);
    };
    store.delete = (...args) => {
      version++;
      return del(...args);
    };
    store.sortedNames = (b) => {
      const size = store.objects(b).size;
      const hit = memo.get(b);
      if (hit && hit.version === version && hit.size === size) return hit.names;
      const names = sortedNames(b);
      memo.set(b, { version, size, names });
      return names;
    };
  }
  return {
    mount: { uri: `gs://${bucket}/${mountPrefix}`, options: { apiEndpoint: emulator.endpoint } },
    description: `GCS JSON API emulator ${emulator.endpoint} (in memory), bucket ${bucket}`,
    seedOne: (key) => {
      emulator.putObject(bucket, `${mountPrefix}${key}`, '');
    },
    close: async () => {
      const warnings = emulator.unexpected.map((u) => `GCS emulator: unexpected route ${u}`);
      await emulator.close();
      return warnings;
    },
  };
}

async function startHdfs(): Promise<RunningStore> {
  const { startWebHdfsEmulator } = await import('../test/emulators/webhdfs');
  const emulator = await startWebHdfsEmulator();
  const root = '/ringcache-bench';
  const user = 'ringcache';
  await emulator.mkdirs(root, user);
  const touch = emptyFileMaker();
  return {
    mount: { uri: `hdfs://127.0.0.1:${emulator.nameNodePort}${root}?user=${user}` },
    description: `WebHDFS emulator NameNode ${emulator.nameNodeUrl}, DataNode ${emulator.dataNodeUrl}`,
    // The emulator's namespace is a directory: an HDFS path is a file below it. Files
    // created there look like files written by another HDFS client (no xattrs).
    seedOne: (key) => touch(emulator.localPath(`${root}/${key}`)),
    close: async () => {
      const warnings = emulator.unknownOps.map((op) => `WebHDFS emulator: unknown op ${op}`);
      await emulator.close();
      return warnings;
    },
  };
}

const STARTERS: Record<StoreKind, () => Promise<RunningStore>> = { local: startLocal, s3: startS3, gcs: startGcs, hdfs: startHdfs };

function send(message: FromStore): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

async function main(): Promise<void> {
  const kind = process.argv[2] as StoreKind;
  if (!STORE_KINDS.includes(kind)) throw new Error(`unknown store kind "${process.argv[2]}" (one of ${STORE_KINDS.join(', ')})`);
  if (!process.send) throw new Error('adapters-stores must be started by adapters-rss (it needs an IPC channel)');
  await mkdir(os.tmpdir(), { recursive: true });

  let store: RunningStore | undefined;
  let closing: Promise<string[]> | undefined;
  const close = (): Promise<string[]> => (closing ??= store ? store.close().catch((err: Error) => [`closing the store failed: ${err.message}`]) : Promise.resolve([]));
  const quit = (code: number): void => {
    void close().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => quit(130));
  process.once('SIGTERM', () => quit(143));
  process.once('disconnect', () => quit(1));

  store = await STARTERS[kind]();
  process.on('message', (message: ToStore) => {
    void (async () => {
      try {
        if (message.type === 'seed') {
          const t0 = performance.now();
          for (let i = 0; i < message.keys; i++) {
            store!.seedOne(seededKey(message.prefix, i, message.keys, message.dirs));
            if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve)); // signals and IPC get a turn
          }
          await send({ type: 'seeded', seconds: (performance.now() - t0) / 1000 });
        } else if (message.type === 'stop') {
          const warnings = await close();
          await send({ type: 'stopped', warnings });
          process.exit(0);
        }
      } catch (err) {
        await send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
        quit(1);
      }
    })();
  });
  await send({ type: 'ready', mount: store.mount, description: store.description });
}

if (require.main === module) {
  main().catch(async (err: unknown) => {
    await send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(1);
  });
}
