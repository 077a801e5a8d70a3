/**
 * `ringcache purge BUCKET/KEY` and `ringcache purge --prefix BUCKET/PREFIX`: asks a running
 * gateway to drop cached metadata and pages. The request is SigV4-signed with the
 * credentials of the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { NodeSha256 } from './s3/auth/sha256';
import type { ClientCredentials } from './config/load-config';

export async function purgeCommand(target: string, options: { prefix: boolean; endpoint: string; credentials: ClientCredentials }): Promise<string> {
  const slash = target.indexOf('/');
  const bucket = slash === -1 ? target : target.slice(0, slash);
  const rest = slash === -1 ? '' : target.slice(slash + 1);
  if (!options.prefix && rest === '') throw new Error('give BUCKET/KEY, or --prefix BUCKET/PREFIX');
  const query: Record<string, string> = { bucket, [options.prefix ? 'prefix' : 'key']: rest };
  const url = new URL(options.endpoint);
  const signer = new SignatureV4({ service: 's3', region: options.credentials.region, credentials: options.credentials, sha256: NodeSha256, uriEscapePath: false });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: '/_ringcache/cache/purge',
      query,
      headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    }),
  );
  const search = new URLSearchParams(query).toString().replace(/\+/g, '%20');
  const res = await fetch(`${url.origin}/_ringcache/cache/purge?${search}`, { method: 'POST', headers: signed.headers });
  const text = await res.text();
  if (!res.ok) throw new Error(`purge failed (${res.status}): ${text}`);
  return text;
}
