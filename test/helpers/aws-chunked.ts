/**
 * Encodes aws-chunked bodies as streaming SigV4 clients do, for wire-level tests:
 * STREAMING-AWS4-HMAC-SHA256-PAYLOAD with real chunk signatures, and
 * STREAMING-UNSIGNED-PAYLOAD-TRAILER with a checksum trailer.
 */
import { createHash } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../../src/s3/auth/sha256';

const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');
const sha256Hex = (d: Buffer | string) => createHash('sha256').update(d).digest('hex');

function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export async function encodeSignedChunks(
  chunks: Buffer[],
  opts: { seed: string; date: Date; region: string; credentials: { accessKeyId: string; secretAccessKey: string } },
): Promise<Buffer> {
  const signer = new SignatureV4({ service: 's3', region: opts.region, credentials: opts.credentials, sha256: NodeSha256, uriEscapePath: false });
  const scope = `${amzDate(opts.date).slice(0, 8)}/${opts.region}/s3/aws4_request`;
  const parts: Buffer[] = [];
  let previous = opts.seed;
  for (const data of [...chunks, Buffer.alloc(0)]) {
    const stringToSign = ['AWS4-HMAC-SHA256-PAYLOAD', amzDate(opts.date), scope, previous, EMPTY_SHA256, sha256Hex(data)].join('\n');
    const signature = await signer.sign(stringToSign, { signingDate: opts.date, signingRegion: opts.region, signingService: 's3' });
    parts.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${signature}\r\n`));
    if (data.length > 0) parts.push(data);
    parts.push(Buffer.from('\r\n'));
    previous = signature;
  }
  return Buffer.concat(parts);
}

export function encodeUnsignedChunks(chunks: Buffer[], trailer: { name: string; value: string }): Buffer {
  const parts: Buffer[] = [];
  for (const data of chunks) parts.push(Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n'));
  parts.push(Buffer.from(`0\r\n${trailer.name}:${trailer.value}\r\n\r\n`));
  return Buffer.concat(parts);
}
