/**
 * A TCP proxy that adds first-byte latency, as a remote store has: data from the server is held
 * until `delayMs` after the client's latest bytes (its request), then flows at full speed. One
 * request at a time per connection (HTTP/1.1 keep-alive without pipelining) sees exactly one
 * delay before the first byte of its response, whatever the response size. Knows nothing of HTTP.
 */
import net from 'node:net';

export class DelayProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly target: { host: string; port: number },
    private readonly delayMs: number,
  ) {
    this.server = net.createServer((client) => this.relay(client));
  }

  static async start(target: { host: string; port: number }, delayMs: number): Promise<DelayProxy> {
    const proxy = new DelayProxy(target, delayMs);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  private relay(client: net.Socket): void {
    const upstream = net.connect(this.target.port, this.target.host);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.sockets.add(client).add(upstream);
    let lastRequestAt = 0;
    // Server bytes wait here until their release time, in order.
    const queue: { data: Buffer; at: number }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = (): void => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && queue[0].at <= now) client.write((queue.shift() as { data: Buffer }).data);
      if (queue.length > 0) timer = setTimeout(flush, queue[0].at - now);
    };
    client.on('data', (data) => {
      lastRequestAt = performance.now();
      upstream.write(data);
    });
    upstream.on('data', (data) => {
      const at = Math.max(performance.now(), lastRequestAt + this.delayMs);
      if (queue.length === 0 && at <= performance.now()) {
        client.write(data);
        return;
      }
      queue.push({ data, at });
      timer ??= setTimeout(flush, Math.max(0, at - performance.now()));
    });
    const close = (): void => {
      clearTimeout(timer);
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
