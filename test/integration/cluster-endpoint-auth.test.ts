/**
 * The internal cluster endpoints (/page, /load, /invalidate, /buckets) accept a hop marker of
 * their own purpose, addressed to this node, once, and a POST only with the body its marker
 * signed (x-ringcache-hop-body-sha256): a captured call can be neither replayed, nor replayed
 * with another body, nor used on another endpoint. Bodies up to 16 MiB on both POSTs. Pages go to
 * current members only, signed. The ring view needs an admin key. The plugin alone in a fastify
 * app on loopback.
 */
import { createHash } from 'node:crypto';
import fastify, { type FastifyInstance } from 'fastify';
import { clusterPlugin } from '../../src/cluster/cluster-plugin';
import { HopSigner, HopVerifier, type HopPurpose } from '../../src/cluster/peer-auth';
import { PAGE_SIGNATURE_HEADER } from '../../src/cluster/peer-client';
import { Authenticator } from '../../src/s3/auth';
import type { BucketRegistry } from '../../src/mounts/bucket-registry';
import { ADMIN, READER } from '../helpers/gateway';
import { rawRequest } from '../helpers/raw-request';
import { Callers } from '../../src/admin/admin-access';

const SECRET = 'unit-test-cluster-secret';
const PREFIX = '/_ringcache/cluster';
const sha256 = (body: string): string => createHash('sha256').update(body).digest('hex');

let app: FastifyInstance;
let base: string;
let invalidated: string[];
let warmed: string[];
let forgotten: string[];
const nodeA = new HopSigner('node-a', SECRET);
const purposeOf = (path: string): HopPurpose => path.slice(1) as HopPurpose;

/** The headers node-a sends with `body` to `path` on node-b (as PeerClient.postJson does). */
const signedPost = (path: string, body: string, purpose = purposeOf(path)): Record<string, string> => ({
  'content-type': 'application/json',
  ...nodeA.headers(purpose, { method: 'POST', rawUrl: `${PREFIX}${path}`, to: 'node-b', bodySha256: sha256(body) }),
});

interface Answer {
  status: number;
  text: string;
  json(): { message?: string; invalidated?: number };
}

