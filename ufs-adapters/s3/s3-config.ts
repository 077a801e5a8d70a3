/**
 * Configuration of the S3 adapter: the mount URI
 *   s3://bucket[/prefix]?endpoint=http://host:port&region=us-east-1&pathStyle=true&profile=name
 * plus an options object (credentials, timeouts, part sizes). Options given in code win over
 * the same setting in the URI query.
 */
import os from 'node:os';
import path from 'node:path';
import { MIN_PART_SIZE } from '../types';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3AdapterOptions {
  /** Static credentials. Without them the SDK's default provider chain is used (env, profile, SSO, web identity, ECS/EC2 metadata). */
  credentials?: S3Credentials;
  /** Shared config/credentials profile for the default chain (ignored with explicit `credentials`). */
  profile?: string;
  /** Custom endpoint (MinIO, Ceph RGW, ECS, OSS, ...), e.g. "http://127.0.0.1:9000". */
  endpoint?: string;
  /** Signing region. Defaults to the SDK chain (AWS_REGION, profile), or "us-east-1" with a custom endpoint. */
  region?: string;
  /** Path-style addressing (http://host/bucket/key). Defaults to true with a custom endpoint, false for AWS. */
  forcePathStyle?: boolean;
  /** Attempts per request, including the first (SDK standard retry mode). Default 5. */
  maxAttempts?: number;
  /** A request fails when its connection sends and receives nothing for this long. Default 60 000 ms. */
  requestTimeoutMs?: number;
  /** Time allowed to establish a TCP/TLS connection. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Part size of streamed writes (5 MiB .. 5 GiB). Default 8 MiB. */
  partSize?: number;
  /** Parts of one streamed write uploading at the same time. Default 4. */
  queueSize?: number;
  /** Sockets per host. Default 64. */
  maxSockets?: number;
  /** Directory for the temp files of UploadPart bodies. Default `<os.tmpdir()>/ringcache-s3`. */
  tmpDir?: string;
  /** Sources larger than this are copied with UploadPartCopy (S3's CopyObject limit is 5 GiB). */
  multipartCopyThreshold?: number;
  /** Range size of each UploadPartCopy. Default 512 MiB (raised so that at most 10 000 parts are needed). */
  multipartCopyPartSize?: number;
}

export interface S3AdapterConfig extends S3AdapterOptions {
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing "/" ("" for the whole bucket). */
  prefix?: string;
}

/** Everything with its default applied. */
export interface ResolvedS3Config {
  bucket: string;
  /** "" or "<prefix>/": prepended to every gateway key. */
  keyPrefix: string;
  credentials?: S3Credentials;
  profile?: string;
  endpoint?: string;
  region?: string;
  forcePathStyle: boolean;
  maxAttempts: number;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  partSize: number;
  queueSize: number;
  maxSockets: number;
  tmpDir: string;
  multipartCopyThreshold: number;
  multipartCopyPartSize: number;
}

const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const DEFAULT_QUEUE_SIZE = 4;
const DEFAULT_MAX_ATTEMPTS = 5;
/** S3's limit for PutObject, UploadPart and CopyObject. */
const MAX_SINGLE_OPERATION_SIZE = 5 * 1024 ** 3;

export class S3ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'S3ConfigError';
  }
}

const QUERY_KEYS = new Set([
  'endpoint',
  'region',
  'pathStyle',
  'forcePathStyle',
  'profile',
  'maxAttempts',
  'requestTimeoutMs',
  'connectTimeoutMs',
  'partSize',
  'queueSize',
]);

function parseBoolean(name: string, value: string): boolean {
  if (/^(true|1|yes)$/i.test(value)) return true;
  if (/^(false|0|no)$/i.test(value)) return false;
  throw new S3ConfigError(`s3 mount URI: ${name} must be true or false`);
}

function parseInteger(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new S3ConfigError(`s3 mount URI: ${name} must be a non-negative integer`);
  return Number(value);
}

/** Splits a prefix into its normalised form: no leading/trailing "/", "" when absent. */
function normalizePrefix(prefix: string | undefined): string {
  return (prefix ?? '').replace(/^\/+/, '').replace(/\/+$/, '');
}

/**
 * Parses `s3://bucket/optional/prefix?endpoint=…&region=…&pathStyle=true&profile=…`
 * (also maxAttempts, requestTimeoutMs, connectTimeoutMs, partSize, queueSize). The prefix is
 * percent-decoded. Unknown query parameters are refused, so a typo does not go unnoticed.
 */
