/**
 * Property-based tests (fast-check) of the parsers that face the network: the endpoint and query
 * of a request target, Range, part numbers and listing limits, request XML, the aws-chunked body
 * decoder, and config loading. Whatever the input, each either answers or throws its layer's own
 * typed error (S3Error; ConfigError for configuration), never a TypeError or a RangeError that
 * would become a 500 or a stack trace; and what is valid round-trips.
 *
 * Seeded (FC_SEED, default fixed) so CI is reproducible; run with FC_SEED=random to explore.
 */
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load-config';
import { Authenticator, createBodyVerifier } from '../../src/s3/auth';
import { NodeSha256 } from '../../src/s3/auth/sha256';
import { parseEndpoint, parseQuery, partNumberOf } from '../../src/s3/endpoint';
import { S3Error } from '../../src/s3/errors';
import { parseMaxKeys } from '../../src/s3/handlers/list-page';
import { parseRange } from '../../src/s3/range';
import { childText, childrenNamed, parseStrictXml } from '../../src/s3/request-xml';
import { renderXml } from '../../src/s3/xml';

const seed = process.env.FC_SEED === 'random' ? Date.now() : Number(process.env.FC_SEED ?? 20260311);
fc.configureGlobal({ seed });

/** What `fn` throws: nothing, an S3Error code, or the name of any other error (a bug). */
function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof S3Error ? `S3Error:${err.code}` : `BUG ${(err as Error)?.name}: ${(err as Error)?.message}`;
  }
}

const expectTyped = (fn: () => unknown): void => expect(outcome(fn)).not.toMatch(/^BUG/);

// -- Generators -----------------------------------------------------------------------------

/** Any text, with the characters that matter to URLs, XML and HTTP weighted in. */
const hostile = fc.string({
  unit: fc.oneof(
    fc.constantFrom('%', '%2', '%2F', '%2e', '%ZZ', '%00', '%C0%AF', '%E9', '+', '&', '=', '?', '#', '/', '//', '..', '.', '\\', ';', ',', ' ', '\t', '\u0000', '\uFFFD', '\uD800', 'é', '日', '😀', '__proto__', 'constructor', 'uploadId', 'partNumber', 'uploads', 'delete', 'versionId', 'list-type', 'acl', 'tagging'),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  ),
  maxLength: 40,
});

