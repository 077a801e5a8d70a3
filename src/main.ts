/**
 * Starts a gateway from a loaded config: check the mount roots, build the app, listen, print how to connect.
 */
import type { RingcacheConfig } from './config/schema';
import { buildApp } from './app';
import { EMBEDDED_DEFAULT } from './config/load-config';
import { assertMountRootsExist } from './mounts/mount-roots';

interface RunningGateway {
  url: string;
  close(): Promise<void>;
}

export async function startGateway(config: RingcacheConfig, out: (line: string) => void = console.log): Promise<RunningGateway> {
  await assertMountRootsExist(config.mounts);
  const { app, cluster } = await buildApp({ config });
  try {
    await app.listen({ host: config.server.host, port: config.server.port });
    await cluster.start();
  } catch (err) {
    await app.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  const url = `${config.server.tls ? 'https' : 'http'}://${host}:${port}`;

  out(`Ringcache S3 gateway listening on ${url}`);
  if (config.dataDir) out(`  buckets: top-level folders of ${config.dataDir}`);
  for (const [bucket, mount] of Object.entries(config.mounts)) out(`  bucket ${bucket} -> ${mount.uri}`);
  const first = config.credentials[0];
  const embedded = EMBEDDED_DEFAULT.credentials[0];
  // Only the embedded default's well-known secret is printed; configured secrets never reach logs.
  if (first.accessKeyId === embedded.accessKeyId && first.secretAccessKey === embedded.secretAccessKey) {
    out(`  credentials: AWS_ACCESS_KEY_ID=${first.accessKeyId} AWS_SECRET_ACCESS_KEY=${first.secretAccessKey}`);
  } else {
    out(`  credentials: ${config.credentials.length} configured access key(s), e.g. ${first.accessKeyId}`);
  }
  out(`  try: aws --endpoint-url ${url} s3 ls`);
  out(`  metrics: ${url}/_ringcache/metrics   health: ${url}/_ringcache/healthz`);
  const ring = cluster.node.view();
  out(`  node ${ring.self}: ring of ${ring.members.length} (${ring.members.map((m) => m.id).join(', ')})   ring: ${url}/_ringcache/cluster/ring`);

  return { url, close: () => app.close() };
}
