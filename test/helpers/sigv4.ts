/**
 * What the SigV4 tests sign with, independent of the gateway's own code: node:crypto as the
 * `sha256` constructor @smithy/signature-v4 wants, the SDK's URI escaping, and an S3 client that
 * records the requests it signs instead of sending them.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { HttpResponse, type HttpRequest } from '@smithy/protocol-http';

type SourceData = string | ArrayBuffer | ArrayBufferView;

function toBuf(d: SourceData): string | Buffer {
  if (typeof d === 'string') return d;
  return ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d);
}

/** node:crypto as the `sha256` constructor SignatureV4 wants (what @smithy/hash-node does): SHA-256, or HMAC-SHA256 with a secret. */
export class TestSha256 {
  private readonly h: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuf(secret));
  }
  /** @public SignatureV4 calls it. */
  update(data: SourceData): void {
    this.h.update(toBuf(data));
  }
  /** @public SignatureV4 calls it. */
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
}

/** The SDK's escapeUri: RFC 3986, with !'()* escaped too (upper-case hex). */
export const escapeUri = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * A real S3 client (path style, us-east-1, endpoint 127.0.0.1:9000, no retries) whose request
 * handler records each signed request and answers an empty 200 instead of sending it.
 */
export function capturingS3Client(credentials: { accessKeyId: string; secretAccessKey: string }): { client: S3Client; captured: HttpRequest[] } {
  const captured: HttpRequest[] = [];
  const requestHandler = {
    handle: async (request: HttpRequest) => {
      captured.push(request);
      return { response: new HttpResponse({ statusCode: 200, headers: {}, body: Readable.from([Buffer.alloc(0)]) }) };
    },
  };
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9000',
    forcePathStyle: true,
    maxAttempts: 1,
    credentials,
    requestHandler: requestHandler as unknown as S3ClientConfig['requestHandler'],
  });
  return { client, captured };
}
