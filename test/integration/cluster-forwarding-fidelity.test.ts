/**
 * Byte-faithful forwarding (issue #13, defect 2): the headers SDKs sign reach the owner as signed,
 * for every method, through a node that does not own the key. Each request is signed with
 * SigV4 by hand, with every header an SDK may sign for it forced into SignedHeaders (the AWS SDK
 * for Java v1 and S3A sign everything but Connection; botocore all but Expect and User-Agent;
 * the JS SDK all but its unsignable list), and sent over a raw socket exactly as built: a
 * `Content-Length: 0` on GET, HEAD and DELETE (as S3A sends it), `Expect: 100-continue` on
 * PUT and UploadPart (the body only after the owner's 100 Continue), header names in mixed case. Each answer through the non-owner must equal the answer through the owner itself.
 *
 * Before the fix, undici dropped the signed `Content-Length: 0` of bodiless methods and the
 * forwarder stripped `Expect` as hop-by-hop: the owner answered 403 SignatureDoesNotMatch.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { ringKey } from '../../src/cluster/cluster-node';
import { buildRing } from '../../src/cluster/ring';
import { NodeSha256 } from '../../src/s3/auth/sha256';
import { ADMIN } from '../helpers/gateway';
import { startTestCluster, waitForRings, type NodeProcess, type TestCluster } from '../helpers/cluster-processes';

jest.setTimeout(120_000);

const BUCKET = 'fidelity';
const ring = buildRing(['node-a', 'node-b', 'node-c']);
const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: ADMIN, sha256: NodeSha256, uriEscapePath: false });
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('base64');
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** An interim 100 Continue came before the final answer. */
  continued: boolean;
}

interface Case {
  name: string;
  method: string;
  /** Key under the bucket (the node owning it decides who forwards). */
  key: string;
  query?: Record<string, string>;
  /** Headers as sent, names in the case given; every one of them is signed. */
  headers: Record<string, string | string[]>;
  body?: Buffer;
  expected: number;
}

/** Signs every header given (values of repeated headers joined as SigV4 does) and sends them exactly so. */
async function send(node: NodeProcess, c: Case): Promise<Answer> {
  const { host, hostname, port } = new URL(node.url);
  const path = `/${BUCKET}/${c.key}`;
  const flat: Record<string, string> = { host };
  for (const [name, value] of Object.entries(c.headers)) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  const signed = await signer.sign(new HttpRequest({ method: c.method, protocol: 'http:', hostname, port: Number(port), path, query: c.query ?? {}, headers: flat }), {
    signableHeaders: new Set(Object.keys(flat)),
  });
  const authorization = signed.headers.authorization;
  const amzDate = signed.headers['x-amz-date'];
  const signedNames = /SignedHeaders=([^,]+)/.exec(authorization)?.[1].split(';') ?? [];
  expect(signedNames).toEqual(expect.arrayContaining(Object.keys(flat)));
  const search = new URLSearchParams(c.query ?? {}).toString().replace(/\+/g, '%20');
  const rawHeaders: string[] = ['Host', host, 'Authorization', authorization, 'X-Amz-Date', amzDate];
  for (const [name, value] of Object.entries(c.headers)) for (const v of Array.isArray(value) ? value : [value]) rawHeaders.push(name, v);
  return new Promise<Answer>((resolve, reject) => {
    let continued = false;
    const req = http.request({ host: hostname, port, method: c.method, path: search ? `${path}?${search}` : path, headers: rawHeaders, setHost: false, agent: false });
    req.on('continue', () => {
      continued = true;
      req.end(c.body);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), continued }));
      res.on('error', reject);
    });
    req.on('error', reject);
    const expectsContinue = Object.keys(c.headers).some((h) => h.toLowerCase() === 'expect');
    if (!expectsContinue) req.end(c.body);
    else req.flushHeaders();
  });
}