async function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const response = await fetch(`${base}${path}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) as { message?: string } };
}

const post = (path: string, headers: Record<string, string>, payload: string): Promise<Answer> => send('POST', `${PREFIX}${path}`, headers, payload);

beforeEach(async () => {
  invalidated = [];
  warmed = [];
  const cache = {
    invalidate: (key: string) => void invalidated.push(key),
    async warm(key: string) {
      warmed.push(key);
      return { size: 1, bytesLoaded: 1, bytesSkipped: 0 };
    },
  };
  forgotten = [];
  const buckets = { get: async () => ({ name: 'bkt', cache }), forget: (name: string) => void forgotten.push(name) } as unknown as BucketRegistry;
  const nodeCache = { store: { peek: () => ({ data: Buffer.from('page'), tier: 'memory' }) } } as never;
  const node = { member: (id: string) => (id === 'node-a' ? { id, url: 'http://unused' } : undefined), view: () => ({ self: 'node-b', members: [] }) } as never;
  const credentials = [
    { ...ADMIN, grants: { '*': 'write' as const } },
    { ...READER, grants: { '*': 'read' as const } },
  ];
  const authenticator = new Authenticator((id) => credentials.find((c) => c.accessKeyId === id)?.secretAccessKey);
  app = fastify();
  await app.register(clusterPlugin, { prefix: PREFIX, node, verifier: new HopVerifier('node-b', SECRET), signer: new HopSigner('node-b', SECRET), tls: { mutual: false }, buckets, cache: nodeCache, callers: new Callers(authenticator, credentials) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});

afterEach(() => app.close());

describe('POST /invalidate', () => {
  const body = JSON.stringify({ keys: { bkt: ['a', 'b'] } });

  it('accepts a call whose marker signs its body, once', async () => {
    const headers = signedPost('/invalidate', body);
    const first = await post('/invalidate', headers, body);
    expect(first.status).toBe(200);
    expect(first.json()).toEqual({ invalidated: 2 });
    const replay = await post('/invalidate', headers, body);
    expect(replay.status).toBe(403);
    expect(replay.json().message).toMatch(/already used/);
    expect(invalidated).toEqual(['a', 'b']);
  });

  it('refuses a captured marker with another body', async () => {
    const headers = signedPost('/invalidate', body);
    const other = JSON.stringify({ keys: { bkt: ['c'] }, all: true });
    const response = await post('/invalidate', headers, other);
    expect(response.status).toBe(403);
    expect(response.json().message).toMatch(/not the one the hop marker signed/);
    // Nor does a made-up hash of the new body pass: the marker signs the hash.
    expect((await post('/invalidate', { ...headers, 'x-ringcache-hop-body-sha256': sha256(other) }, other)).status).toBe(403);
    expect(invalidated).toEqual([]);
    // The refused attempts did not use the marker up: the genuine call still goes through.
    expect((await post('/invalidate', headers, body)).status).toBe(200);
  });

  it('refuses a marker made for another endpoint, or for another node', async () => {
    expect((await post('/invalidate', signedPost('/invalidate', body, 'load'), body)).status).toBe(403);
    const toC = { 'content-type': 'application/json', ...nodeA.headers('invalidate', { method: 'POST', rawUrl: `${PREFIX}/invalidate`, to: 'node-c', bodySha256: sha256(body) }) };
    expect((await post('/invalidate', toC, body)).json().message).toMatch(/addressed to node-c/);
    expect(invalidated).toEqual([]);
  });

  it('refuses a marker without a body hash (as forwarded S3 requests send)', async () => {
    const headers = { 'content-type': 'application/json', ...nodeA.headers('invalidate', { method: 'POST', rawUrl: `${PREFIX}/invalidate`, to: 'node-b' }) };
    const response = await post('/invalidate', headers, body);
    expect(response.status).toBe(403);
    expect(invalidated).toEqual([]);
  });

  it('takes bodies over 1 MiB (1000s of long keys), up to 16 MiB', async () => {
    const keys = Array.from({ length: 2000 }, (_, i) => `${'x'.repeat(1024)}-${i}`);
    const large = JSON.stringify({ keys: { bkt: keys } });
    expect(large.length).toBeGreaterThan(2 * 1000 * 1024);
    const response = await post('/invalidate', signedPost('/invalidate', large), large);
    expect(response.status).toBe(200);
    expect(invalidated).toHaveLength(2000);
    const tooLarge = JSON.stringify({ keys: { bkt: ['y'.repeat(17 * 1024 * 1024)] } });
    expect((await post('/invalidate', signedPost('/invalidate', tooLarge), tooLarge)).status).toBe(413);
  });

  it('answers 400 to a signed body that is not valid JSON or not an invalidation', async () => {
    expect((await post('/invalidate', signedPost('/invalidate', '{"keys":'), '{"keys":')).status).toBe(400);
    expect((await post('/invalidate', signedPost('/invalidate', '{"keys":1}'), '{"keys":1}')).status).toBe(400);
  });
});

describe('POST /load', () => {
  const body = JSON.stringify({ bucket: 'bkt', items: [{ key: 'k', size: 1 }], options: { skipCached: true, metadataOnly: false } });

  it('runs a signed batch once; a replay or another body under the same marker is refused', async () => {
    const headers = signedPost('/load', body);
    const other = JSON.stringify({ bucket: 'bkt', items: [{ key: 'other', size: 1 }], options: { skipCached: false, metadataOnly: false } });
    expect((await post('/load', headers, other)).status).toBe(403);
    expect((await post('/load', headers, body)).status).toBe(200);
    expect((await post('/load', headers, body)).status).toBe(403);
    expect(warmed).toEqual(['k']);
  });
});

describe('POST /buckets', () => {
  it('forgets the bucket named by a signed notice, once', async () => {
    const body = JSON.stringify({ bucket: 'photos', change: 'deleted' });
    const headers = signedPost('/buckets', body);
    expect((await post('/buckets', headers, body)).status).toBe(200);
    expect((await post('/buckets', headers, body)).status).toBe(403);
    expect(forgotten).toEqual(['photos']);
  });
});

describe('GET /page', () => {
  const rawUrl = `${PREFIX}/page?key=object%2F00000000`;

  it('serves a marked request from a member once, signed for that request', async () => {
    const headers = nodeA.headers('page', { method: 'GET', rawUrl, to: 'node-b' });
    const first = await fetch(`${base}${rawUrl}`, { headers });
    expect(first.status).toBe(200);
    const data = Buffer.from(await first.arrayBuffer());
    expect(data.toString()).toBe('page');
    const verifier = new HopVerifier('node-a', SECRET);
    expect(verifier.answerMatches('page', headers['x-ringcache-hop-nonce'], 'object/00000000', data, first.headers.get(PAGE_SIGNATURE_HEADER) ?? undefined)).toBe(true);
    expect((await send('GET', rawUrl, headers)).status).toBe(403);
    // A new marker is a new request.
    expect((await send('GET', rawUrl, nodeA.headers('page', { method: 'GET', rawUrl, to: 'node-b' }))).status).toBe(200);
  });

  it('refuses a node that is not a member, and a marker made for forwarding', async () => {
    const outsider = new HopSigner('node-x', SECRET).headers('page', { method: 'GET', rawUrl, to: 'node-b' });
    expect((await send('GET', rawUrl, outsider)).status).toBe(403);
    expect((await send('GET', rawUrl, nodeA.headers('forward', { method: 'GET', rawUrl, to: 'node-b' }))).status).toBe(403);
  });
});

describe('GET /ring', () => {
  it('answers an admin key only', async () => {
    expect((await rawRequest(base, { method: 'GET', path: `${PREFIX}/ring` })).status).toBe(200);
    expect((await rawRequest(base, { method: 'GET', path: `${PREFIX}/ring`, credentials: READER })).status).toBe(403);
    expect((await rawRequest(base, { method: 'GET', path: `${PREFIX}/ring`, unsigned: true })).status).toBe(403);
  });
});