const method = fc.oneof(fc.constantFrom('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'PATCH', 'get', 'TRACE'), fc.string({ maxLength: 8 }));
const rawTarget = fc.tuple(fc.oneof(hostile.map((p) => `/${p}`), hostile), fc.option(hostile, { nil: undefined })).map(([p, q]) => (q === undefined ? p : `${p}?${q}`));

// -- Endpoint and query ----------------------------------------------------------------------

describe('request targets', () => {
  it('parseEndpoint answers or throws an S3Error for any method, target, host and headers', () => {
    fc.assert(
      fc.property(method, rawTarget, fc.option(hostile, { nil: undefined }), fc.boolean(), fc.option(fc.constantFrom('s3.example.com', 'example'), { nil: undefined }), (m, rawUrl, host, copy, baseDomain) => {
        expectTyped(() => parseEndpoint({ method: m, rawUrl, host, headers: copy ? { 'x-amz-copy-source': '/b/k' } : {} }, baseDomain));
      }),
      { numRuns: 3000 },
    );
  });

  it('a bucket and key encoded segment by segment come back exactly', () => {
    const bucket = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]$/);
    const segment = fc.string({ unit: fc.oneof(fc.constantFrom('a', '/', ' ', '+', '%', '?', '&', '#', 'é', '😀'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(bucket, segment, (b, key) => {
        const encodedKey = key.split('/').map(encodeURIComponent).join('/');
        const endpoint = parseEndpoint({ method: 'GET', rawUrl: `/${b}/${encodedKey}`, host: undefined, headers: {} });
        expect(endpoint).toMatchObject({ op: 'GetObject', bucket: b, key });
      }),
      { numRuns: 1000 },
    );
  });

  it('parseQuery never throws anything but an S3Error, and never yields an inherited name', () => {
    fc.assert(
      fc.property(hostile, (q) => {
        expectTyped(() => {
          const query = parseQuery(q);
          for (const name of ['toString', 'constructor', 'hasOwnProperty']) if (!q.includes(name)) expect(query.has(name)).toBe(false);
        });
      }),
      { numRuns: 3000 },
    );
  });
});

// -- Range, part numbers, listing limits -----------------------------------------------------

describe('numbers from headers and queries', () => {
  it('parseRange: a range inside the object, undefined (whole object), or InvalidRange', () => {
    const header = fc.oneof(
      hostile,
      fc.tuple(fc.option(fc.bigInt({ min: 0n, max: 10n ** 25n }), { nil: undefined }), fc.option(fc.bigInt({ min: 0n, max: 10n ** 25n }), { nil: undefined }), fc.constantFrom('bytes=', 'Bytes =', 'bytes= ', 'items=')).map(
        ([a, b, unit]) => `${unit}${a ?? ''}-${b ?? ''}`,
      ),
    );
    fc.assert(
      fc.property(header, fc.integer({ min: 0, max: 2 ** 40 }), (h, size) => {
        let range;
        try {
          range = parseRange(h, size);
        } catch (err) {
          expect(err).toBeInstanceOf(S3Error);
          expect((err as S3Error).code).toBe('InvalidRange');
          return;
        }
        if (range === undefined) return;
        expect(Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end)).toBe(true);
        expect(0 <= range.start && range.start <= range.end && range.end < size).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('partNumberOf accepts exactly the decimal integers 1..10000', () => {
    fc.assert(
      fc.property(fc.oneof(hostile, fc.integer({ min: -5, max: 20_000 }).map(String), fc.constantFrom('0x1', '1e0', '+1', ' 1', '1 ', '01', '1.0', '００１')), (text) => {
        const valid = /^[0-9]{1,5}$/.test(text) && Number(text) >= 1 && Number(text) <= 10_000;
        expect(outcome(() => partNumberOf(text))).toBe(valid ? 'ok' : 'S3Error:InvalidArgument');
      }),
      { numRuns: 3000 },
    );
  });

  it('parseMaxKeys accepts decimal integers within 32 bits (capped at 1000), nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(hostile, fc.bigInt({ min: 0n, max: 10n ** 12n }).map(String), fc.constantFrom('1e3', '0x10', '-1', '+5', '2147483647', '2147483648')), (text) => {
        const valid = /^\d{1,10}$/.test(text) && Number(text) <= 2 ** 31 - 1;
        let value: number | undefined;
        expect(outcome(() => (value = parseMaxKeys(text)))).toBe(valid ? 'ok' : 'S3Error:InvalidArgument');
        if (valid) expect(value).toBe(Math.min(Number(text), 1000));
      }),
      { numRuns: 2000 },
    );
  });
});

// -- Request XML -----------------------------------------------------------------------------

describe('request XML', () => {
  const xmlish = fc.string({
    unit: fc.oneof(
      fc.constantFrom('<', '>', '/', '&', ';', '#', 'x', '"', "'", '=', '!', '?', '[', ']', '-', ':', ' ', '\n', 'Delete', 'Object', 'Key', '<Delete>', '</Delete>', '<Object>', '</Object>', '<Key>', '</Key>', '&#0;', '&#x41;', '&amp;', '&lt;', '&nbsp;', '<!DOCTYPE', '<!ENTITY', '<![CDATA[', ']]>', '<?xml version="1.0"?>', '<!--', '-->', '__proto__'),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
    ),
    maxLength: 60,
  });

  it('any text or bytes: a tree, or MalformedXML; never another error', () => {
    fc.assert(
      fc.property(fc.oneof(xmlish, xmlish.map((s) => Buffer.from(s)), fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b))), (doc) => {
        const result = outcome(() => parseStrictXml(doc));
        expect(['ok', 'S3Error:MalformedXML']).toContain(result);
      }),
      { numRuns: 5000 },
    );
  });

  it('keys made of any XML characters, rendered by the gateway\'s builder, parse back byte-exact', () => {
    const xmlChar = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }).filter((c) => !/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u.test(c));
    const key = fc.string({ unit: fc.oneof(xmlChar, fc.constantFrom('<', '>', '&', '"', "'", ' ', '\t', '&amp;', ']]>')), minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(fc.array(key, { minLength: 1, maxLength: 5 }), (keys) => {
        const doc = renderXml('Delete', { Object: keys.map((Key) => ({ Key })) });
        const parsed = childrenNamed(parseStrictXml(Buffer.from(doc)), 'Object').map((o) => childText(o, 'Key'));
        // Carriage returns are normalised by XML (\r\n and \r read as \n) unless written as &#13;.
        expect(parsed).toEqual(keys.map((k) => k.replace(/\r\n?/g, '\n')));
      }),
      { numRuns: 1000 },
    );
  });

  it('a character XML forbids, written as a reference, is always MalformedXML', () => {
    const forbidden = fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constantFrom(11, 12, 14, 31, 0xd800, 0xdfff, 0xfffe, 0xffff, 0x110000));
    fc.assert(
      fc.property(forbidden, fc.boolean(), (cp, hex) => {
        const ref = hex ? `&#x${cp.toString(16)};` : `&#${cp};`;
        expect(outcome(() => parseStrictXml(`<Delete><Object><Key>a${ref}b</Key></Object></Delete>`))).toBe('S3Error:MalformedXML');
      }),
    );
  });
});

