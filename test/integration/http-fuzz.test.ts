/**
 * HTTP-level fuzzing of a live gateway process: random methods, paths, queries, headers, bodies
 * and signatures (mostly valid SigV4, so requests get past authentication into the handlers),
 * written as raw bytes on sockets, from a seed (FUZZ_SEED; FUZZ_REQUESTS for more). Bounded in
 * count and time. The run fails on:
 *   - any 5xx that is not NotImplemented (the store is a healthy local folder: no outage is
 *     expected, so a 503 is a misclassified error too),
 *   - a client error that is not S3 XML (HEAD and the JSON admin API aside),
 *   - the gateway process exiting,
 *   - any file written outside its mount roots, data folder and cache.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { NodeSha256 } from '../../src/s3/auth/sha256';
import { ADMIN } from '../helpers/gateway';
import { cliBuilt, gatewayProcess, type GatewayProcess } from '../helpers/gateway-process';

const SEED = Number(process.env.FUZZ_SEED ?? 11_2026);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 1500);
const TIME_BUDGET_MS = 120_000;
const MARKER = 'fuzz-escape';

interface FuzzRequest {
  method: string;
  bucket: string;
  key: string[];
  query: [string, string][];
  headers: [string, string][];
  auth: 'signed' | 'presigned' | 'anonymous' | 'garbage' | 'wrong-secret';
  body: Buffer;
  lengthDelta: number;
}

const segment = fc.oneof(
  { weight: 3, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}$/) },
  { weight: 2, arbitrary: fc.constantFrom('..', '.', '%2e%2e', '%2E%2E%2F', '..%2F..%2F', '.ringcache', '.ringcache%2Ftmp', '%00', 'a%00b', '%ZZ', '%C0%AF', '%E9', '~', 'a+b', 'a%20b', `${MARKER}-1`, `..%2F..%2F${MARKER}-2`, '%2F..%2F..%2Ftmp%2F' + MARKER, '\\..\\' + MARKER, '', 'x'.repeat(300)) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }).map(encodeURIComponent) },
);
const queryName = fc.oneof(fc.constantFrom('uploads', 'uploadId', 'partNumber', 'delete', 'list-type', 'max-keys', 'max-parts', 'max-uploads', 'prefix', 'delimiter', 'marker', 'start-after', 'continuation-token', 'encoding-type', 'versionId', 'versions', 'acl', 'tagging', 'location', 'versioning', 'part-number-marker', 'key-marker', 'upload-id-marker', 'fetch-owner', 'response-content-type', 'policy', 'X-Amz-Algorithm', '__proto__'), fc.stringMatching(/^[a-z-]{1,10}$/));
const queryValue = fc.oneof(fc.constantFrom('', '1', '0', '2', '10001', '0x1', '1e0', '-1', '99999999999999999999', 'url', 'base64', '/', 'AAAAAAAAAAAAAAAAAAAAAAAA', 'null'), fc.string({ maxLength: 12 }));
const headerPair: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(fc.constant('range'), fc.constantFrom('bytes=0-0', 'bytes=-5', 'bytes=5-', 'bytes=9-1', 'bytes=0-99999999999999999999', 'bytes=a-b', 'items=0-1', 'bytes=0-1,3-4')),
  fc.tuple(fc.constant('content-md5'), fc.constantFrom('', '!!!', '1B2M2Y8AsgTpgAmY7PhCfg==', 'AAAA')),
  fc.tuple(fc.constant('x-amz-copy-source'), fc.constantFrom('/fuzz/a', 'fuzz/a', '/mounted/../fuzz/a', '/fuzz/%2e%2e/x', '/nosuch/k', '', '/fuzz/a?versionId=x', `/fuzz/..%2F..%2F${MARKER}`)),
  fc.tuple(fc.constant('x-amz-copy-source-range'), fc.constantFrom('bytes=0-0', 'bytes=0-', 'bytes=5-1', 'junk')),
  fc.tuple(fc.constant('x-amz-metadata-directive'), fc.constantFrom('COPY', 'REPLACE', 'junk')),
  fc.tuple(fc.constantFrom('if-match', 'if-none-match', 'x-amz-copy-source-if-match'), fc.constantFrom('*', '"x"', '', 'W/"x"')),
  fc.tuple(fc.constantFrom('if-modified-since', 'if-unmodified-since'), fc.constantFrom('Thu, 01 Jan 1970 00:00:00 GMT', 'junk', '')),
  fc.tuple(fc.constantFrom('x-amz-checksum-crc32', 'x-amz-checksum-sha256', 'x-amz-sdk-checksum-algorithm', 'x-amz-checksum-algorithm'), fc.constantFrom('AAAAAA==', 'CRC32', 'MD5', '')),
  fc.tuple(fc.constant('x-amz-content-sha256'), fc.constantFrom('UNSIGNED-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'deadbeef', '')),
  fc.tuple(fc.constantFrom('x-amz-decoded-content-length', 'x-amz-trailer'), fc.constantFrom('0', '5', 'x-amz-checksum-crc32', '-1', 'junk')),
  fc.tuple(fc.constant('content-encoding'), fc.constantFrom('aws-chunked', 'gzip', '')),
  fc.tuple(fc.stringMatching(/^x-amz-meta-[a-z]{1,6}$/), fc.string({ unit: 'grapheme-ascii', maxLength: 20 })),
  fc.tuple(fc.constantFrom('x-amz-server-side-encryption', 'x-amz-acl', 'x-amz-tagging', 'x-amz-storage-class', 'x-amz-expected-bucket-owner'), fc.constantFrom('AES256', 'private', 'a=b', 'GLACIER', '123')),
  fc.tuple(fc.stringMatching(/^x-[a-z]{1,8}$/), fc.string({ unit: 'grapheme-ascii', maxLength: 20 })),
);
const xmlBody = fc.oneof(
  fc.array(fc.oneof(segment, fc.constantFrom('a&#0;b', 'a&nbsp;', '<x/>', ']]>')), { maxLength: 4 }).map((keys) => `<Delete>${keys.map((k) => `<Object><Key>${k}</Key></Object>`).join('')}</Delete>`),
  fc.array(fc.tuple(fc.constantFrom('1', '2', '0x1', '0', '10001', ''), fc.constantFrom('"x"', '')), { maxLength: 3 }).map((parts) => `<CompleteMultipartUpload>${parts.map(([n, e]) => `<Part><PartNumber>${n}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`),
  fc.constantFrom('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&e;</Key></Object></Delete>', `<Delete>${'<a>'.repeat(100)}</Delete>`, '<CreateBucketConfiguration><LocationConstraint>eu</LocationConstraint></CreateBucketConfiguration>'),
);
/** Requests shaped like real S3 operations (right method and sub-resource), their pieces randomised. */
const OPERATIONS: { method: string; query: [string, string][]; needsKey: boolean; xml?: boolean }[] = [
  { method: 'PUT', query: [], needsKey: true },
  { method: 'GET', query: [], needsKey: true },
  { method: 'HEAD', query: [], needsKey: true },
  { method: 'DELETE', query: [], needsKey: true },
  { method: 'POST', query: [['delete', '']], needsKey: false, xml: true },
  { method: 'POST', query: [['uploads', '']], needsKey: true },
  { method: 'POST', query: [['uploadId', 'AAAAAAAAAAAAAAAAAAAAAAAA']], needsKey: true, xml: true },
  { method: 'PUT', query: [['partNumber', '1'], ['uploadId', 'AAAAAAAAAAAAAAAAAAAAAAAA']], needsKey: true },
  { method: 'GET', query: [['uploadId', 'AAAAAAAAAAAAAAAAAAAAAAAA']], needsKey: true },
  { method: 'GET', query: [['list-type', '2']], needsKey: false },
  { method: 'GET', query: [['uploads', '']], needsKey: false },
  { method: 'PUT', query: [], needsKey: false, xml: true },
];
const operation: fc.Arbitrary<FuzzRequest> = fc
  .record({
    op: fc.constantFrom(...OPERATIONS),
    bucket: fc.constantFrom('fuzz', 'mounted', 'new-bucket-2'),
    key: fc.array(segment, { minLength: 1, maxLength: 3 }),
    extraQuery: fc.array(fc.tuple(queryName, queryValue), { maxLength: 2 }),
    headers: fc.array(headerPair, { maxLength: 3 }),
    xml: xmlBody,
    bytes: fc.uint8Array({ maxLength: 3000 }),
  })
  .map(({ op, bucket, key, extraQuery, headers, xml, bytes }) => ({
    method: op.method,
    bucket,
    key: op.needsKey ? key : [],
    query: [...op.query, ...extraQuery],
    headers,
    auth: 'signed' as const,
    body: op.xml ? Buffer.from(xml) : op.method === 'PUT' ? Buffer.from(bytes) : Buffer.alloc(0),
    lengthDelta: 0,
  }));