describe('signed headers reach the owner as signed, through a non-owner, for every method', () => {
  let cluster: TestCluster;
  let owner: NodeProcess;
  let forwarder: NodeProcess;
  const ownedByC = (prefix: string): string => {
    for (let i = 0; ; i++) if (ring.owner(ringKey(BUCKET, `${prefix}-${i}`)) === 'node-c') return `${prefix}-${i}`;
  };
  const key = ownedByC('obj');
  const body = randomBytes(64 * 1024);
  const part = randomBytes(32 * 1024);
  let uploadId = '';
  let etag = '';

  beforeAll(async () => {
    cluster = await startTestCluster(3);
    await waitForRings(cluster.nodes, 3);
    await cluster.client(cluster.nodes[0]).send(new CreateBucketCommand({ Bucket: BUCKET }));
    owner = cluster.nodes[2];
    forwarder = cluster.nodes[0];
  });
  afterAll(() => cluster?.stop());

  /** Every SDK-signable header of a PUT with a body. */
  const putHeaders = (b: Buffer, extra: Record<string, string | string[]> = {}): Record<string, string | string[]> => ({
    'Content-Length': String(b.length),
    'Content-Type': 'application/octet-stream',
    'Content-MD5': md5(b),
    'x-amz-content-sha256': sha256(b),
    Expect: '100-continue',
    'User-Agent': 'aws-sdk-java/1.12.0 Linux/6.1 OpenJDK_64-Bit_Server_VM/17 java/17 vendor/Debian cfg/retry-mode/legacy',
    'Cache-Control': 'no-cache',
    'Content-Disposition': 'attachment; filename="x.bin"',
    'x-amz-meta-Colour': 'blue',
    'amz-sdk-invocation-id': '8f1c6a3e-2b7d-4d0a-9a3e-1f0c2b7d4d0a',
    'amz-sdk-request': 'attempt=1;max=3',
    ...extra,
  });
  /** Every SDK-signable header of a bodiless request, with S3A's signed Content-Length: 0. */
  const bodiless = (extra: Record<string, string> = {}): Record<string, string> => ({
    'Content-Length': '0',
    'Content-Type': 'application/octet-stream',
    'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
    'User-Agent': 'Hadoop 3.3.6, aws-sdk-java/1.12.599',
    'amz-sdk-invocation-id': '0f1c6a3e-2b7d-4d0a-9a3e-1f0c2b7d4d0b',
    'amz-sdk-retry': '0/0/500',
    ...extra,
  });

  /** Sends the case to the owner and to the non-owner; both must give the expected status and the same answer. */
  async function both(c: Case, compare: (through: Answer, direct: Answer) => void = () => undefined): Promise<Answer> {
    const direct = await send(owner, c);
    const through = await send(forwarder, c);
    const error = (a: Answer): string => (a.status >= 300 ? a.body.toString().slice(0, 300) : '');
    expect({ case: c.name, direct: direct.status, through: through.status, directError: error(direct), error: error(through) }).toMatchObject({ direct: c.expected, through: c.expected });
    compare(through, direct);
    return through;
  }

  it('PUT (PutObject) with signed Expect: 100-continue, Content-MD5, User-Agent and metadata', async () => {
    const answer = await both({ name: 'PutObject', method: 'PUT', key, headers: putHeaders(body), body, expected: 200 });
    expect(answer.continued).toBe(true);
    etag = answer.headers.etag as string;
    expect(etag).toBe(`"${createHash('md5').update(body).digest('hex')}"`);
  });

  it('GET (GetObject) with a signed Content-Length: 0, a range and a conditional header', async () => {
    await both({ name: 'GetObject', method: 'GET', key, headers: bodiless({ Range: 'bytes=100-4195', 'If-Match': etag }), expected: 206 }, (through, direct) => {
      expect(through.body.equals(body.subarray(100, 4196))).toBe(true);
      expect(through.body.equals(direct.body)).toBe(true);
      expect(through.headers['x-amz-meta-colour']).toBe('blue');
    });
    await both({ name: 'GetObject 304', method: 'GET', key, headers: bodiless({ 'If-None-Match': etag }), expected: 304 });
  });

  it('HEAD (HeadObject) with a signed Content-Length: 0', async () => {
    await both({ name: 'HeadObject', method: 'HEAD', key, headers: bodiless(), expected: 200 }, (through, direct) => {
      expect(through.headers['content-length']).toBe(String(body.length));
      expect(through.headers['content-length']).toBe(direct.headers['content-length']);
      expect(through.headers.etag).toBe(etag);
    });
  });

  it('PUT (CopyObject) with a signed x-amz-copy-source and Content-Length: 0', async () => {
    await both({ name: 'CopyObject', method: 'PUT', key: `${key}-copy`, headers: bodiless({ 'x-amz-copy-source': `/${BUCKET}/${key}`, 'x-amz-metadata-directive': 'COPY' }), expected: 200 });
  });

  it('POST (CreateMultipartUpload), PUT (UploadPart) with Expect, POST (CompleteMultipartUpload) with a signed XML body', async () => {
    const created = await send(forwarder, { name: 'CreateMultipartUpload', method: 'POST', key, query: { uploads: '' }, headers: bodiless({ 'x-amz-meta-stage': 'multipart' }), expected: 200 });
    expect(created.status).toBe(200);
    uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body.toString())?.[1] as string;
    expect(uploadId).toBeTruthy();
    const uploaded = await send(forwarder, { name: 'UploadPart', method: 'PUT', key, query: { partNumber: '1', uploadId }, headers: putHeaders(part), body: part, expected: 200 });
    expect({ status: uploaded.status, continued: uploaded.continued, body: uploaded.body.toString() }).toMatchObject({ status: 200, continued: true });
    const xml = Buffer.from(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${uploaded.headers.etag as string}</ETag></Part></CompleteMultipartUpload>`);
    const completed = await send(forwarder, {
      name: 'CompleteMultipartUpload',
      method: 'POST',
      key,
      query: { uploadId },
      headers: { 'Content-Length': String(xml.length), 'Content-Type': 'application/xml', 'x-amz-content-sha256': sha256(xml), 'User-Agent': 'aws-sdk-java/1.12.599' },
      body: xml,
      expected: 200,
    });
    expect({ status: completed.status, body: completed.body.toString() }).toMatchObject({ status: 200, body: expect.stringContaining('<CompleteMultipartUploadResult') });
  });

  it('DELETE (DeleteObject) with a signed Content-Length: 0', async () => {
    const copy = `${key}-copy`;
    expect(ring.owner(ringKey(BUCKET, copy))).not.toBe('node-a');
    const deleted = await send(forwarder, { name: 'DeleteObject', method: 'DELETE', key: copy, headers: bodiless(), expected: 204 });
    expect({ status: deleted.status, body: deleted.body.toString() }).toMatchObject({ status: 204 });
    const again = await send(owner, { name: 'DeleteObject', method: 'DELETE', key: `${key}-copy`, headers: bodiless(), expected: 204 });
    expect(again.status).toBe(204);
  });

  it('the answer carries the forwarding node\'s request id, and the owner logged the same one', async () => {
    const answer = await send(forwarder, { name: 'HeadObject', method: 'HEAD', key, headers: bodiless(), expected: 200 });
    expect(answer.headers['x-amz-request-id']).toMatch(/^[0-9A-F]{16}$/);
    // A bad request the owner refuses: its XML error names the same request id.
    const refused = await send(forwarder, { name: 'GetObject', method: 'GET', key: ownedByC('missing'), headers: bodiless(), expected: 404 });
    expect(refused.status).toBe(404);
    expect(refused.body.toString()).toContain(`<RequestId>${refused.headers['x-amz-request-id'] as string}</RequestId>`);
  });
});
