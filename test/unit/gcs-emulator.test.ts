/**
 * The GCS emulator speaks the documented JSON API shapes (checked here with plain fetch,
 * independently of @google-cloud/storage): resources, errors, resumable sessions, list
 * paging, media ranges, compose and rewrite, and unknown routes answered 501.
 */
import { createHash } from 'node:crypto';
import { crc32c, crc32cBase64 } from '../emulators/gcs/crc32c';
import { startGcsEmulator, type GcsEmulator } from '../emulators/gcs/gcs-emulator';

let emulator: GcsEmulator;
let api: string;
let upload: string;
const BUCKET = 'emu-bucket';

beforeAll(async () => {
  emulator = await startGcsEmulator({ buckets: [BUCKET], logUnexpected: false });
  api = `${emulator.endpoint}/storage/v1/b/${BUCKET}/o`;
  upload = `${emulator.endpoint}/upload/storage/v1/b/${BUCKET}/o`;
});

afterAll(async () => {
  await emulator?.close();
});

const json = async (response: Response): Promise<Record<string, unknown>> => (await response.json()) as Record<string, unknown>;
const enc = encodeURIComponent;

it('computes CRC32C like GCS (RFC 3720 check value)', () => {
  expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  expect(crc32cBase64(Buffer.from('123456789'))).toBe('4waSgw==');
});

it('media uploads return the documented object resource; errors have the documented body', async () => {
  const data = Buffer.from('hello resource');
  const created = await fetch(`${upload}?uploadType=media&name=${enc('a/b c.txt')}`, { method: 'POST', body: data, headers: { 'content-type': 'text/plain' } });
  expect(created.status).toBe(200);
  const resource = await json(created);
  expect(resource).toMatchObject({
    kind: 'storage#object',
    name: 'a/b c.txt',
    bucket: BUCKET,
    contentType: 'text/plain',
    size: String(data.length),
    metageneration: '1',
    md5Hash: createHash('md5').update(data).digest('base64'),
    crc32c: crc32cBase64(data),
    storageClass: 'STANDARD',
  });
  expect(resource.id).toBe(`${BUCKET}/a/b c.txt/${resource.generation}`);
  expect(resource.generation).toMatch(/^\d+$/);
  expect(new Date(String(resource.updated)).toISOString()).toBe(resource.updated);
  expect(await json(await fetch(`${api}/${enc('a/b c.txt')}`))).toEqual(resource);

  const missing = await fetch(`${api}/${enc('nope')}`);
  expect(missing.status).toBe(404);
  expect(await json(missing)).toEqual({
    error: { code: 404, message: `No such object: ${BUCKET}/nope`, errors: [{ domain: 'global', reason: 'notFound', message: `No such object: ${BUCKET}/nope` }] },
  });
  const conflict = await fetch(`${upload}?uploadType=media&name=${enc('a/b c.txt')}&ifGenerationMatch=0`, { method: 'POST', body: 'x' });
  expect(conflict.status).toBe(412);
  expect(((await json(conflict)).error as { errors: Array<{ reason: string }> }).errors[0].reason).toBe('conditionNotMet');
});