// -- aws-chunked bodies ----------------------------------------------------------------------

const AKID = 'AKIDPROPERTY';
const SECRET = 'property/secret+KEY';
const REGION = 'us-east-1';
const DATE = new Date('2026-03-11T10:20:30Z');
const AMZ_DATE = '20260311T102030Z';
const SCOPE = `20260311/${REGION}/s3/aws4_request`;
const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data).digest();
const SIGNING_KEY = ['20260311', REGION, 's3', 'aws4_request'].reduce<Buffer>((key, part) => hmac(key, part), Buffer.from(`AWS4${SECRET}`));

/** A streaming upload's headers, signed by the SDK's signer; its signature seeds the chunk chain. */
async function streamingHeaders(decodedLength: number): Promise<{ headers: Record<string, string>; seed: string }> {
  const signer = new SignatureV4({ service: 's3', region: REGION, credentials: { accessKeyId: AKID, secretAccessKey: SECRET }, sha256: NodeSha256, uriEscapePath: false });
  const request = new HttpRequest({
    method: 'PUT',
    hostname: '127.0.0.1',
    path: '/bucket/key',
    headers: { host: '127.0.0.1', 'content-encoding': 'aws-chunked', 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'x-amz-decoded-content-length': String(decodedLength) },
  });
  const signed = await signer.sign(request, { signingDate: DATE });
  const headers = signed.headers as Record<string, string>;
  return { headers, seed: /Signature=([0-9a-f]{64})/.exec(headers.authorization)![1] };
}

/** The aws-chunked encoding with chunk signatures computed here, from the SigV4 definition. */
function encodeSigned(seed: string, chunks: Buffer[]): { body: Buffer; dataRanges: [number, number][] } {
  const parts: Buffer[] = [];
  const dataRanges: [number, number][] = [];
  let previous = seed;
  let at = 0;
  for (const data of [...chunks, Buffer.alloc(0)]) {
    const stringToSign = ['AWS4-HMAC-SHA256-PAYLOAD', AMZ_DATE, SCOPE, previous, EMPTY_SHA256, createHash('sha256').update(data).digest('hex')].join('\n');
    const signature = hmac(SIGNING_KEY, stringToSign).toString('hex');
    const header = Buffer.from(`${data.length.toString(16)};chunk-signature=${signature}\r\n`);
    parts.push(header, data, Buffer.from('\r\n'));
    at += header.length;
    if (data.length > 0) dataRanges.push([at, at + data.length]);
    at += data.length + 2;
    previous = signature;
  }
  return { body: Buffer.concat(parts), dataRanges };
}

async function decode(headers: Record<string, string>, body: Buffer, cuts: number[]): Promise<{ output: Buffer; error?: unknown }> {
  const auth = new Authenticator((id) => (id === AKID ? SECRET : undefined)).authenticate({ method: 'PUT', rawUrl: '/bucket/key', headers, now: DATE });
  const verifier = createBodyVerifier(auth.payload, headers);
  const fragments: Buffer[] = [];
  let from = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b)) {
    fragments.push(body.subarray(from, cut));
    from = cut;
  }
  fragments.push(body.subarray(from));
  const out: Buffer[] = [];
  try {
    await pipeline(
      Readable.from(fragments.filter((f) => f.length > 0)),
      verifier!,
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          out.push(chunk);
          cb();
        },
      }),
    );
    return { output: Buffer.concat(out) };
  } catch (error) {
    return { output: Buffer.concat(out), error };
  }
}