export function parseS3Uri(uri: string): S3AdapterConfig {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new S3ConfigError('s3 mount URI is not a valid URI');
  }
  if (url.protocol !== 's3:') throw new S3ConfigError(`s3 mount URI must start with s3:// (got ${url.protocol}//)`);
  if (url.username || url.password) throw new S3ConfigError('s3 mount URI must not contain credentials; pass them as options or use the default chain');
  if (url.port) throw new S3ConfigError('s3 mount URI: put the port in the endpoint parameter, not after the bucket');
  const bucket = decodeURIComponent(url.hostname);
  if (!bucket || bucket.includes('/')) throw new S3ConfigError('s3 mount URI must name a bucket: s3://bucket/optional/prefix');
  let prefix: string;
  try {
    prefix = normalizePrefix(decodeURIComponent(url.pathname));
  } catch {
    throw new S3ConfigError('s3 mount URI: the prefix is not valid percent-encoded UTF-8');
  }
  const config: S3AdapterConfig = { bucket, prefix };
  for (const [name, value] of url.searchParams) {
    if (!QUERY_KEYS.has(name)) throw new S3ConfigError(`s3 mount URI: unknown parameter ${name}`);
    switch (name) {
      case 'endpoint':
        config.endpoint = value;
        break;
      case 'region':
        config.region = value;
        break;
      case 'pathStyle':
      case 'forcePathStyle':
        config.forcePathStyle = parseBoolean(name, value);
        break;
      case 'profile':
        config.profile = value;
        break;
      case 'maxAttempts':
      case 'requestTimeoutMs':
      case 'connectTimeoutMs':
      case 'partSize':
      case 'queueSize':
        config[name] = parseInteger(name, value);
        break;
    }
  }
  return config;
}

function checkRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new S3ConfigError(`s3 adapter: ${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** Applies defaults and validates. */
export function resolveS3Config(config: S3AdapterConfig): ResolvedS3Config {
  if (!config.bucket) throw new S3ConfigError('s3 adapter: bucket is required');
  let endpoint: string | undefined;
  if (config.endpoint !== undefined && config.endpoint !== '') {
    let url: URL;
    try {
      url = new URL(config.endpoint);
    } catch {
      throw new S3ConfigError('s3 adapter: endpoint must be an http:// or https:// URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new S3ConfigError('s3 adapter: endpoint must be an http:// or https:// URL');
    endpoint = url.toString().replace(/\/$/, '');
  }
  const prefix = normalizePrefix(config.prefix);
  const credentials = config.credentials;
  if (credentials && (!credentials.accessKeyId || !credentials.secretAccessKey)) {
    throw new S3ConfigError('s3 adapter: credentials need accessKeyId and secretAccessKey');
  }
  const partSize = checkRange('partSize', config.partSize ?? DEFAULT_PART_SIZE, MIN_PART_SIZE, MAX_SINGLE_OPERATION_SIZE);
  return {
    bucket: config.bucket,
    keyPrefix: prefix ? `${prefix}/` : '',
    credentials,
    profile: config.profile || undefined,
    endpoint,
    region: config.region || (endpoint ? 'us-east-1' : undefined),
    forcePathStyle: config.forcePathStyle ?? endpoint !== undefined,
    maxAttempts: checkRange('maxAttempts', config.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, 1, 100),
    requestTimeoutMs: checkRange('requestTimeoutMs', config.requestTimeoutMs ?? 60_000, 0, 24 * 3600_000),
    connectTimeoutMs: checkRange('connectTimeoutMs', config.connectTimeoutMs ?? 10_000, 0, 3600_000),
    partSize,
    queueSize: checkRange('queueSize', config.queueSize ?? DEFAULT_QUEUE_SIZE, 1, 64),
    maxSockets: checkRange('maxSockets', config.maxSockets ?? 64, 1, 10_000),
    tmpDir: config.tmpDir ?? path.join(os.tmpdir(), 'ringcache-s3'),
    multipartCopyThreshold: checkRange('multipartCopyThreshold', config.multipartCopyThreshold ?? MAX_SINGLE_OPERATION_SIZE, 0, MAX_SINGLE_OPERATION_SIZE),
    multipartCopyPartSize: checkRange('multipartCopyPartSize', config.multipartCopyPartSize ?? 512 * 1024 * 1024, MIN_PART_SIZE, MAX_SINGLE_OPERATION_SIZE),
  };
}