it('multipart/related uploads verify a given md5Hash', async () => {
  const boundary = 'xyz';
  const make = (md5: string): Buffer =>
    Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify({ name: 'mp', md5Hash: md5, metadata: { k: 'v' } })}\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Type: application/x-bin\r\n\r\n`),
      Buffer.from([0, 1, 2, 13, 10, 3]),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
  const headers = { 'content-type': `multipart/related; boundary=${boundary}` };
  const good = createHash('md5').update(Buffer.from([0, 1, 2, 13, 10, 3])).digest('base64');
  const bad = await fetch(`${upload}?uploadType=multipart`, { method: 'POST', body: make(createHash('md5').update('x').digest('base64')), headers });
  expect(bad.status).toBe(400);
  expect(emulator.getObject(BUCKET, 'mp')).toBeUndefined();
  const ok = await fetch(`${upload}?uploadType=multipart`, { method: 'POST', body: make(good), headers });
  expect(await json(ok)).toMatchObject({ name: 'mp', contentType: 'application/x-bin', size: '6', metadata: { k: 'v' } });
});

it('resumable sessions: Location, 308 with Range, status query, final chunk with the total', async () => {
  const start = await fetch(`${upload}?uploadType=resumable&name=big`, {
    method: 'POST',
    body: JSON.stringify({ metadata: { a: '1' } }),
    headers: { 'content-type': 'application/json', 'x-upload-content-type': 'application/x-big' },
  });
  expect(start.status).toBe(200);
  const session = start.headers.get('location') as string;
  expect(session).toMatch(/upload_id=/);
  const first = Buffer.alloc(256 * 1024, 1);
  const chunk1 = await fetch(session, { method: 'PUT', body: first, headers: { 'content-range': `bytes 0-${first.length - 1}/*` } });
  expect(chunk1.status).toBe(308);
  expect(chunk1.headers.get('range')).toBe(`bytes=0-${first.length - 1}`);
  const status = await fetch(session, { method: 'PUT', headers: { 'content-range': 'bytes */*' } });
  expect([status.status, status.headers.get('range')]).toEqual([308, `bytes=0-${first.length - 1}`]);
  expect(emulator.getObject(BUCKET, 'big')).toBeUndefined();
  const last = Buffer.from('tail');
  const total = first.length + last.length;
  const done = await fetch(session, { method: 'PUT', body: last, headers: { 'content-range': `bytes ${first.length}-${total - 1}/${total}` } });
  expect(done.status).toBe(200);
  expect(await json(done)).toMatchObject({ name: 'big', size: String(total), contentType: 'application/x-big', metadata: { a: '1' } });
  // A single streaming request of unknown length is final when it completes.
  const streaming = (await fetch(`${upload}?uploadType=resumable&name=streamed`, { method: 'POST' })).headers.get('location') as string;
  expect((await fetch(streaming, { method: 'PUT', body: 'all at once', headers: { 'content-range': 'bytes 0-*/*' } })).status).toBe(200);
  expect(emulator.getObject(BUCKET, 'streamed')?.data.toString()).toBe('all at once');
});

it('media downloads honour Range and generation', async () => {
  const object = emulator.putObject(BUCKET, 'ranged', '0123456789');
  const partial = await fetch(`${api}/ranged?alt=media`, { headers: { range: 'bytes=2-4' } });
  expect([partial.status, partial.headers.get('content-range'), await partial.text()]).toEqual([206, 'bytes 2-4/10', '234']);
  expect(await (await fetch(`${api}/ranged?alt=media`, { headers: { range: 'bytes=-3' } })).text()).toBe('789');
  expect((await fetch(`${api}/ranged?alt=media`, { headers: { range: 'bytes=10-' } })).status).toBe(416);
  const pinned = await fetch(`${api}/ranged?alt=media&generation=${object.generation}`);
  expect(pinned.headers.get('x-goog-generation')).toBe(object.generation);
  expect(pinned.headers.get('x-goog-hash')).toBe(`crc32c=${object.crc32c},md5=${object.md5Hash}`);
  emulator.putObject(BUCKET, 'ranged', 'replaced');
  expect((await fetch(`${api}/ranged?alt=media&generation=${object.generation}`)).status).toBe(404);
});

