/**
 * The gateway over a delayed origin, as its own process so the benchmark can pin it to a
 * core (`taskset -c 0 node dist/bench/cache-delayed-gateway.js`). Started by
 * bench/cache-wrk.ts; not meant to be run by hand (but it can be).
 *
 * It is the real gateway (buildApp from the compiled src/, the default cache settings), with
 * one difference: every bucket's local adapter is wrapped in a DelayedOrigin, so each
 * stat() and read() that reaches the store waits BENCH_ORIGIN_DELAY_MS (default 20) first.
 *
 * Settings come from the same variables as `ringcache serve`: RINGCACHE_HOST,
 * RINGCACHE_PORT, RINGCACHE_DATA_DIR, RINGCACHE_CACHE_DIR, RINGCACHE_ACCESS_KEY_ID,
 * RINGCACHE_SECRET_ACCESS_KEY, RINGCACHE_LOG_LEVEL. Stops cleanly on SIGTERM / SIGINT.
 */
import { buildApp } from '../src/app';
import { parseConfig } from '../src/config/load-config';
import { createAdapter } from '../src/mounts/adapter-factory';
import { delayed } from './cache-delayed-origin';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

async function main(): Promise<void> {
  const delayMs = Number(process.env.BENCH_ORIGIN_DELAY_MS ?? '20');
  if (!Number.isFinite(delayMs) || delayMs < 0) throw new Error(`BENCH_ORIGIN_DELAY_MS must be a number >= 0, got "${process.env.BENCH_ORIGIN_DELAY_MS}"`);
  const config = parseConfig({
    server: { host: process.env.RINGCACHE_HOST ?? '127.0.0.1', port: Number(process.env.RINGCACHE_PORT ?? '0') },
    dataDir: required('RINGCACHE_DATA_DIR'),
    cache: { disk: { path: required('RINGCACHE_CACHE_DIR') } },
    credentials: [{ accessKeyId: required('RINGCACHE_ACCESS_KEY_ID'), secretAccessKey: required('RINGCACHE_SECRET_ACCESS_KEY'), grants: { '*': 'write' } }],
    log: { level: (process.env.RINGCACHE_LOG_LEVEL ?? 'warn') as 'warn' },
  });
  const { app } = await buildApp({ config, adapterFactory: (uri) => delayed(createAdapter(uri), delayMs) });
  await app.listen({ host: config.server.host, port: config.server.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  console.log(`delayed-origin gateway listening on http://${config.server.host}:${port} (origin first-byte delay ${delayMs} ms)`);

  const stop = (): void => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