const anything: fc.Arbitrary<FuzzRequest> = fc.record({
  method: fc.oneof({ weight: 10, arbitrary: fc.constantFrom('GET', 'HEAD', 'PUT', 'POST', 'DELETE') }, { weight: 1, arbitrary: fc.constantFrom('OPTIONS', 'PATCH', 'TRACE', 'get', 'M-SEARCH') }),
  bucket: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('fuzz', 'mounted') }, { weight: 1, arbitrary: fc.constantFrom('nosuch', '_ringcache', '', '..', '%2e%2e', 'FUZZ', 'a', 'new-bucket-1', 'constructor', '__proto__') }, { weight: 1, arbitrary: segment }),
  key: fc.array(segment, { maxLength: 3 }),
  query: fc.array(fc.tuple(queryName, queryValue), { maxLength: 3 }),
  headers: fc.array(headerPair, { maxLength: 4 }),
  auth: fc.oneof({ weight: 8, arbitrary: fc.constant('signed' as const) }, { weight: 1, arbitrary: fc.constantFrom('presigned' as const, 'anonymous' as const, 'garbage' as const, 'wrong-secret' as const) }),
  body: fc.oneof({ weight: 3, arbitrary: fc.constant(Buffer.alloc(0)) }, { weight: 2, arbitrary: xmlBody.map((x) => Buffer.from(x)) }, { weight: 2, arbitrary: fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)) }, { weight: 1, arbitrary: fc.constant(Buffer.from(`0;chunk-signature=${'0'.repeat(64)}\r\n\r\n`)) }),
  lengthDelta: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(-3, 5) }),
});
const request: fc.Arbitrary<FuzzRequest> = fc.oneof(operation, anything);

