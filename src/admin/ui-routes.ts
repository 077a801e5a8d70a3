/**
 * The dashboard's page: a few static files (src/admin/ui/, copied next to this module by the
 * build) served at /_ringcache/ui/. No CDN, no framework: the page draws its own charts and signs
 * its API calls in the browser (docs/dashboard.md). The files hold no secret and are served to
 * anyone; every API call they make needs an admin key. A strict Content-Security-Policy allows
 * only this origin's scripts, styles and API.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

const UI_DIR = path.join(__dirname, 'ui');

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'sigv4.js': 'text/javascript; charset=utf-8',
  'sha256.js': 'text/javascript; charset=utf-8',
  'charts.js': 'text/javascript; charset=utf-8',
  'format.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/** The UI files, read once (a few tens of KiB). */
function loadFiles(): Map<string, Buffer> {
  return new Map(Object.keys(FILES).map((name) => [name, readFileSync(path.join(UI_DIR, name))]));
}

export function registerUiRoutes(app: FastifyInstance, prefix: string): void {
  const files = loadFiles();
  const send = (name: string) => (_request: unknown, reply: import('fastify').FastifyReply) =>
    reply.headers({ ...SECURITY_HEADERS, 'content-type': FILES[name] }).send(files.get(name));

  app.get('/ui', (_request, reply) => reply.redirect(`${prefix}/ui/`, 302));
  app.get('/ui/', send('index.html'));
  for (const name of Object.keys(FILES)) app.get(`/ui/${name}`, send(name));
}
