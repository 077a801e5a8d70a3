/**
 * The gateway of the trace replay benchmark (bench/trace-replay.ts), run in a child process:
 * the real app (buildApp, as `ringcache serve` builds it) from a config file, its store adapters
 * wrapped to count the data reads that reach the store, so the driver can tell, request by
 * request, whether a GET was served entirely from the cache.
 *
 *   node dist/bench/lib/replay-gateway.js <config.json>
 *
 * Talks over IPC:
 *   <- {type: 'ready', url}                                   once listening
 *   -> {type: 'reads'}   <- {type: 'reads', reads, bytes}      data reads (and their bytes) so far
 *   -> {type: 'stats'}   <- {type: 'stats', ...}               the page store's state
 *   -> {type: 'close'}   closes the app (the cache flushes) and exits
 */
import { buildApp } from '../../src/app';
import { loadConfig } from '../../src/config/load-config';
import { createAdapter } from '../../src/mounts/adapter-factory';
import type { ByteRange, ReadOptions, UfsAdapter } from '../../ufs-adapters/types';

export interface ReadCount {
  reads: number;
  bytes: number;
}

export interface GatewayStats {
  memoryPages: number;
  memoryBytes: number;
  metadataEntries: number;
  metadataBytes: number;
  overheadBytes: number;
  diskPages: number;
  diskBytes: number;
  skippedDiskPuts: number;
  policyPages: number;
}

export type ToGateway = { type: 'reads' } | { type: 'stats' } | { type: 'close' };
export type FromGateway = { type: 'ready'; url: string } | ({ type: 'reads' } & ReadCount) | ({ type: 'stats' } & GatewayStats);

/** The adapter with its data reads counted (a Proxy: every other call goes to the adapter as it is). */
function counted(inner: UfsAdapter, count: ReadCount): UfsAdapter {
  const read = async (key: string, range: ByteRange | undefined, options?: ReadOptions) => {
    count.reads++;
    if (range) count.bytes += range.end - range.start + 1;
    return inner.read(key, range, options);
  };
  const withInfo = inner.readWithInfo?.bind(inner);
  const readWithInfo: UfsAdapter['readWithInfo'] = withInfo
    ? async (key, range, options) => {
        const result = await withInfo(key, range, options);
        count.reads++;
        count.bytes += Math.max(0, Math.min(result.info.size, range.end + 1) - range.start);
        return result;
      }
    : undefined;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'read') return read;
      if (prop === 'readWithInfo') return readWithInfo;
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file || !process.send) throw new Error('usage: node replay-gateway.js <config.json> (as a child process with IPC)');
  const send = (message: FromGateway): void => void process.send?.(message);
  const config = loadConfig({ file, env: {} });
  const count: ReadCount = { reads: 0, bytes: 0 };
  const built = await buildApp({ config, logger: false, adapterFactory: (uri, options) => counted(createAdapter(uri, options), count) });
  await built.app.listen({ host: '127.0.0.1', port: 0 });
  const address = built.app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.on('message', (message: ToGateway) => {
    if (message.type === 'reads') send({ type: 'reads', ...count });
    else if (message.type === 'stats') {
      const store = built.cache?.store;
      const memory = store?.memory.stats();
      const disk = store?.disk.stats();
      send({
        type: 'stats',
        memoryPages: memory?.pages ?? 0,
        memoryBytes: memory?.bytes ?? 0,
        metadataEntries: memory?.metadataEntries ?? 0,
        metadataBytes: memory?.metadataBytes ?? 0,
        overheadBytes: memory?.overheadBytes ?? 0,
        diskPages: disk?.pages ?? 0,
        diskBytes: disk?.bytes ?? 0,
        skippedDiskPuts: disk?.skippedPuts ?? 0,
        policyPages: store?.policy.size ?? 0,
      });
    } else if (message.type === 'close') {
      void built.app.close().finally(() => process.exit(0));
    }
  });
  process.on('disconnect', () => void built.app.close().finally(() => process.exit(0)));
  send({ type: 'ready', url: `http://127.0.0.1:${port}` });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
