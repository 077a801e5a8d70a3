/** nginx as a benchmark reference: static files from a folder, sendfile on or off. */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BenchError } from './bench-run';
import { Child, freePort, waitForHttp, type Pinning } from './processes';

export interface Nginx {
  child: Child;
  port: number;
  host: string;
  sendfile: boolean;
}

/** nginx in the foreground with its own config, serving `root` on 127.0.0.1:<port>. */
export async function startNginx(nginxBin: string, pinning: Pinning, workDir: string, root: string, sendfile: boolean, probePath: string): Promise<Nginx> {
  const port = await freePort();
  const name = `nginx-sendfile-${sendfile ? 'on' : 'off'}`;
  const prefix = path.join(workDir, name);
  await mkdir(path.join(prefix, 'logs'), { recursive: true });
  const conf = path.join(prefix, 'nginx.conf');
  const temp = (what: string): string => `${what}_temp_path ${path.join(prefix, `${what}-temp`)};`;
  await writeFile(
    conf,
    [
      'daemon off;',
      'master_process on;',
      'worker_processes 1;',
      // Root's workers would run as www-data, which cannot enter the 0700 temp dir.
      ...(process.getuid?.() === 0 ? ['user root;'] : []),
      `pid ${path.join(prefix, 'nginx.pid')};`,
      `error_log ${path.join(prefix, 'logs', 'error.log')} warn;`,
      'events { worker_connections 4096; }',
      'http {',
      '  access_log off;',
      `  sendfile ${sendfile ? 'on' : 'off'};`,
      // Node's HTTP server never closes a keep-alive connection after N requests; nor does nginx here (its default is 1000).
      '  keepalive_requests 100000000;',
      '  default_type application/octet-stream;',
      `  ${temp('client_body')}`,
      `  ${temp('proxy')}`,
      `  ${temp('fastcgi')}`,
      `  ${temp('uwsgi')}`,
      `  ${temp('scgi')}`,
      '  server {',
      `    listen 127.0.0.1:${port};`,
      `    root ${root};`,
      '    location / { }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const child = Child.spawn(name, [...pinning.server, nginxBin, '-p', prefix, '-e', path.join(prefix, 'logs', 'startup.log'), '-c', conf]);
  const host = `127.0.0.1:${port}`;
  try {
    await waitForHttp(child, `http://${host}${probePath}`, 15_000);
  } catch (err) {
    await child.stop();
    const log = [path.join(prefix, 'logs', 'startup.log'), path.join(prefix, 'logs', 'error.log')].map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : '')).join('');
    throw new BenchError(`${(err as Error).message}${log.trim() ? `\n--- nginx error log ---\n${log.trim()}` : ''}`);
  }
  // The worker, so that even a SIGKILL of everything leaves no orphan behind.
  const children = `/proc/${child.pid}/task/${child.pid}/children`;
  if (existsSync(children)) child.extraPids = readFileSync(children, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return { child, port, host, sendfile };
}
