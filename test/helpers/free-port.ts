/**
 * Ports for servers a test starts later (a gateway, etcd, Ceph RGW), taken below the kernel's
 * ephemeral range: a port from there (listen on 0) can be handed to an outgoing connection or
 * another test's listener before the server binds it, which made a server that starts late fail
 * with "port already in use" on a busy machine. Never the same one twice in a process; checked
 * free by listening on it.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const handedOut = new Set<number>();
const LOW = 20_000;

function ephemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > 20_100 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

/** The port bound when listening on `port` on 127.0.0.1 (then closed), or undefined when it is taken. */
const listensOn = (port: number): Promise<number | undefined> =>
  new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });

export async function freePort(): Promise<number> {
  const high = ephemeralStart() - 1;
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOW + Math.floor(Math.random() * (high - LOW + 1));
    if (handedOut.has(port)) continue;
    if ((await listensOn(port)) === port) {
      handedOut.add(port);
      return port;
    }
  }
  const any = await listensOn(0);
  if (any === undefined) throw new Error('no free port');
  return any;
}

/** `count` consecutive free ports (each checked by binding it once), from a random start. */
export async function freePortBlock(count: number): Promise<[number, number]> {
  const high = ephemeralStart() - count;
  for (let attempt = 0; attempt < 100; attempt++) {
    const first = LOW + Math.floor(Math.random() * (high - LOW + 1));
    const block = Array.from({ length: count }, (_, i) => first + i);
    if (block.some((port) => handedOut.has(port))) continue;
    let free = true;
    for (const port of block) if (free) free = (await listensOn(port)) === port;
    if (free) {
      block.forEach((port) => handedOut.add(port));
      return [first, first + count - 1];
    }
  }
  throw new Error(`no block of ${count} free ports on 127.0.0.1`);
}
