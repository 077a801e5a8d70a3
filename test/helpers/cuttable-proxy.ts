/**
 * A TCP proxy on 127.0.0.1 in front of one address, that a test can cut: `cut()` resets every
 * open connection and refuses new ones (as a dead link or a dead agent looks to the client),
 * `restore()` lets them through again. Used to take away one node's own Consul agent (or etcd
 * endpoint) while the others keep theirs.
 */
import net from 'node:net';

export interface CuttableProxy {
  port: number;
  url: string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** `listenHost`: where the proxy listens (default 127.0.0.1; a NetLab's host address for nodes in namespaces). */
export async function startCuttableProxy(target: { host: string; port: number }, listenHost = '127.0.0.1'): Promise<CuttableProxy> {
  let open = true;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (!open) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, listenHost, resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://${listenHost}:${port}`,
    cut() {
      open = false;
      for (const socket of sockets) socket.resetAndDestroy();
      sockets.clear();
    },
    restore() {
      open = true;
    },
    async close() {
      open = false;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
