/**
 * GET /_ringcache/cluster/ring signed with an admin key (the ring view needs one; builds before
 * issue #13 answered it unsigned and ignore the signature). Resolves undefined on any failure,
 * for polling loops.
 */
import http from 'node:http';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../../src/s3/auth/sha256';

export interface RingViewAnswer {
  members: { id: string }[];
  lease?: boolean;
  settlingMs?: number;
  epoch?: number;
}

export async function fetchRingView(url: string, credentials: { accessKeyId: string; secretAccessKey: string }): Promise<RingViewAnswer | undefined> {
  const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials, sha256: NodeSha256, uriEscapePath: false });
  const { hostname, port, host, protocol } = new URL(url);
  const request = new HttpRequest({ method: 'GET', protocol, hostname, port: Number(port), path: '/_ringcache/cluster/ring', headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
  const signed = await signer.sign(request);
  return new Promise((resolve) => {
    const req = http.get(`${url}/_ringcache/cluster/ring`, { headers: signed.headers, timeout: 3000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? (JSON.parse(text) as RingViewAnswer) : undefined);
        } catch {
          resolve(undefined);
        }
      });
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}
