/**
 * S3 adapter error handling and retries against tiny local HTTP servers that misbehave on
 * purpose (throttling, 5xx, dropped connections, silence). The SDK is not mocked: the
 * adapter's real client talks HTTP to them, and the servers count the attempts.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { isUfsError, type UfsError, type UfsErrorKind } from '../../ufs-adapters/errors';
import { createS3AdapterFromUri, type S3Adapter } from '../../ufs-adapters/s3/s3-adapter';
import { mapS3Error } from '../../ufs-adapters/s3/s3-errors';

const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

interface TestServer {
  url: string;
  requests: Array<{ method: string; url: string }>;
  connections: number;
  close(): Promise<void>;
}

async function startServer(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const state: TestServer = {
    url: '',
    requests: [],
    connections: 0,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server = http.createServer((req, res) => {
    state.requests.push({ method: req.method ?? '', url: req.url ?? '' });
    handler(req, res);
  });
  server.on('connection', (socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

const xmlError = (res: http.ServerResponse, status: number, code: string, message: string) => {
  res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': 'TEST' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>TEST</RequestId></Error>`);
};

async function failure(promise: Promise<unknown>): Promise<UfsError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isUfsError(err)) throw new Error(`expected a UfsError, got ${err === undefined ? 'success' : String(err)}`);
  return err;
}

async function expectKind(promise: Promise<unknown>, kind: UfsErrorKind): Promise<UfsError> {
  const err = await failure(promise);
  expect(err.kind).toBe(kind);
  return err;
}

describe('S3 adapter errors and retries', () => {
  const servers: TestServer[] = [];
  const adapters: S3Adapter[] = [];
  const serve = async (handler: (req: http.IncomingMessage, res: http.ServerResponse) => void) => {
    const server = await startServer(handler);
    servers.push(server);
    return server;
  };
  const adapterFor = (url: string, options: { maxAttempts?: number; requestTimeoutMs?: number } = {}) => {
    const adapter = createS3AdapterFromUri(`s3://bucket/pre?endpoint=${encodeURIComponent(url)}`, { credentials: CREDENTIALS, maxAttempts: 3, ...options });
    adapters.push(adapter);
    return adapter;
  };
  afterAll(async () => {
    for (const adapter of adapters) await adapter.close();
    for (const server of servers) await server.close();
  });

  test('SlowDown: exactly maxAttempts attempts, then Throttled', async () => {
    const server = await serve((req, res) => {
      req.resume();
      xmlError(res, 503, 'SlowDown', 'Please reduce your request rate.');
    });
    const adapter = adapterFor(server.url);
    const err = await expectKind(adapter.read('obj', undefined), 'Throttled');
    expect(server.requests.map((r) => `${r.method} ${r.url.split('?')[0]}`)).toEqual(Array(3).fill('GET /bucket/pre/obj'));
    expect(err.message).toBe('read object: the object store is throttling requests (SlowDown, HTTP 503)');
    expect(err.message).not.toContain(CREDENTIALS.accessKeyId);
    expect((err.cause as { name?: string }).name).toBe('SlowDown');

    server.requests.length = 0;
    await expectKind(adapter.stat('obj'), 'Throttled'); // HEAD: no error body, mapped by status
    expect(server.requests).toHaveLength(3);

    server.requests.length = 0;
    await expectKind(adapter.write({ key: 'w', body: Readable.from([Buffer.from('data')]), metadata: { userMetadata: {} } }), 'Throttled');
    expect(server.requests.map((r) => r.method)).toEqual(['PUT', 'PUT', 'PUT']);
  }, 20_000);

  test('429 Too Many Requests is Throttled too; maxAttempts 1 means no retry', async () => {
    const server = await serve((req, res) => {
      req.resume();
      xmlError(res, 429, 'TooManyRequests', 'slow down');
    });
    await expectKind(adapterFor(server.url, { maxAttempts: 1 }).read('obj', undefined), 'Throttled');
    expect(server.requests).toHaveLength(1);
  });

  test('500 InternalError is retried, then Unavailable', async () => {
    const server = await serve((req, res) => {
      req.resume();
      xmlError(res, 500, 'InternalError', 'We encountered an internal error.');
    });
    const err = await expectKind(adapterFor(server.url).read('obj', undefined), 'Unavailable');
    expect(err.message).toBe('read object: the object store is unavailable (InternalError, HTTP 500)');
    expect(server.requests).toHaveLength(3);
  }, 20_000);

  test('501 NotImplemented is NotImplemented and not retried (a retry cannot succeed)', async () => {
    const server = await serve((req, res) => {
      req.resume();
      if (req.method === 'HEAD') {
        res.writeHead(501).end();
        return;
      }
      xmlError(res, 501, 'NotImplemented', 'A header you provided implies functionality that is not implemented.');
    });
    const adapter = adapterFor(server.url);
    const err = await expectKind(adapter.read('obj', undefined), 'NotImplemented');
    expect(err.message).toBe('read object: the object store does not implement this (NotImplemented, HTTP 501)');
    expect(server.requests).toHaveLength(1);
    await expectKind(adapter.stat('obj'), 'NotImplemented'); // HEAD: no error body, mapped by status
    const upload = adapter.uploadPart({ uploadId: 'u', key: 'k', partNumber: 1, body: Readable.from([Buffer.from('part')]) });
    await expectKind(upload, 'NotImplemented');
    expect(server.requests.filter((r) => r.method === 'PUT')).toHaveLength(1);
  });

  test('a server that drops connections: retried, then Unavailable', async () => {
    const server = await serve((req) => {
      req.socket.destroy();
    });
    const err = await expectKind(adapterFor(server.url).read('obj', undefined), 'Unavailable');
    expect(server.requests).toHaveLength(3);
    expect(err.cause).toBeDefined();
  }, 20_000);

  test('connection refused is Unavailable', async () => {
    const server = await serve(() => undefined);
    const url = server.url;
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    await expectKind(adapterFor(url, { maxAttempts: 2 }).stat('obj'), 'Unavailable');
  });

  test('AccessDenied is Denied and not retried; NoSuchKey is NotFound; 412 is PreconditionFailed', async () => {
    const server = await serve((req, res) => {
      req.resume();
      if (req.url?.includes('denied')) xmlError(res, 403, 'AccessDenied', 'Access Denied');
      else if (req.url?.includes('changed')) xmlError(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
      else xmlError(res, 404, 'NoSuchKey', 'The specified key does not exist.');
    });
    const adapter = adapterFor(server.url);
    await expectKind(adapter.read('denied', undefined), 'Denied');
    expect(server.requests).toHaveLength(1);
    await expectKind(adapter.read('missing', undefined), 'NotFound');
    await expectKind(adapter.read('changed', undefined, { ifMatch: '"abc"' }), 'PreconditionFailed');
    expect(server.requests).toHaveLength(3);
  });

  test('NoSuchUpload from the store is NoSuchUpload', async () => {
    const server = await serve((req, res) => {
      req.resume();
      xmlError(res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
    });
    const adapter = adapterFor(server.url);
    await expectKind(adapter.listParts('obj', 'abc'), 'NoSuchUpload');
    await expectKind(adapter.abortMultipartUpload('obj', 'abc'), 'NoSuchUpload');
    await expectKind(adapter.getMultipartUpload('obj', 'abc'), 'NoSuchUpload');
  });

  test('a silent server times out (requestTimeoutMs) as Unavailable; an aborted read is Aborted', async () => {
    const server = await serve(() => undefined); // never answers
    const started = Date.now();
    await expectKind(adapterFor(server.url, { maxAttempts: 1, requestTimeoutMs: 300 }).stat('obj'), 'Unavailable');
    expect(Date.now() - started).toBeLessThan(5000);

    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expectKind(adapterFor(server.url, { maxAttempts: 1 }).read('obj', undefined, { signal: controller.signal }), 'Aborted');
  });

  test('a body cut short after the headers errors the stream with a UfsError', async () => {
    const server = await serve((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': '1000', etag: '"abc"', 'last-modified': new Date().toUTCString() });
      res.write(Buffer.alloc(10));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const stream = await adapterFor(server.url).read('obj', undefined);
    const err = await new Promise<unknown>((resolve) => {
      stream.on('error', resolve);
      stream.resume();
    });
    expect(isUfsError(err, 'Unavailable') || isUfsError(err, 'Aborted')).toBe(true);
  });
});

describe('mapS3Error', () => {
  const sdkError = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error('message from the store'), { name, $metadata: status === undefined ? {} : { httpStatusCode: status }, ...extra });

  test.each<[unknown, UfsErrorKind]>([
    [sdkError('NoSuchKey', 404), 'NotFound'],
    [sdkError('NotFound', 404), 'NotFound'],
    [sdkError('NoSuchUpload', 404), 'NoSuchUpload'],
    [sdkError('PreconditionFailed', 412), 'PreconditionFailed'],
    [sdkError('Unknown', 412), 'PreconditionFailed'],
    [sdkError('InvalidRange', 416), 'PreconditionFailed'],
    [sdkError('AccessDenied', 403), 'Denied'],
    [sdkError('SignatureDoesNotMatch', 403), 'Denied'],
    [sdkError('Forbidden', 403), 'Denied'],
    [sdkError('CredentialsProviderError'), 'Denied'],
    [sdkError('SlowDown', 503), 'Throttled'],
    [sdkError('ServiceUnavailable', 503), 'Throttled'],
    [sdkError('ThrottlingException', 400), 'Throttled'],
    [sdkError('Unknown', 429), 'Throttled'],
    [sdkError('InternalError', 500), 'Unavailable'],
    [sdkError('Unknown', 502), 'Unavailable'],
    [sdkError('NoSuchBucket', 404), 'Unavailable'],
    [sdkError('InvalidPart', 400), 'InvalidPart'],
    [sdkError('InvalidPartOrder', 400), 'InvalidPartOrder'],
    [sdkError('EntityTooSmall', 400), 'EntityTooSmall'],
    [sdkError('KeyTooLongError', 400), 'InvalidKey'],
    [sdkError('TimeoutError'), 'Unavailable'],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'Unavailable'],
    [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'Unavailable'],
    [sdkError('AbortError'), 'Aborted'],
    [sdkError('SomethingNew', 400), 'Unavailable'],
  ])('%s -> %s', (err, kind) => {
    const mapped = mapS3Error(err, 'stat object');
    expect(mapped.kind).toBe(kind);
    expect(mapped.cause).toBe(err);
    expect(mapped.message).not.toContain('message from the store');
  });

  test('a fired signal wins; UFS errors pass through', () => {
    const controller = new AbortController();
    controller.abort();
    expect(mapS3Error(sdkError('InternalError', 500), 'read object', controller.signal).kind).toBe('Aborted');
    const already = mapS3Error(sdkError('NoSuchKey', 404), 'x');
    expect(mapS3Error(already, 'y')).toBe(already);
  });
});
