/**
 * Hostile or broken input through a live gateway: request XML parsed strictly (no key is ever
 * changed by a reference the client did not mean), every parser error a 400, and every client
 * error S3 XML, whatever layer finds it.
 */
import net from 'node:net';
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';
import { rawRequest, signRequest } from '../helpers/raw-request';

let gw: TestGateway;
const Bucket = 'strict';

beforeAll(async () => {
  gw = await startTestGateway();
  await gw.client().send(new CreateBucketCommand({ Bucket }));
});
afterAll(() => gw.close());

const exists = async (Key: string): Promise<boolean> => (await errorCode(gw.client().send(new HeadObjectCommand({ Bucket, Key })))) === 'ok';
const codeIn = (body: string): string | undefined => /<Code>([^<]*)<\/Code>/.exec(body)?.[1];

const deleteObjects = (xml: Buffer | string) =>
  rawRequest(gw.url, { method: 'POST', path: `/${Bucket}`, query: { delete: '' }, body: xml, headers: { 'content-type': 'application/xml' } });

describe('DeleteObjects deletes exactly the keys named, or nothing', () => {
  beforeEach(async () => {
    await gw.client().send(new PutObjectCommand({ Bucket, Key: 'ab', Body: 'keep me' }));
  });

  it.each([
    ['a&#0;b'],
    ['a&#x0;b'],
    ['a&#xD800;b'],
    ['a&nbsp;b'],
    ['a&foo;b'],
  ])('<Key>%s</Key> is MalformedXML and "ab" survives', async (key) => {
    const res = await deleteObjects(`<Delete><Object><Key>${key}</Key></Object></Delete>`);
    expect({ status: res.status, code: codeIn(res.body) }).toEqual({ status: 400, code: 'MalformedXML' });
    expect(await exists('ab')).toBe(true);
  });

  it('invalid UTF-8 in a key is MalformedXML (not U+FFFD)', async () => {
    await gw.client().send(new PutObjectCommand({ Bucket, Key: 'q\uFFFD\uFFFD', Body: 'x' }));
    const res = await deleteObjects(Buffer.concat([Buffer.from('<Delete><Object><Key>q'), Buffer.from([0xff, 0xfe]), Buffer.from('</Key></Object></Delete>')]));
    expect({ status: res.status, code: codeIn(res.body) }).toEqual({ status: 400, code: 'MalformedXML' });
    expect(await exists('q\uFFFD\uFFFD')).toBe(true);
  });

  it('character references that name allowed characters still work (rclone quotes ETags that way)', async () => {
    await gw.client().send(new PutObjectCommand({ Bucket, Key: 'a"b', Body: 'x' }));
    const res = await deleteObjects('<Delete><Object><Key>a&#34;b</Key></Object><Object><Key>&#x61;b</Key></Object></Delete>');
    expect(res.status).toBe(200);
    expect(await exists('a"b')).toBe(false);
    expect(await exists('ab')).toBe(false);
  });
});

describe('malformed XML is 400 MalformedXML, never 500', () => {
  const documents: [string, (root: string) => string][] = [
    ['a DOCTYPE with an external entity', (root) => `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><${root}><Object><Key>&e;</Key></Object></${root}>`],
    ['a DOCTYPE with a huge entity', (root) => `<!DOCTYPE x [<!ENTITY e "${'A'.repeat(200_000)}">]><${root}>&e;&e;&e;</${root}>`],
    ['200-level nesting', (root) => `<${root}>${'<a>'.repeat(200)}${'</a>'.repeat(200)}</${root}>`],
    ['a <__proto__> element', (root) => `<${root}><__proto__><Key>x</Key></__proto__></${root}>`],
    ['a <constructor> element in a part', (root) => `<${root}><Object><Key>k</Key><constructor>1</constructor></Object><Part><PartNumber>1</PartNumber><ETag>e</ETag><constructor/></Part></${root}>`],
    ['a <__proto__> root', () => '<__proto__><Object><Key>k</Key></Object></__proto__>'],
  ];

  it.each(documents)('DeleteObjects: %s', async (_why, doc) => {
    const res = await deleteObjects(doc('Delete'));
    expect({ status: res.status, code: codeIn(res.body) }).toEqual({ status: 400, code: 'MalformedXML' });
  });

  it.each(documents)('CompleteMultipartUpload of an unknown upload id: %s', async (_why, doc) => {
    const res = await rawRequest(gw.url, { method: 'POST', path: `/${Bucket}/k`, query: { uploadId: 'AAAAAAAAAAAAAAAAAAAAAAAA' }, body: doc('CompleteMultipartUpload') });
    expect(res.status).toBe(400);
    expect(codeIn(res.body)).toBe('MalformedXML');
  });

  it.each(documents)('CreateBucket: %s', async (_why, doc) => {
    const res = await rawRequest(gw.url, { method: 'PUT', path: '/strict-new', body: doc('CreateBucketConfiguration') });
    expect({ status: res.status, code: codeIn(res.body) }).toEqual({ status: 400, code: 'MalformedXML' });
  });
});

