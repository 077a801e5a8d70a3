/**
 * aws-chunked bodies through createBodyVerifier: signed bodies encoded here with real chunk
 * signatures (SignatureV4.sign of each chunk's string-to-sign, seeded with the signature of headers
 * signed by SignatureV4), unsigned-trailer bodies encoded by the real S3 client, and the chunked
 * upload example of the AWS documentation.
 */
import { createHash } from 'node:crypto';
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PutObjectCommand, type ChecksumAlgorithm as SdkChecksumAlgorithm } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { createBodyVerifier, createChecksum, type AuthInput, type BodyVerifier, type ChecksumAlgorithm, type PayloadMode, Authenticator, type SecretLookup } from '../../src/s3/auth';

/** Authenticator.authenticate as a promise, so a throw reads as a rejection in these tests. */
const authenticate = async (input: AuthInput, lookup: SecretLookup) => new Authenticator(lookup).authenticate(input);
import { AwsChunkedDecoder } from '../../src/s3/auth/aws-chunked-decoder';
import { ChunkSignatureChain } from '../../src/s3/auth/chunk-signature';
import { S3Error } from '../../src/s3/errors';
import { capturingS3Client, TestSha256 } from '../helpers/sigv4';

const AKID = 'AKIDCHUNKED';
const SECRET = 'chunked/secret+KEY';
const secrets: Record<string, string> = { [AKID]: SECRET, AKIAIOSFODNN7EXAMPLE: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const lookup = (id: string) => secrets[id];
const DATE = new Date('2026-02-03T04:05:06Z');
const AMZ_DATE = '20260203T040506Z';
const REGION = 'eu-central-1';
const SCOPE = `20260203/${REGION}/s3/aws4_request`;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const sha256Hex = (d: string | Buffer) => createHash('sha256').update(d).digest('hex');

const signer = (secret = SECRET) =>
  new SignatureV4({
    service: 's3',
    region: REGION,
    credentials: { accessKeyId: AKID, secretAccessKey: secret },
    sha256: TestSha256,
    uriEscapePath: false,
    applyChecksum: true,
  });

/** Headers of a streaming upload signed with SignatureV4, as received; the seed is its signature. */
async function streamingRequest(opts: { trailer?: string; decodedLength?: number; unsignedTrailer?: boolean } = {}): Promise<AuthInput> {
  const contentSha256 = opts.unsignedTrailer
    ? 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'
    : opts.trailer
      ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'
      : 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
  const headers: Record<string, string> = {
    host: '127.0.0.1:9000',
    'content-encoding': 'aws-chunked',
    'x-amz-content-sha256': contentSha256,
  };
  if (opts.decodedLength !== undefined) headers['x-amz-decoded-content-length'] = String(opts.decodedLength);
  if (opts.trailer) headers['x-amz-trailer'] = opts.trailer;
  const request = new HttpRequest({ method: 'PUT', hostname: '127.0.0.1', port: 9000, path: '/bucket/chunked%20key', headers });
  const s = await signer().sign(request, { signingDate: DATE });
  return { method: 'PUT', rawUrl: '/bucket/chunked%20key', headers: s.headers as Record<string, string>, now: DATE };
}

const seedOf = (input: AuthInput) => /Signature=([0-9a-f]{64})/.exec(String(input.headers.authorization))![1]!;

/** Signs one chunk the way a streaming SigV4 client does, with the library's string signer. */
function signChunk(previous: string, data: Buffer, secret = SECRET): Promise<string> {
  const stringToSign = ['AWS4-HMAC-SHA256-PAYLOAD', AMZ_DATE, SCOPE, previous, EMPTY_SHA256, sha256Hex(data)].join('\n');
  return signer(secret).sign(stringToSign, { signingDate: DATE, signingRegion: REGION, signingService: 's3' });
}

interface Trailer {
  name: string;
  value: string;
}

/** Encodes a STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] body with real chunk (and trailer) signatures. */
async function encodeSigned(seed: string, chunks: Buffer[], trailers?: Trailer[], secret = SECRET): Promise<Buffer> {
  const parts: Buffer[] = [];
  let previous = seed;
  for (const data of [...chunks, Buffer.alloc(0)]) {
    const signature = await signChunk(previous, data, secret);
    parts.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${signature}\r\n`));
    if (data.length > 0) parts.push(data, Buffer.from('\r\n'));
    previous = signature;
  }
  if (trailers) {
    const lines = trailers.map((t) => `${t.name}:${t.value}\n`).join('');
    const stringToSign = ['AWS4-HMAC-SHA256-TRAILER', AMZ_DATE, SCOPE, previous, sha256Hex(lines)].join('\n');
    const signature = await signer(secret).sign(stringToSign, { signingDate: DATE, signingRegion: REGION, signingService: 's3' });
    for (const t of trailers) parts.push(Buffer.from(`${t.name}:${t.value}\r\n`));
    parts.push(Buffer.from(`x-amz-trailer-signature:${signature}\r\n`));
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** Encodes a STREAMING-UNSIGNED-PAYLOAD-TRAILER body as the AWS SDK does. */
function encodeUnsigned(chunks: Buffer[], trailers: Trailer[] = []): Buffer {
  const parts: Buffer[] = [];
  for (const data of chunks) parts.push(Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n'));
  parts.push(Buffer.from('0\r\n'));
  for (const t of trailers) parts.push(Buffer.from(`${t.name}:${t.value}\r\n`));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** Deterministic fragment sizes in [min, max]. */
function fragmenter(min: number, max: number, seed = 42): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return min + Math.floor(r * (max - min + 1));
  };
}

function fragments(body: Buffer, next?: () => number): Buffer[] {
  if (!next) return [body];
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; ) {
    const n = next();
    out.push(body.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** Pipes `body` (split into network-like fragments) through `verifier`; returns what came out and the error, if any. */
async function run(verifier: Transform, body: Buffer, next?: () => number): Promise<{ output: Buffer; error?: S3Error }> {
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk);
      cb();
    },
  });
  let error: S3Error | undefined;
  try {
    await pipeline(Readable.from(fragments(body, next)), verifier, sink);
  } catch (err) {
    expect(err).toBeInstanceOf(S3Error);
    error = err as S3Error;
  }
  return { output: Buffer.concat(out), error };
}

function verifierFor(payload: PayloadMode, input: AuthInput): BodyVerifier {
  const v = createBodyVerifier(payload, input.headers);
  expect(v).toBeDefined();
  return v!;
}

/** Where the data of chunk `index` starts in an encoded signed body. */
function dataOffset(body: Buffer, index: number): number {
  let pos = 0;
  for (let i = 0; ; i++) {
    const lineEnd = body.indexOf('\r\n', pos);
    if (i === index) return lineEnd + 2;
    const size = parseInt(body.toString('latin1', pos, body.indexOf(';', pos)), 16);
    pos = lineEnd + 2 + size + 2;
  }
}

const bytes = (n: number, seed = 1) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
};

async function signedSetup(chunks: Buffer[], opts: { trailer?: string; decodedLength?: number | null } = {}) {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const input = await streamingRequest({ trailer: opts.trailer, decodedLength: opts.decodedLength === null ? undefined : (opts.decodedLength ?? total) });
  const auth = await authenticate(input, lookup);
  expect(auth).toMatchObject({ kind: 'signed', accessKeyId: AKID, payload: { kind: 'streaming-signed', seedSignature: seedOf(input) } });
  return { input, payload: auth.payload, seed: seedOf(input), data: Buffer.concat(chunks) };
}

describe('createBodyVerifier: STREAMING-AWS4-HMAC-SHA256-PAYLOAD', () => {
  const chunks = [bytes(65536, 1), bytes(1, 2), bytes(1000, 3), bytes(65536, 4), bytes(7, 5)];

  it.each([
    ['in one piece', undefined],
    ['in 1-7 byte fragments', fragmenter(1, 7)],
    ['in 1-3 byte fragments', fragmenter(1, 3, 7)],
    ['in 100-5000 byte fragments', fragmenter(100, 5000)],
  ])('decodes and verifies every chunk %s', async (_name, next) => {
    const { input, payload, seed, data } = await signedSetup(chunks);
    const body = await encodeSigned(seed, chunks);
    const v = verifierFor(payload, input);
    const { output, error } = await run(v, body, next);
    expect(error).toBeUndefined();
    expect(output.equals(data)).toBe(true);
    expect(v.trailingChecksum()).toBeUndefined();
  });

  it('decodes an empty body (just the final chunk)', async () => {
    const { input, payload, seed } = await signedSetup([]);
    const { output, error } = await run(verifierFor(payload, input), await encodeSigned(seed, []), fragmenter(1, 2));
    expect(error).toBeUndefined();
    expect(output.length).toBe(0);
  });

  it('rejects a tampered chunk byte with SignatureDoesNotMatch, emitting only verified chunks', async () => {
    const { input, payload, seed } = await signedSetup(chunks);
    const body = await encodeSigned(seed, chunks);
    // A byte in the middle of the third chunk's data.
    const tamperAt = dataOffset(body, 2) + 500;
    const tampered = Buffer.from(body);
    tampered[tamperAt] = tampered[tamperAt]! ^ 0x01;
    const { output, error } = await run(verifierFor(payload, input), tampered, fragmenter(1, 7));
    expect(error?.code).toBe('SignatureDoesNotMatch');
    expect(error?.status).toBe(403);
    // Chunks one and two were verified and emitted; nothing of the tampered chunk was.
    expect(output.equals(Buffer.concat(chunks.slice(0, 2)))).toBe(true);
  });

  it('rejects tampered, swapped or foreign signatures', async () => {
    const { input, payload, seed } = await signedSetup(chunks);
    const body = await encodeSigned(seed, chunks);
    const sigs = [...body.toString('latin1').matchAll(/chunk-signature=([0-9a-f]{64})/g)].map((m) => m[1]!);
    expect(sigs).toHaveLength(chunks.length + 1);
    const flip = (sig: string) => sig.slice(0, 10) + (sig[10] === '0' ? '1' : '0') + sig.slice(11);
    const cases = [
      body.toString('latin1').replace(sigs[1]!, flip(sigs[1]!)),
      body.toString('latin1').replace(sigs[sigs.length - 1]!, flip(sigs[sigs.length - 1]!)), // the final, empty chunk
      body.toString('latin1').replace(sigs[0]!, sigs[1]!),
    ];
    for (const text of cases) {
      const { error } = await run(verifierFor(payload, input), Buffer.from(text, 'latin1'));
      expect(error?.code).toBe('SignatureDoesNotMatch');
    }
    // Chunks signed from another request's seed, or with another secret.
    const other = await streamingRequest({ decodedLength: 1 });
    const foreign = await encodeSigned(seedOf(other), chunks);
    expect((await run(verifierFor(payload, input), foreign)).error?.code).toBe('SignatureDoesNotMatch');
    const wrongSecret = await encodeSigned(seed, chunks, undefined, 'other-secret');
    expect((await run(verifierFor(payload, input), wrongSecret)).error?.code).toBe('SignatureDoesNotMatch');
  });

  it('rejects chunks in the wrong order', async () => {
    const two = [bytes(10, 1), bytes(20, 2)];
    const { input, payload, seed } = await signedSetup(two);
    const body = (await encodeSigned(seed, two)).toString('latin1');
    const [first, second] = body.split(/(?=[0-9a-f]+;chunk-signature)/);
    const swapped = Buffer.from(body.replace(first! + second!, second! + first!), 'latin1');
    expect((await run(verifierFor(payload, input), swapped)).error?.code).toBe('SignatureDoesNotMatch');
  });

  it('checks x-amz-decoded-content-length (IncompleteBody)', async () => {
    const total = chunks.reduce((n, c) => n + c.length, 0);
    for (const declared of [total - 1, total + 1, 0]) {
      const { input, payload, seed } = await signedSetup(chunks, { decodedLength: declared });
      const { error } = await run(verifierFor(payload, input), await encodeSigned(seed, chunks), fragmenter(1, 7));
      expect(error?.code).toBe('IncompleteBody');
    }
    // Without the header the length is not checked.
    const { input, payload, seed } = await signedSetup(chunks, { decodedLength: null });
    expect((await run(verifierFor(payload, input), await encodeSigned(seed, chunks))).error).toBeUndefined();
  });

  it('rejects truncated bodies with IncompleteBody and broken framing with InvalidRequest', async () => {
    const { input, payload, seed } = await signedSetup(chunks);
    const body = await encodeSigned(seed, chunks);
    for (const cut of [0, 10, 90, 5000, body.length - 1, body.length - 2]) {
      const { error } = await run(verifierFor(payload, input), body.subarray(0, cut), fragmenter(1, 7));
      expect(error?.code).toBe('IncompleteBody');
    }
    const text = body.toString('latin1');
    const broken = [
      text.replace(/^10000;/, 'zz;'),
      text.replace(/^10000;chunk-signature=/, '10000;signature='),
      text.replace(/^10000;chunk-signature=([0-9a-f]+)\r\n/, '10000;chunk-signature=$1\n'),
      `${text}extra`,
      text.replace(/\r\n\r\n$/, '\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n'), // trailers without -TRAILER
    ];
    for (const b of broken) {
      const { error } = await run(verifierFor(payload, input), Buffer.from(b, 'latin1'));
      expect(error?.code).toBe('InvalidRequest');
    }
  });

  it('rejects a chunk whose declared size is off by one', async () => {
    const { input, payload, seed } = await signedSetup(chunks);
    const text = (await encodeSigned(seed, chunks)).toString('latin1');
    // One byte too long: the chunk data read is not what was signed.
    const longer = Buffer.from(text.replace(/^10000;/, '10001;'), 'latin1');
    expect((await run(verifierFor(payload, input), longer)).error?.code).toBe('SignatureDoesNotMatch');
    const shorter = Buffer.from(text.replace(/^10000;/, 'ffff;'), 'latin1');
    expect((await run(verifierFor(payload, input), shorter)).error?.code).toBe('SignatureDoesNotMatch');
  });

  it('holds a chunk until verified up to 8 MiB, and streams larger chunks through', async () => {
    const big = [bytes(9 * 1024 * 1024, 9), bytes(3, 3)];
    const { input, payload, seed, data } = await signedSetup(big);
    const { output, error } = await run(verifierFor(payload, input), await encodeSigned(seed, big), fragmenter(30000, 70000));
    expect(error).toBeUndefined();
    expect(output.equals(data)).toBe(true);

    // With a tiny hold limit, a tampered chunk's bytes are emitted before its signature is checked,
    // and the stream still errors (so the storage layer discards the upload).
    const small = [bytes(4096, 1), bytes(4096, 2)];
    const setup = await signedSetup(small);
    const body = await encodeSigned(setup.seed, small);
    body[body.length - 200] ^= 0xff; // inside the second chunk
    if (setup.payload.kind !== 'streaming-signed') throw new Error('unexpected payload');
    const decoder = new AwsChunkedDecoder({ signatures: ChunkSignatureChain.create(setup.payload), trailer: false, maxVerifiedChunkBytes: 1024 });
    const { output: streamed, error: streamedError } = await run(decoder, body, fragmenter(100, 300));
    expect(streamedError?.code).toBe('SignatureDoesNotMatch');
    expect(streamed.length).toBe(8192);
  });

  it('verifies the AWS documentation chunked upload example (known answer)', async () => {
    const input: AuthInput = {
      method: 'PUT',
      rawUrl: '/examplebucket/chunkObject.txt',
      headers: {
        host: 's3.amazonaws.com',
        'x-amz-date': '20130524T000000Z',
        'x-amz-storage-class': 'REDUCED_REDUNDANCY',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': '66560',
        'content-length': '66824',
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,' +
          'SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,' +
          'Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
      },
      now: new Date('2013-05-24T00:00:30Z'),
    };
    const auth = await authenticate(input, lookup);
    expect(auth).toMatchObject({ kind: 'signed', payload: { kind: 'streaming-signed', trailer: false, region: 'us-east-1' } });
    const body = Buffer.concat([
      Buffer.from('10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n'),
      Buffer.alloc(65536, 'a'),
      Buffer.from('\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n'),
      Buffer.alloc(1024, 'a'),
      Buffer.from('\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n'),
    ]);
    expect(body.length).toBe(66824);
    const { output, error } = await run(verifierFor(auth.payload, input), body, fragmenter(1, 4096));
    expect(error).toBeUndefined();
    expect(output.equals(Buffer.alloc(66560, 'a'))).toBe(true);
  });
});

describe('createBodyVerifier: STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', () => {
  const chunks = [bytes(65536, 1), bytes(1, 2), bytes(333, 3)];
  const data = Buffer.concat(chunks);

  async function digest(alg: ChecksumAlgorithm, d: Buffer): Promise<string> {
    const c = createChecksum(alg);
    c.update(d);
    return c.digestBase64();
  }

  it.each(['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const)('verifies a %s trailer and exposes it', async (alg) => {
    const name = `x-amz-checksum-${alg.toLowerCase()}`;
    const { input, payload, seed } = await signedSetup(chunks, { trailer: name });
    expect(payload).toMatchObject({ kind: 'streaming-signed', trailer: true });
    const value = await digest(alg, data);
    const v = verifierFor(payload, input);
    expect(v.trailingChecksum()).toBeUndefined();
    const { output, error } = await run(v, await encodeSigned(seed, chunks, [{ name, value }]), fragmenter(1, 7));
    expect(error).toBeUndefined();
    expect(output.equals(data)).toBe(true);
    expect(v.trailingChecksum()).toEqual({ algorithm: alg, value });
  });

  it('rejects a validly signed but wrong checksum with BadDigest', async () => {
    const { input, payload, seed } = await signedSetup(chunks, { trailer: 'x-amz-checksum-crc32' });
    const wrong = await digest('CRC32', Buffer.from('something else'));
    const v = verifierFor(payload, input);
    const { error } = await run(v, await encodeSigned(seed, chunks, [{ name: 'x-amz-checksum-crc32', value: wrong }]));
    expect(error?.code).toBe('BadDigest');
    expect(error?.status).toBe(400);
    expect(v.trailingChecksum()).toBeUndefined();
  });

  it('rejects a tampered trailer or trailer signature with SignatureDoesNotMatch', async () => {
    const { input, payload, seed } = await signedSetup(chunks, { trailer: 'x-amz-checksum-crc32' });
    const value = await digest('CRC32', data);
    const body = (await encodeSigned(seed, chunks, [{ name: 'x-amz-checksum-crc32', value }])).toString('latin1');
    const other = await digest('CRC32', Buffer.from('x'));
    const tamperedValue = body.replace(`x-amz-checksum-crc32:${value}`, `x-amz-checksum-crc32:${other}`);
    expect((await run(verifierFor(payload, input), Buffer.from(tamperedValue, 'latin1'))).error?.code).toBe('SignatureDoesNotMatch');
    const tamperedSig = body.replace(/x-amz-trailer-signature:([0-9a-f])/, (_m, c: string) => `x-amz-trailer-signature:${c === '0' ? '1' : '0'}`);
    expect((await run(verifierFor(payload, input), Buffer.from(tamperedSig, 'latin1'))).error?.code).toBe('SignatureDoesNotMatch');
    const noSig = body.replace(/x-amz-trailer-signature:[0-9a-f]+\r\n/, '');
    expect((await run(verifierFor(payload, input), Buffer.from(noSig, 'latin1'))).error?.code).toBe('SignatureDoesNotMatch');
  });

  it('requires the trailer announced in x-amz-trailer and no other', async () => {
    const { input, payload, seed } = await signedSetup(chunks, { trailer: 'x-amz-checksum-crc32' });
    const missing = await encodeSigned(seed, chunks, []);
    expect((await run(verifierFor(payload, input), missing)).error?.code).toBe('InvalidRequest');
    const crc32c = await digest('CRC32C', data);
    const other = await encodeSigned(seed, chunks, [{ name: 'x-amz-checksum-crc32c', value: crc32c }]);
    expect((await run(verifierFor(payload, input), other)).error?.code).toBe('InvalidRequest');
  });
});

describe('createBodyVerifier: STREAMING-UNSIGNED-PAYLOAD-TRAILER from the real S3 client', () => {
  /** Encodes a PutObject the way the SDK sends it, capturing instead of sending. */
  async function sdkUpload(body: Buffer[], algorithm: SdkChecksumAlgorithm): Promise<{ input: AuthInput; wire: Buffer }> {
    const { client, captured: requests } = capturingS3Client({ accessKeyId: AKID, secretAccessKey: SECRET });
    const length = body.reduce((n, b) => n + b.length, 0);
    await client
      .send(new PutObjectCommand({ Bucket: 'bucket', Key: 'sdk key', Body: Readable.from(body), ContentLength: length, ChecksumAlgorithm: algorithm }))
      .catch(() => undefined);
    const request = requests[0]!;
    const wireParts: Buffer[] = [];
    for await (const piece of request.body as AsyncIterable<Uint8Array | string>) wireParts.push(Buffer.from(piece));
    const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
    const query = Object.entries(request.query)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join('&');
    return { input: { method: 'PUT', rawUrl: `${request.path}?${query}`, headers, now: new Date() }, wire: Buffer.concat(wireParts) };
  }

  const pieces = [bytes(70000, 1), bytes(1, 2), bytes(4321, 3)];
  const data = Buffer.concat(pieces);

  it.each(['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const)('decodes and verifies the SDK body with %s', async (alg) => {
    const { input, wire } = await sdkUpload(pieces, alg);
    expect(input.headers['x-amz-content-sha256']).toBe('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    expect(input.headers['x-amz-trailer']).toBe(`x-amz-checksum-${alg.toLowerCase()}`);
    const auth = await authenticate(input, lookup);
    expect(auth).toEqual({ kind: 'signed', accessKeyId: AKID, payload: { kind: 'streaming-unsigned-trailer' } });

    const sdkValue = new RegExp(`x-amz-checksum-${alg.toLowerCase()}:([A-Za-z0-9+/=]+)\\r\\n`).exec(wire.toString('latin1'))![1];
    const ours = createChecksum(alg);
    ours.update(data);
    expect(await ours.digestBase64()).toBe(sdkValue);

    for (const next of [undefined, fragmenter(1, 7)]) {
      const v = verifierFor(auth.payload, input);
      const { output, error } = await run(v, wire, next);
      expect(error).toBeUndefined();
      expect(output.equals(data)).toBe(true);
      expect(v.trailingChecksum()).toEqual({ algorithm: alg, value: sdkValue });
    }

    // One flipped data byte, framing intact: the trailer checksum no longer matches.
    const tampered = Buffer.from(wire);
    tampered[wire.indexOf('\r\n') + 2 + 1234] ^= 0x10;
    const v = verifierFor(auth.payload, input);
    const { error } = await run(v, tampered, fragmenter(1, 7));
    expect(error?.code).toBe('BadDigest');
    expect(v.trailingChecksum()).toBeUndefined();
  });

  it('checks x-amz-decoded-content-length on the SDK body', async () => {
    const { input, wire } = await sdkUpload(pieces, 'CRC32');
    const lying = { ...input.headers, 'x-amz-decoded-content-length': String(data.length - 1) };
    const { error } = await run(createBodyVerifier({ kind: 'streaming-unsigned-trailer' }, lying)!, wire);
    expect(error?.code).toBe('IncompleteBody');
  });
});

describe('createBodyVerifier: hand-encoded unsigned-trailer bodies', () => {
  const mode: PayloadMode = { kind: 'streaming-unsigned-trailer' };

  it('accepts a body without trailer when x-amz-trailer is absent, and rejects undeclared trailers', async () => {
    const chunks = [Buffer.from('hello '), Buffer.from('world')];
    const v = createBodyVerifier(mode, { 'x-amz-decoded-content-length': '11' })!;
    const { output, error } = await run(v, encodeUnsigned(chunks), fragmenter(1, 3));
    expect(error).toBeUndefined();
    expect(output.toString()).toBe('hello world');
    expect(v.trailingChecksum()).toBeUndefined();
    const extra = encodeUnsigned(chunks, [{ name: 'x-amz-checksum-crc32', value: 'DUoRhQ==' }]);
    expect((await run(createBodyVerifier(mode, {})!, extra)).error?.code).toBe('InvalidRequest');
  });

  it('rejects data longer or shorter than the declared chunk size with InvalidRequest', async () => {
    for (const body of ['a\r\nhello world\r\n0\r\n\r\n', 'c\r\nhello world\r\n0\r\n\r\n']) {
      expect((await run(createBodyVerifier(mode, {})!, Buffer.from(body))).error?.code).toBe('InvalidRequest');
    }
  });

  it('accepts chunk extensions and upper-case hex sizes', async () => {
    const body = Buffer.from('B;ext=1\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n');
    const v = createBodyVerifier(mode, { 'x-amz-trailer': 'x-amz-checksum-crc32' })!;
    const { output, error } = await run(v, body);
    expect(error).toBeUndefined();
    expect(output.toString()).toBe('hello world');
    expect(v.trailingChecksum()).toEqual({ algorithm: 'CRC32', value: 'DUoRhQ==' });
  });

  it('rejects a wrong trailer checksum with BadDigest and a truncated body with IncompleteBody', async () => {
    const headers = { 'x-amz-trailer': 'x-amz-checksum-crc32' };
    const wrong = encodeUnsigned([Buffer.from('hello world')], [{ name: 'x-amz-checksum-crc32', value: 'AAAAAA==' }]);
    expect((await run(createBodyVerifier(mode, headers)!, wrong)).error?.code).toBe('BadDigest');
    const right = encodeUnsigned([Buffer.from('hello world')], [{ name: 'x-amz-checksum-crc32', value: 'DUoRhQ==' }]);
    expect((await run(createBodyVerifier(mode, headers)!, right.subarray(0, right.length - 2))).error?.code).toBe('IncompleteBody');
  });

  it('refuses unsupported or multiple x-amz-trailer values and bad x-amz-decoded-content-length synchronously', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as S3Error).code;
      }
      return undefined;
    };
    expect(code(() => createBodyVerifier(mode, { 'x-amz-trailer': 'x-amz-checksum-md5' }))).toBe('InvalidRequest');
    expect(code(() => createBodyVerifier(mode, { 'x-amz-trailer': 'x-amz-checksum-crc32,x-amz-checksum-sha1' }))).toBe('InvalidRequest');
    expect(code(() => createBodyVerifier(mode, { 'x-amz-decoded-content-length': '-1' }))).toBe('InvalidArgument');
    expect(code(() => createBodyVerifier(mode, { 'x-amz-trailer': 'X-Amz-Checksum-CRC64NVME' }))).toBeUndefined();
  });
});

describe('createBodyVerifier: other payload modes', () => {
  it('returns undefined for unsigned payloads', () => {
    expect(createBodyVerifier({ kind: 'unsigned' }, {})).toBeUndefined();
  });

  it('passes a body matching x-amz-content-sha256 through, including the empty body', async () => {
    const body = bytes(100_000, 3);
    const v = createBodyVerifier({ kind: 'sha256', expectedHex: sha256Hex(body) }, {})!;
    const { output, error } = await run(v, body, fragmenter(1, 5000));
    expect(error).toBeUndefined();
    expect(output.equals(body)).toBe(true);
    expect(v.trailingChecksum()).toBeUndefined();
    const empty = await run(createBodyVerifier({ kind: 'sha256', expectedHex: EMPTY_SHA256 }, {})!, Buffer.alloc(0));
    expect(empty.error).toBeUndefined();
  });

  it('rejects a body not matching x-amz-content-sha256 with XAmzContentSHA256Mismatch', async () => {
    const v = createBodyVerifier({ kind: 'sha256', expectedHex: sha256Hex('expected') }, {})!;
    const { error } = await run(v, Buffer.from('actual'));
    expect(error?.code).toBe('XAmzContentSHA256Mismatch');
    expect(error?.status).toBe(400);
    const emptyVsHash = await run(createBodyVerifier({ kind: 'sha256', expectedHex: sha256Hex('x') }, {})!, Buffer.alloc(0));
    expect(emptyVsHash.error?.code).toBe('XAmzContentSHA256Mismatch');
  });
});
