/**
 * Resolves an S3 request once: the endpoint (typed parameters), who signed it, and the bucket it
 * works on, authorized. The warm-hit path and the fastify handler share this; what the hit path
 * resolved before it handed a request on is kept on the request, not computed again.
 */
import type { IncomingMessage } from 'node:http';
import type { Credential, RingcacheConfig } from '../config/schema';
import type { Bucket, BucketRegistry } from '../mounts/bucket-registry';
import { Authenticator, type AuthResult } from './auth';
import { splitRawUrl } from './auth/raw-url';
import { authorize } from './authorize';
import { needsBucket } from './context';
import { OPERATION_ACCESS, parseEndpoint, type Endpoint } from './endpoint';
import { s3Error } from './errors';

export interface Identified {
  endpoint: Endpoint;
  auth: AuthResult;
  /** The configured credential that signed the request; undefined for anonymous requests. */
  credential: Credential | undefined;
}

const IDENTIFIED = Symbol('ringcache.identified');
type Marked = IncomingMessage & { [IDENTIFIED]?: Identified };

export class RequestResolver {
  readonly authenticator: Authenticator;
  private readonly credentials: ReadonlyMap<string, Credential>;

  constructor(
    private readonly config: Pick<RingcacheConfig, 'server' | 'credentials'>,
    private readonly buckets: BucketRegistry,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.credentials = new Map(config.credentials.map((c) => [c.accessKeyId, c]));
    this.authenticator = new Authenticator((id) => this.credentials.get(id)?.secretAccessKey, {
      signatureV2: config.server.signatureV2,
      baseDomain: config.server.baseDomain,
    });
  }

  /** Parses and authenticates (no I/O). Throws an S3Error for a malformed or badly signed request. */
  identify(req: IncomingMessage): Identified {
    const marked = req as Marked;
    const known = marked[IDENTIFIED];
    if (known) return known;
    const rawUrl = req.url ?? '/';
    const target = splitRawUrl(rawUrl);
    const method = req.method ?? 'GET';
    const endpoint = parseEndpoint({ method, rawUrl, host: req.headers.host, headers: req.headers, params: target.params }, this.config.server.baseDomain);
    const auth = this.authenticator.authenticate({ method, rawUrl, target, headers: req.headers, now: this.now() });
    const identified: Identified = { endpoint, auth, credential: auth.kind === 'signed' ? this.credentials.get(auth.accessKeyId) : undefined };
    marked[IDENTIFIED] = identified;
    return identified;
  }

  /**
   * The bucket the request works on, authorized (undefined for operations without one). Signed
   * requests are authorized on their grants before the bucket is looked up (no probing of bucket
   * names without a grant); anonymous ones need the bucket's anonymousRead mount setting.
   */
  async bucketOf(id: Identified): Promise<Bucket | undefined> {
    const { endpoint, auth, credential } = id;
    const name = 'bucket' in endpoint ? endpoint.bucket : undefined;
    const required = OPERATION_ACCESS[endpoint.op];
    if (auth.kind === 'anonymous') {
      const bucket = name === undefined ? undefined : await this.buckets.get(name).catch(() => undefined);
      // As S3: a bucket that does not exist is 404 for anyone; a private one is 403.
      if (name !== undefined && !bucket && needsBucket(endpoint)) throw s3Error('NoSuchBucket');
      authorize(auth, credential, required, name === undefined ? undefined : (bucket ?? { name, anonymousRead: false }), endpoint.op);
      return needsBucket(endpoint) ? bucket : undefined;
    }
    authorize(auth, credential, required, name === undefined ? undefined : { name, anonymousRead: false }, endpoint.op);
    return needsBucket(endpoint) ? this.buckets.get(name as string) : undefined;
  }

  /**
   * The same without waiting: the bucket when it is known without I/O and the request may use
   * it; undefined when the answer needs I/O or is an error (the caller hands the request on).
   */
  peekBucket(id: Identified): Bucket | undefined {
    const { endpoint, auth, credential } = id;
    if (!('bucket' in endpoint) || endpoint.bucket === undefined || !needsBucket(endpoint)) return undefined;
    const bucket = this.buckets.peek(endpoint.bucket);
    if (!bucket) return undefined;
    try {
      authorize(auth, credential, OPERATION_ACCESS[endpoint.op], bucket, endpoint.op);
    } catch {
      return undefined;
    }
    return bucket;
  }
}
