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
import { hasPresignedParams } from './auth/parse-presigned';
import { applyHoistedHeaders } from './presigned-hoisted-headers';
import { accessLevel, authorize } from './authorize';
import { aclAccess, GRANTED, type Access } from './acl/acl-access';
import { BucketSettings } from './bucket-settings';
import { needsBucket } from './context';
import { OPERATION_ACCESS, parseEndpoint, type Endpoint } from './endpoint';
import { S3Error, s3Error } from './errors';

interface Identified {
  endpoint: Endpoint;
  auth: AuthResult;
  /** The configured credential that signed the request; undefined for anonymous requests. */
  credential: Credential | undefined;
}

const IDENTIFIED = Symbol('ringcache.identified');
type Marked = IncomingMessage & { [IDENTIFIED]?: Identified };

/** The bucket a request works on, and how the request was allowed to (see acl/acl-access.ts). */
interface Authorized {
  bucket: Bucket | undefined;
  access: Access;
}

export class RequestResolver {
  readonly authenticator: Authenticator;
  /** Each bucket's ACL and CORS rules, as its store keeps them. */
  readonly settings: BucketSettings;
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
    this.settings = new BucketSettings(config.server.bucketSettingsTtlSeconds * 1000);
  }

  /** Whether ACLs are honoured and may be set (server.acls; false is S3's "bucket owner enforced"). */
  get aclsEnabled(): boolean {
    return this.config.server.acls;
  }

  /** Whether `id` names a configured access key (ACL grantees must). */
  readonly isKnownKey = (id: string): boolean => this.credentials.has(id);

  /** The configured credential of an access key id. */
  readonly credentialOf = (id: string): Credential | undefined => this.credentials.get(id);

  /**
   * `bucketOf`, and where the grants refuse the request, what the bucket's ACL (and for object
   * reads, the object's ACL, checked by the handler) allows instead.
   */
  async authorized(id: Identified): Promise<Authorized> {
    try {
      return { bucket: await this.bucketOf(id), access: GRANTED };
    } catch (err) {
      const bucket = await this.aclBucket(id, err);
      const settings = await this.settings.get(bucket);
      const access = aclAccess(id.endpoint.op, id.auth, settings.acl, this.listable(id, bucket));
      if (!access) throw err;
      return { bucket, access };
    }
  }

  /** The bucket whose ACL may allow what `refusal` refused; rethrows `refusal` when ACLs cannot. */
  private async aclBucket(id: Identified, refusal: unknown): Promise<Bucket> {
    const { endpoint } = id;
    if (!this.aclsEnabled || !(refusal instanceof S3Error) || refusal.code !== 'AccessDenied' || !('bucket' in endpoint) || !needsBucket(endpoint)) throw refusal;
    // A key without a grant learns nothing about bucket names: a missing one stays AccessDenied.
    return this.buckets.get(endpoint.bucket as string).catch(() => {
      throw refusal;
    });
  }

  /** The bucket of that name, or undefined when there is none (no error). */
  async bucketNamed(name: string): Promise<Bucket | undefined> {
    return this.buckets.peek(name) ?? this.buckets.get(name).catch(() => undefined);
  }

  /** Whether the requester may list the bucket without its ACL (a grant, or the mount's anonymousRead). */
  private listable(id: Identified, bucket: Bucket): boolean {
    return id.auth.kind === 'anonymous' ? bucket.anonymousRead : accessLevel(id.credential, bucket.name) !== 'none';
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
    // A presigned write: the x-amz-* headers its presigner moved into the (signed) query apply.
    if (auth.kind === 'signed' && method !== 'GET' && method !== 'HEAD' && req.headers.authorization === undefined && hasPresignedParams(target.params)) {
      applyHoistedHeaders(target.params, req.headers);
    }
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
   * it (by its grants, or by ACLs this node holds a fresh copy of); undefined when the answer
   * needs I/O or is an error (the caller hands the request on).
   */
  peekAuthorized(id: Identified): (Authorized & { bucket: Bucket }) | undefined {
    const { endpoint, auth, credential } = id;
    if (!('bucket' in endpoint) || endpoint.bucket === undefined || !needsBucket(endpoint)) return undefined;
    const bucket = this.buckets.peek(endpoint.bucket);
    if (!bucket) return undefined;
    try {
      authorize(auth, credential, OPERATION_ACCESS[endpoint.op], bucket, endpoint.op);
      return { bucket, access: GRANTED };
    } catch {
      if (!this.aclsEnabled) return undefined;
    }
    const settings = this.settings.peek(bucket);
    const access = settings && aclAccess(endpoint.op, auth, settings.acl, this.listable(id, bucket));
    return access ? { bucket, access } : undefined;
  }
}
