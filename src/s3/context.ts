/**
 * What every S3 handler receives: the parsed endpoint, who is asking, the services, and
 * an AbortSignal that fires when the client goes away (so UFS work stops with it).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Credential, RingcacheConfig } from '../config/schema';
import type { Bucket, BucketRegistry } from '../mounts/bucket-registry';
import type { AuthResult } from './auth';
import type { Endpoint } from './endpoint';
import { renderXml, type XmlObject } from './xml';
import type { Metrics } from '../admin/metrics';
import type { Cluster } from '../cluster/cluster';
import type { Placement } from '../cluster/request-router';
import type { Access } from './acl/acl-access';
import type { BucketSettings } from './bucket-settings';

export interface S3Services {
  config: RingcacheConfig;
  buckets: BucketRegistry;
  metrics: Metrics;
  /** Routing to key owners; absent in single-process tests that build the plugin alone. */
  cluster?: Cluster;
  /** Each bucket's ACL and CORS rules (bucket-settings.ts). */
  settings: BucketSettings;
  /** Whether an id is a configured access key (ACL grantees must be). */
  isKnownKey(id: string): boolean;
  /** The configured credential of an access key id (POST uploads verify their own signature). */
  credentialOf(id: string): Credential | undefined;
}

/** Operations that run without an existing bucket: no bucket, or the bucket is being created. */
type Unbucketed = 'ListBuckets' | 'CreateBucket' | 'NotImplemented';

/** The bucket an endpoint works on, resolved once before dispatch (undefined where there is none). */
export type BucketOf<E extends Endpoint> = E extends { op: Unbucketed } ? undefined : Bucket;

export const needsBucket = (endpoint: Endpoint): boolean =>
  endpoint.op !== 'ListBuckets' && endpoint.op !== 'CreateBucket' && endpoint.op !== 'NotImplemented';

export interface S3Context<E extends Endpoint = Endpoint> {
  endpoint: E;
  /** The endpoint's bucket, resolved and authorized before dispatch. */
  bucket: BucketOf<E>;
  request: FastifyRequest;
  reply: FastifyReply;
  auth: AuthResult;
  /** The configured credential that signed the request; undefined for anonymous requests. */
  credential: Credential | undefined;
  /** How the request was allowed: granted, or only if the object's ACL allows it (acl/acl-access.ts). */
  access: Access;
  services: S3Services;
  signal: AbortSignal;
  /** Why this node serves the request (it owns the key, or it stands in for owners that are down). */
  placement: Placement;
}

export type EndpointOf<Op extends Endpoint['op']> = Extract<Endpoint, { op: Op }>;

/** The access key that signed the request, or "anonymous". */
export const principal = (auth: AuthResult): string => (auth.kind === 'signed' ? auth.accessKeyId : 'anonymous');

/** Sends an S3 XML document (`renderXml`) as the response. */
export async function sendXml(ctx: S3Context, root: string, body: XmlObject): Promise<void> {
  ctx.reply.header('content-type', 'application/xml');
  await ctx.reply.send(renderXml(root, body));
}

export function header(request: Pick<FastifyRequest, 'headers'>, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}