describe('aws-chunked bodies', () => {
  const chunkList = fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }).map((a) => Buffer.from(a)), { minLength: 0, maxLength: 5 });

  it('a signed body, cut into any fragments, decodes to exactly its payload', async () => {
    await fc.assert(
      fc.asyncProperty(chunkList, fc.array(fc.nat(), { maxLength: 12 }), async (chunks, cuts) => {
        const payload = Buffer.concat(chunks);
        const { headers, seed: seedSignature } = await streamingHeaders(payload.length);
        const { body } = encodeSigned(seedSignature, chunks);
        const { output, error } = await decode(headers, body, cuts);
        expect(error).toBeUndefined();
        expect(output.equals(payload)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('any single-byte change of a signed body fails with an S3Error (a changed data byte always); never other bytes accepted', async () => {
    await fc.assert(
      fc.asyncProperty(chunkList.filter((c) => c.length > 0), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.array(fc.nat(), { maxLength: 6 }), async (chunks, where, xor, cuts) => {
        const payload = Buffer.concat(chunks);
        const { headers, seed: seedSignature } = await streamingHeaders(payload.length);
        const { body, dataRanges } = encodeSigned(seedSignature, chunks);
        const at = where % body.length;
        const mutated = Buffer.from(body);
        mutated[at] ^= xor;
        const { output, error } = await decode(headers, mutated, cuts);
        const inData = dataRanges.some(([from, to]) => at >= from && at < to);
        if (error === undefined) {
          // Only a change that means the same (the case of a hex digit) may pass, and then with the same bytes.
          expect(inData).toBe(false);
          expect(output.equals(payload)).toBe(true);
        } else {
          expect(error).toBeInstanceOf(S3Error);
          // Nothing unverified was handed on: at most the chunks before the damaged one.
          expect(payload.subarray(0, output.length).equals(output)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('random bytes as an aws-chunked body: an S3Error, never another error', async () => {
    const { headers } = await streamingHeaders(100);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), hostile.map((s) => Buffer.from(s))), async (body) => {
        const { error } = await decode(headers, body, []);
        if (error !== undefined) expect(error).toBeInstanceOf(S3Error);
      }),
      { numRuns: 300 },
    );
  });
});

// -- Config loading --------------------------------------------------------------------------

describe('config loading', () => {
  const json = fc.jsonValue({ maxDepth: 4 });
  /** Configs near a valid one: every section present, each value possibly replaced by anything. */
  const nearlyValid = fc.record({
    server: fc.oneof(json, fc.record({ host: fc.oneof(json, fc.constant('127.0.0.1')), port: fc.oneof(json, fc.integer({ min: -1, max: 70_000 })), bodyIdleTimeoutMs: json })),
    dataDir: fc.oneof(json, fc.constant('/tmp/ringcache-data')),
    mounts: fc.oneof(json, fc.dictionary(hostile, fc.record({ uri: fc.oneof(hostile, fc.constantFrom('file:///tmp', 's3://b', 'gs://', 'hdfs://nn:9870/x', 'file://host/x')), options: json }), { maxKeys: 3 })),
    credentials: fc.oneof(json, fc.constant([{ accessKeyId: 'abc', secretAccessKey: '12345678' }])),
    cache: json,
    tempFiles: json,
  });
  const envName = fc.constantFrom(
    'RINGCACHE_HOST', 'RINGCACHE_PORT', 'RINGCACHE_DATA_DIR', 'RINGCACHE_REGION', 'RINGCACHE_BASE_DOMAIN', 'RINGCACHE_LOG_LEVEL',
    'RINGCACHE_CACHE_ENABLED', 'RINGCACHE_CACHE_DIR', 'RINGCACHE_CACHE_MEMORY_BYTES', 'RINGCACHE_CACHE_DISK_BYTES',
    'RINGCACHE_ACCESS_KEY_ID', 'RINGCACHE_SECRET_ACCESS_KEY', 'RINGCACHE_JOBS_DIR', 'RINGCACHE_NODE_ID', 'RINGCACHE_ADVERTISE_URL',
    'RINGCACHE_CLUSTER_SECRET', 'RINGCACHE_PEERS', 'RINGCACHE_CONSUL_URL', 'RINGCACHE_CONSUL_TOKEN',
  );

  const configOutcome = (fn: () => unknown): string => {
    try {
      fn();
      return 'ok';
    } catch (err) {
      return err instanceof ConfigError ? 'ConfigError' : `BUG ${(err as Error)?.name}: ${(err as Error)?.message}`;
    }
  };

  it('parseConfig: a frozen config or a ConfigError for any value', () => {
    fc.assert(
      fc.property(fc.oneof(json, nearlyValid), (input) => {
        expect(configOutcome(() => parseConfig(input, '/'))).not.toMatch(/^BUG/);
      }),
      { numRuns: 2000 },
    );
  });

  it('loadConfig: any JSON file with any environment overrides is a config or a ConfigError', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ringcache-config-'));
    const file = path.join(dir, 'ringcache.json');
    try {
      fc.assert(
        fc.property(fc.oneof(json, nearlyValid), fc.dictionary(envName, fc.oneof(hostile, fc.constantFrom('0', '9000', 'true', 'a=http://x:1', 'x'))), fc.nat(), (content, env, cut) => {
          const text = JSON.stringify(content) ?? '';
          // Sometimes cut short: a file that is not JSON at all.
          writeFileSync(file, cut % 4 === 0 ? text.slice(0, cut % (text.length + 1)) : text);
          expect(configOutcome(() => loadConfig({ file, env, cwd: dir }))).not.toMatch(/^BUG/);
        }),
        { numRuns: 1000 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