const encodeSegment = (s: string): string => s; // already in the form sent (encoded or deliberately raw)

async function wireRequest(port: number, r: FuzzRequest): Promise<{ bytes: Buffer; path: string }> {
  const rawPath = `/${[r.bucket, ...r.key].map(encodeSegment).join('/')}`;
  const query: Record<string, string> = {};
  for (const [k, v] of r.query) if (!(k in query)) query[k] = v;
  const headers: Record<string, string> = { host: `127.0.0.1:${port}` };
  for (const [k, v] of r.headers) headers[k] = v.replace(/[\r\n]/g, '');
  let target = rawPath;
  let search = Object.entries(query).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  if (r.auth === 'signed' || r.auth === 'presigned' || r.auth === 'wrong-secret') {
    const signer = new SignatureV4({
      service: 's3',
      region: 'us-east-1',
      credentials: { accessKeyId: ADMIN.accessKeyId, secretAccessKey: r.auth === 'wrong-secret' ? 'not-the-secret' : ADMIN.secretAccessKey },
      sha256: NodeSha256,
      uriEscapePath: false,
    });
    let canonicalPath = rawPath;
    try {
      canonicalPath = rawPath.split('/').map((s) => encodeURIComponent(decodeURIComponent(s))).join('/');
    } catch {
      // undecodable on purpose: sign it as it is (the server should refuse it anyway)
    }
    const toSign = new HttpRequest({ method: r.method, protocol: 'http:', hostname: '127.0.0.1', port, path: canonicalPath, query, headers: { ...headers, 'x-amz-content-sha256': headers['x-amz-content-sha256'] ?? 'UNSIGNED-PAYLOAD' } });
    try {
      if (r.auth === 'presigned') {
        const signed = await signer.presign(toSign, { expiresIn: 600 });
        search = Object.entries(signed.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
      } else {
        const signed = await signer.sign(toSign);
        Object.assign(headers, signed.headers);
      }
    } catch {
      // a request the SDK refuses to sign goes out unsigned
    }
  } else if (r.auth === 'garbage') {
    headers.authorization = 'AWS4-HMAC-SHA256 Credential=x/y, SignedHeaders=host, Signature=zz';
  }
  if (search) target += `?${search}`;
  const length = Math.max(0, r.body.length + r.lengthDelta);
  const head = [`${r.method} ${target} HTTP/1.1`, ...Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'content-length').map(([k, v]) => `${k}: ${v}`), `Content-Length: ${length}`, 'Connection: close', '', ''].join('\r\n');
  return { bytes: Buffer.concat([Buffer.from(head, 'latin1'), r.body]), path: target };
}

/** Sends raw bytes, returns the status, headers and body of the answer (or a failure to read one). */
function exchange(port: number, bytes: Buffer, timeoutMs = 15_000): Promise<{ status: number; head: string; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    // write, not end: a half-closed request is aborted by Node's HTTP server (httpAllowHalfOpen false).
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => undefined); // a reset after the answer is fine
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
      if (!status) resolve({ error: `no HTTP answer (${text.length} bytes: ${JSON.stringify(text.slice(0, 80))})` });
      else resolve({ status, head: split === -1 ? text : text.slice(0, split), body: split === -1 ? '' : text.slice(split + 4) });
    });
  });
}

async function listTree(dir: string, skip: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(dir, entry.name);
    if (skip.includes(full)) continue;
    out.push(full);
    if (entry.isDirectory()) out.push(...(await listTree(full, skip)));
  }
  return out;
}

