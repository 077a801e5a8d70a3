/**
 * A HEAD load generator (wrk cannot measure HEAD: it waits for the body the Content-Length
 * announces). N keep-alive connections, each sends one HEAD at a time and counts the answer once
 * its header block has arrived (a HEAD answer has no body). Prints one JSON line:
 * {"requests","seconds","errors","p50_us","p99_us"}.
 *
 *   node dist/bench/lib/head-load.js <host:port> <connections> <seconds> <paths.json>
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const [hostPort, connectionsText, secondsText, pathsFile] = process.argv.slice(2);
if (!hostPort || !connectionsText || !secondsText || !pathsFile) {
  console.error('usage: head-load <host:port> <connections> <seconds> <paths.json>');
  process.exit(2);
}
const [host, portText] = hostPort.split(':');
const requests = (JSON.parse(readFileSync(pathsFile, 'utf8')) as string[]).map((p) => Buffer.from(`HEAD ${p} HTTP/1.1\r\nHost: ${hostPort}\r\n\r\n`, 'latin1'));
const deadline = performance.now() + Number(secondsText) * 1000;
const latencies: number[] = [];
let done = 0;
let errors = 0;
let next = 0;

function connection(): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(Number(portText), host);
    socket.setNoDelay(true);
    let sentAt = 0;
    let pending = '';
    const send = (): void => {
      if (performance.now() >= deadline) {
        socket.end();
        return;
      }
      sentAt = performance.now();
      socket.write(requests[next++ % requests.length]);
    };
    socket.on('connect', send);
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      const end = pending.indexOf('\r\n\r\n');
      if (end === -1) return;
      if (!pending.startsWith('HTTP/1.1 200')) errors++;
      pending = pending.slice(end + 4);
      latencies.push(performance.now() - sentAt);
      done++;
      send();
    });
    socket.on('error', () => {
      errors++;
      resolve();
    });
    socket.on('close', () => resolve());
  });
}

const started = performance.now();
Promise.all(Array.from({ length: Number(connectionsText) }, connection)).then(() => {
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
  console.log(JSON.stringify({ requests: done, seconds, errors, p50_us: Math.round(at(50) * 1000), p99_us: Math.round(at(99) * 1000) }));
});
