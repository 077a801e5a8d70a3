/**
 * A client of the load-job API for the CLI (and tests): SigV4-signed JSON requests to
 * /_ringcache/jobs, the body's SHA-256 covered by the signature.
 */
import { createHash } from 'node:crypto';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { ClientCredentials } from '../config/load-config';
import { NodeSha256 } from '../s3/auth/sha256';
import type { SubmitInput } from './job-options';
import type { JobView } from './job-types';

export class JobsRequestError extends Error {
  override name = 'JobsRequestError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class JobsClient {
  private readonly url: URL;
  private readonly signer: SignatureV4;

  constructor(endpoint: string, credentials: ClientCredentials) {
    this.url = new URL(endpoint);
    this.signer = new SignatureV4({ service: 's3', region: credentials.region, credentials, sha256: NodeSha256, uriEscapePath: false });
  }

  submit(input: SubmitInput): Promise<JobView> {
    return this.request('POST', '/_ringcache/jobs', input) as Promise<JobView>;
  }

  get(id: string): Promise<JobView> {
    return this.request('GET', `/_ringcache/jobs/${encodeURIComponent(id)}`) as Promise<JobView>;
  }

  async list(): Promise<JobView[]> {
    return ((await this.request('GET', '/_ringcache/jobs')) as { jobs: JobView[] }).jobs;
  }

  cancel(id: string): Promise<JobView> {
    return this.request('DELETE', `/_ringcache/jobs/${encodeURIComponent(id)}`) as Promise<JobView>;
  }

  private async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const headers: Record<string, string> = {
      host: this.url.host,
      'x-amz-content-sha256': createHash('sha256').update(payload).digest('hex'),
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const signed = await this.signer.sign(
      new HttpRequest({
        method,
        protocol: this.url.protocol,
        hostname: this.url.hostname,
        port: this.url.port ? Number(this.url.port) : undefined,
        path,
        headers,
        body: payload,
      }),
    );
    let res: Response;
    try {
      res = await fetch(`${this.url.origin}${path}`, { method, headers: signed.headers, body: body === undefined ? undefined : payload });
    } catch (err) {
      throw new JobsRequestError(0, 'Unreachable', `cannot reach ${this.url.origin}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new JobsRequestError(res.status, 'InvalidResponse', `${method} ${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
    if (!res.ok) {
      const { error, message } = parsed as { error?: string; message?: string };
      throw new JobsRequestError(res.status, error ?? 'Error', `${error ?? `HTTP ${res.status}`}: ${message ?? text}`);
    }
    return parsed;
  }
}