it('lists with prefix, delimiter, startOffset and pages of maxResults', async () => {
  for (const name of ['l/a', 'l/b/1', 'l/b/2', 'l/c', 'l/d/', 'l/e']) emulator.putObject(BUCKET, name, name);
  const all = await json(await fetch(`${api}?prefix=l%2F&delimiter=%2F`));
  expect(all.kind).toBe('storage#objects');
  expect((all.items as Array<{ name: string }>).map((i) => i.name)).toEqual(['l/a', 'l/c', 'l/e']);
  expect(all.prefixes).toEqual(['l/b/', 'l/d/']);
  expect(all.nextPageToken).toBeUndefined();

  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await json(await fetch(`${api}?prefix=l%2F&delimiter=%2F&maxResults=2${token ? `&pageToken=${enc(token)}` : ''}`));
    seen.push(...((page.items as Array<{ name: string }> | undefined) ?? []).map((i) => i.name), ...((page.prefixes as string[] | undefined) ?? []));
    token = page.nextPageToken as string | undefined;
    pages++;
  } while (token);
  expect(pages).toBe(3);
  expect(seen.sort()).toEqual(['l/a', 'l/b/', 'l/c', 'l/d/', 'l/e']);
  const offset = await json(await fetch(`${api}?prefix=l%2F&startOffset=${enc('l/c')}`));
  expect((offset.items as Array<{ name: string }>).map((i) => i.name)).toEqual(['l/c', 'l/d/', 'l/e']);
});

it('composes up to 32 sources into a composite object without md5Hash', async () => {
  emulator.putObject(BUCKET, 'c1', 'abc');
  const second = emulator.putObject(BUCKET, 'c2', 'def');
  const composed = await fetch(`${api}/composed/compose`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sourceObjects: [{ name: 'c1' }, { name: 'c2', generation: second.generation }], destination: { contentType: 'text/x-c', metadata: { m: '1' } } }),
  });
  const resource = await json(composed);
  expect(resource).toMatchObject({ name: 'composed', size: '6', componentCount: 2, contentType: 'text/x-c', crc32c: crc32cBase64(Buffer.from('abcdef')), metadata: { m: '1' } });
  expect(resource.md5Hash).toBeUndefined();
  const tooMany = await fetch(`${api}/x/compose`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sourceObjects: Array.from({ length: 33 }, () => ({ name: 'c1' })), destination: {} }),
  });
  expect(tooMany.status).toBe(400);
  const stale = await fetch(`${api}/x/compose`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sourceObjects: [{ name: 'c2', objectPreconditions: { ifGenerationMatch: '1' } }], destination: {} }),
  });
  expect(stale.status).toBe(412);
  // A JSON body must be sent as JSON (the client library always does).
  const untyped = await fetch(`${api}/x/compose`, { method: 'POST', body: JSON.stringify({ sourceObjects: [{ name: 'c1' }] }) });
  expect(untyped.status).toBe(400);
  expect(emulator.getObject(BUCKET, 'x')).toBeUndefined();
});

it('rewrites keep the source metadata unless the body overrides it', async () => {
  emulator.putObject(BUCKET, 'src', 'data', { contentType: 'text/a', cacheControl: 'no-store', metadata: { a: '1', b: '2' } });
  const kept = await json(await fetch(`${api}/src/rewriteTo/b/${BUCKET}/o/kept`, { method: 'POST' }));
  expect(kept).toMatchObject({ kind: 'storage#rewriteResponse', done: true, objectSize: '4', resource: { name: 'kept', contentType: 'text/a', cacheControl: 'no-store', metadata: { a: '1', b: '2' } } });
  const changed = await json(
    await fetch(`${api}/src/rewriteTo/b/${BUCKET}/o/changed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contentType: 'text/b', cacheControl: null, metadata: { a: null, c: '3' } }),
    }),
  );
  const resource = changed.resource as Record<string, unknown>;
  expect(resource).toMatchObject({ contentType: 'text/b', metadata: { b: '2', c: '3' } });
  expect(resource.cacheControl).toBeUndefined();
});

it('answers unknown routes with 501 and records them', async () => {
  const response = await fetch(`${emulator.endpoint}/storage/v1/b/${BUCKET}/acl`);
  expect(response.status).toBe(501);
  expect(emulator.unexpected).toEqual([`GET /storage/v1/b/${BUCKET}/acl`]);
});