describe('part numbers are decimal digits everywhere', () => {
  let uploadId: string;
  beforeAll(async () => {
    const created = await rawRequest(gw.url, { method: 'POST', path: `/${Bucket}/mp`, query: { uploads: '' } });
    uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body)![1];
  });

  it.each(['0x1', '1e0', '+1', '1.0', '0', '10001', '-1', ''])('CompleteMultipartUpload <PartNumber>%s</PartNumber> is 400', async (n) => {
    const res = await rawRequest(gw.url, {
      method: 'POST',
      path: `/${Bucket}/mp`,
      query: { uploadId },
      body: `<CompleteMultipartUpload><Part><PartNumber>${n}</PartNumber><ETag>"e"</ETag></Part></CompleteMultipartUpload>`,
    });
    expect(res.status).toBe(400);
    expect(codeIn(res.body)).toBe(n === '' ? 'InvalidArgument' : 'InvalidArgument');
  });

  it.each([
    [{ partNumber: '0x1', uploadId: 'x' }, 'PUT'],
    [{ partNumber: '1e0' }, 'GET'],
  ])('%j on %s is InvalidArgument', async (query, method) => {
    const res = await rawRequest(gw.url, { method, path: `/${Bucket}/mp`, query: query as Record<string, string>, body: method === 'PUT' ? 'x' : undefined });
    expect({ status: res.status, code: codeIn(res.body) }).toEqual({ status: 400, code: 'InvalidArgument' });
  });

  it.each([
    ['part-number-marker', '1e0'],
    ['part-number-marker', '0x1'],
    ['max-parts', '0x1'],
    ['max-parts', '1e3'],
    ['max-parts', '99999999999999999999'],
  ])('ListParts %s=%s is InvalidArgument', async (name, value) => {
    const res = await rawRequest(gw.url, { method: 'GET', path: `/${Bucket}/mp`, query: { uploadId, [name]: value } });
    expect({ status: res.status, code: codeIn(res.body) }).toEqual({ status: 400, code: 'InvalidArgument' });
  });

  it.each([
    [{ 'max-keys': '1e3' }],
    [{ 'max-keys': '0x10', 'list-type': '2' }],
    [{ 'max-keys': '99999999999999999999' }],
    [{ 'max-uploads': '1e1', uploads: '' }],
  ])('listing %j is InvalidArgument', async (query) => {
    const res = await rawRequest(gw.url, { method: 'GET', path: `/${Bucket}`, query });
    expect({ status: res.status, code: codeIn(res.body) }).toEqual({ status: 400, code: 'InvalidArgument' });
  });
});

/** Writes raw bytes on one connection and collects everything the server sends until it closes. */
function rawExchange(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
    socket.setTimeout(15_000, () => socket.destroy(new Error(`no close; got: ${out}`)));
  });
}

describe('every client error is S3 XML', () => {
  it('bytes after the Content-Length of a PUT: the PUT is answered, then the garbage gets an XML 400', async () => {
    const body = 'hello';
    const signed = await signRequest(gw.url, { method: 'PUT', path: `/${Bucket}/extra`, headers: { 'content-length': String(body.length) } });
    const head = [`PUT ${signed.path} HTTP/1.1`, ...Object.entries(signed.headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
    const out = await rawExchange(gw.port, Buffer.from(`${head}${body}GARBAGE NOT HTTP\r\n\r\n`));
    const responses = out.split(/(?=HTTP\/1\.1 )/);
    expect(responses[0]).toMatch(/^HTTP\/1\.1 200/);
    expect(responses[1]).toMatch(/^HTTP\/1\.1 400/);
    expect(responses[1]).toMatch(/content-type: application\/xml/i);
    expect(responses[1]).toMatch(/x-amz-request-id: \w+/i);
    expect(responses[1]).toContain('<Code>InvalidRequest</Code>');
    expect(responses[1]).not.toContain('"statusCode"');
    expect(await exists('extra')).toBe(true);
  });

  it('a request that is not HTTP at all', async () => {
    const out = await rawExchange(gw.port, Buffer.from('\x16\x03\x01 this is not http\r\n\r\n'));
    expect(out).toMatch(/^HTTP\/1\.1 400/);
    expect(out).toContain('<Error><Code>InvalidRequest</Code>');
  });

  it('headers larger than the server takes', async () => {
    const out = await rawExchange(gw.port, Buffer.from(`GET /${Bucket} HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(64 * 1024)}\r\n\r\n`));
    expect(out).toMatch(/^HTTP\/1\.1 400/);
    expect(out).toContain('<Code>InvalidRequest</Code>');
  });

  it('an anonymous job POST without a JSON content type is 403, not 415', async () => {
    const res = await fetch(`${gw.url}/_ringcache/jobs`, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'AccessDenied' });
    const big = await fetch(`${gw.url}/_ringcache/jobs`, { method: 'POST', body: 'x'.repeat(200_000), headers: { 'content-type': 'application/json' } });
    expect(big.status).toBe(403);
  });
});