describe('HTTP fuzzing of a live gateway', () => {
  if (!cliBuilt()) {
    test('needs a build (npm test runs `npm run build` first)', () => {
      throw new Error('dist/src/cli/ringcache.js is missing: run npm run build');
    });
    return;
  }

  let base: string;
  let gw: GatewayProcess;
  let roots: string[];

  beforeAll(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'ringcache-fuzz-'));
    const dataDir = path.join(base, 'data');
    const mounted = path.join(base, 'mounted-root');
    roots = [dataDir, mounted, path.join(base, 'cache'), path.join(base, 'jobs')];
    for (const dir of [...roots, path.join(dataDir, 'fuzz')]) await mkdir(dir, { recursive: true });
    await writeFile(path.join(dataDir, 'fuzz', 'a'), randomBytes(5000));
    await writeFile(path.join(base, 'outside.txt'), 'must not change');
    gw = await gatewayProcess(path.join(base, 'config.json'), {
      dataDir,
      mounts: { mounted: { uri: pathToFileURL(mounted).href } },
      cache: { disk: { path: path.join(base, 'cache'), maxBytes: 32 * 1024 * 1024 }, memory: { maxBytes: 32 * 1024 * 1024 } },
      jobs: { stateDir: path.join(base, 'jobs') },
      server: { bodyIdleTimeoutMs: 3000 },
    });
    await gw.start();
  });
  afterAll(async () => {
    await gw?.stop();
    await rm(base, { recursive: true, force: true });
  });

  test(`${REQUESTS} random requests from seed ${SEED}: no 5xx but NotImplemented, errors in S3 XML, no crash, nothing written outside the roots`, async () => {
    const tmpBefore = new Set(await readdir(os.tmpdir()));
    const outsideBefore = await listTree(base, roots);
    const port = Number(new URL(gw.url).port);
    const started = Date.now();
    const problems: string[] = [];
    const statuses = new Map<number, number>();
    let sent = 0;
    const requests = fc.sample(request, { seed: SEED, numRuns: REQUESTS });
    // A few requests in flight at once, as clients do.
    const lanes = 4;
    await Promise.all(
      Array.from({ length: lanes }, async (_, lane) => {
        for (let i = lane; i < requests.length && Date.now() - started < TIME_BUDGET_MS && problems.length < 10; i += lanes) {
          const r = requests[i];
          const { bytes, path: target } = await wireRequest(port, r);
          const answer = await exchange(port, bytes);
          sent++;
          const what = `#${i} ${r.method} ${target} (${r.auth}, ${r.body.length} bytes${r.lengthDelta ? `, length ${r.lengthDelta > 0 ? '+' : ''}${r.lengthDelta}` : ''}, headers ${JSON.stringify(r.headers)})`;
          if ('error' in answer) {
            problems.push(`${what}: ${answer.error}`);
            continue;
          }
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          const admin = target.startsWith('/_ringcache');
          const notImplemented = answer.status === 501 && (r.method === 'HEAD' || answer.body.includes('<Code>NotImplemented</Code>'));
          if (answer.status >= 500 && !notImplemented) {
            problems.push(`${what}: ${answer.status} ${answer.body.slice(0, 300)}`);
          } else if (answer.status >= 400 && r.method !== 'HEAD' && !admin && !/^<\?xml[^>]*>\s*<Error><Code>\w+<\/Code>/.test(answer.body)) {
            problems.push(`${what}: a ${answer.status} that is not S3 XML: ${answer.body.slice(0, 200)}`);
          }
          if (gw.child?.exitCode !== null || gw.child?.signalCode) problems.push(`${what}: the gateway exited:\n${gw.output}`);
        }
      }),
    );
    expect(problems).toEqual([]);
    expect(sent).toBeGreaterThan(Math.min(REQUESTS, 200));
    // Still serving.
    expect((await fetch(`${gw.url}/_ringcache/healthz`)).status).toBe(200);
    // Nothing written outside the roots: the rest of the test folder and the system temp folder.
    expect(await listTree(base, roots)).toEqual(outsideBefore);
    const newInTmp = (await readdir(os.tmpdir())).filter((n) => !tmpBefore.has(n) && n.includes(MARKER));
    expect(newInTmp).toEqual([]);
    for (const root of roots) {
      for (const file of await listTree(root, [])) {
        const info = await stat(file).catch(() => undefined);
        expect(info === undefined || path.resolve(file).startsWith(root)).toBe(true);
      }
    }
    // For the record in CI logs: what the run exercised.
    process.stdout.write(`fuzz seed ${SEED}: ${sent} requests in ${Date.now() - started} ms; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}\n`);
  }, 300_000);
});
