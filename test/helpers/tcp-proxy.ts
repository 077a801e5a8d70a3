/**
 * A TCP proxy in front of a node, for faults between nodes: `pass` forwards both ways;
 * `blackhole` accepts connections and never answers (and stalls the connections it was
 * forwarding: nothing more goes through either way), as a wedged or blackholed peer does.
 * `recorded()` gives the bytes clients sent through it (a captured request can be replayed).
 */
import net, { type AddressInfo, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  url: string;
  mode: 'pass' | 'blackhole';
  /** Everything clients sent, per connection, in order. */
  recorded(): Buffer[];
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, options: { record?: boolean } = {}): Promise<TcpProxy> {
  const pairs = new Set<{ client: Socket; upstream?: Socket }>();
  const recordings: Buffer[][] = [];
  const proxy: TcpProxy = {
    port: 0,
    url: '',
    mode: 'pass',
    recorded: () => recordings.map((chunks) => Buffer.concat(chunks)),
    async close() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream?.destroy();
      }
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const stall = (pair: { client: Socket; upstream?: Socket }): void => {
    pair.client.unpipe();
    pair.upstream?.unpipe();
    pair.client.pause();
    pair.upstream?.pause();
  };
  const server = net.createServer((client) => {
    const pair: { client: Socket; upstream?: Socket } = { client };
    pairs.add(pair);
    client.on('error', () => undefined);
    client.on('close', () => {
      pair.upstream?.destroy();
      pairs.delete(pair);
    });
    if (proxy.mode === 'blackhole') {
      client.pause();
      return;
    }
    if (options.record) {
      const chunks: Buffer[] = [];
      recordings.push(chunks);
      client.on('data', (chunk: Buffer) => chunks.push(Buffer.from(chunk)));
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    pair.upstream = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = (server.address() as AddressInfo).port;
  proxy.url = `http://127.0.0.1:${proxy.port}`;
  let mode: TcpProxy['mode'] = 'pass';
  Object.defineProperty(proxy, 'mode', {
    get: () => mode,
    set(next: TcpProxy['mode']) {
      mode = next;
      if (next === 'blackhole') for (const pair of pairs) stall(pair);
    },
  });
  return proxy;
}
