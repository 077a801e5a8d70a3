/**
 * The "bare Node" reference of the fast-path benchmark: node:http answering GET and HEAD from
 * Buffers in memory, with the headers an object store sends (Content-Length, Content-Type, ETag,
 * Last-Modified). No routing framework, no authentication, no cache bookkeeping: the ceiling a
 * Node gateway can approach.
 *
 *   node dist/bench/lib/bare-node-server.js <root folder> <port>
 *
 * Every file under the root is loaded at start, served at its path relative to the root.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

interface Served {
  body: Buffer;
  headers: string[];
}

function load(root: string): Map<string, Served> {
  const files = new Map<string, Served>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        const body = readFileSync(full);
        const etag = `"${createHash('md5').update(body).digest('hex')}"`;
        const lastModified = statSync(full).mtime.toUTCString();
        files.set(`/${path.relative(root, full).split(path.sep).join('/')}`, {
          body,
          headers: ['content-length', String(body.length), 'content-type', 'application/octet-stream', 'etag', etag, 'last-modified', lastModified, 'accept-ranges', 'bytes'],
        });
      }
    }
  };
  walk(root);
  return files;
}

const [root, port] = process.argv.slice(2);
if (!root || !port) {
  console.error('usage: bare-node-server <root folder> <port>');
  process.exit(2);
}
const files = load(root);
const server = http.createServer((req, res) => {
  const q = (req.url ?? '/').indexOf('?');
  const found = files.get(q === -1 ? (req.url ?? '/') : (req.url ?? '/').slice(0, q));
  if (!found) {
    res.writeHead(404, ['content-length', '0']);
    res.end();
    return;
  }
  res.writeHead(200, found.headers);
  res.end(req.method === 'HEAD' ? undefined : found.body);
});
server.keepAliveTimeout = 72_000;
server.listen(Number(port), '127.0.0.1', () => console.log(`bare node server on 127.0.0.1:${port}, ${files.size} files`));
const stop = (): void => void server.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
