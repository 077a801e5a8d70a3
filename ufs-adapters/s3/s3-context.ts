/**
 * What every S3 operation needs: the SDK client, the bucket, the key prefix mapping and the
 * error-mapping call wrapper.
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { ufsError } from '../errors';
import { utf8Length } from '../utf8-order';
import type { ResolvedS3Config } from './s3-config';
import { mapS3Error } from './s3-errors';

/** The adapter's own folder below the mount prefix: the bucket's settings (s3-bucket-settings.ts). Never a key. */
export const SETTINGS_FOLDER = '.ringcache-settings/';

export interface S3Context {
  readonly client: S3Client;
  readonly config: ResolvedS3Config;
  readonly bucket: string;
  /** Gateway key -> store key. Throws InvalidKey for keys S3 cannot hold. */
  storeKey(key: string): string;
  /** Store key -> gateway key, or undefined for keys outside the mount prefix. */
  gatewayKey(storeKey: string): string | undefined;
  /** Runs one SDK call, mapping its errors to UFS errors. */
  call<T>(action: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T>;
}

const MAX_KEY_BYTES = 1024;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * SDK log lines. Failed commands are not logged (the SDK logs each one at error level, a 404
 * included): they reach the caller as typed UFS errors. Warnings go to the console, except the
 * one printed for every failed stream upload (the adapter retries those itself).
 */
const sdkLogger = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('non-retryable streaming request')) return;
    console.warn(...args);
  },
  error: () => undefined,
};

export function createS3Client(config: ResolvedS3Config): S3Client {
  const agent = { keepAlive: true, maxSockets: config.maxSockets };
  const clientConfig: S3ClientConfig = {
    region: config.region,
    endpoint: config.endpoint,
    forcePathStyle: config.forcePathStyle,
    credentials: config.credentials,
    profile: config.credentials ? undefined : config.profile,
    // Standard retry mode: exponential backoff with jitter for throttling, 5xx and transient
    // network errors, with the client-side retry quota. Stated here so SDK default changes
    // (or AWS_MAX_ATTEMPTS in the environment) do not change the gateway's behaviour silently.
    retryMode: 'standard',
    maxAttempts: config.maxAttempts,
    // Checksums only where the API requires them: many S3-compatible stores (older Ceph RGW,
    // MinIO, OSS, ECS) reject the aws-chunked trailers the SDK sends by default since 3.729.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    logger: sdkLogger,
    // On AWS, follow a bucket that lives in another region instead of failing.
    followRegionRedirects: config.endpoint === undefined,
    requestHandler: {
      connectionTimeout: config.connectTimeoutMs || undefined,
      socketTimeout: config.requestTimeoutMs || undefined,
      httpAgent: agent,
      httpsAgent: agent,
    },
  };
  return new S3Client(clientConfig);
}

export function createS3Context(config: ResolvedS3Config, client: S3Client): S3Context {
  const prefix = config.keyPrefix;
  return {
    client,
    config,
    bucket: config.bucket,
    storeKey(key: string): string {
      if (typeof key !== 'string' || key === '') throw ufsError('InvalidKey', 'the key must not be empty');
      if (LONE_SURROGATE.test(key)) throw ufsError('InvalidKey', 'the key is not valid UTF-8');
      // HTTP servers and proxies in front of S3-compatible stores may resolve dot segments,
      // which would step out of the mount prefix (or, path-style, into another bucket).
      if (key.split('/').some((segment) => segment === '.' || segment === '..')) {
        throw ufsError('InvalidKey', "keys with '.' or '..' segments are refused");
      }
      if (key.startsWith(SETTINGS_FOLDER)) throw ufsError('InvalidKey', 'the key lies in a folder reserved by the gateway');
      const full = prefix + key;
      if (utf8Length(full) > MAX_KEY_BYTES) throw ufsError('InvalidKey', 'the key is too long for the object store (with the mount prefix)');
      return full;
    },
    gatewayKey(storeKey: string): string | undefined {
      if (!storeKey.startsWith(prefix)) return undefined;
      return storeKey.slice(prefix.length);
    },
    async call<T>(action: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
      if (signal?.aborted) throw ufsError('Aborted', `${action}: aborted`, signal.reason);
      try {
        return await fn();
      } catch (err) {
        throw mapS3Error(err, action, signal);
      }
    },
  };
}

/** S3 sends ETags quoted; some S3-compatible stores do not. */
export const quoteEtag = (etag: string | undefined): string => {
  const value = (etag ?? '').trim();
  if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) return value;
  if (value.startsWith('W/')) return value;
  return `"${value}"`;
};

import { unquoteEtag as stripQuotes } from '../object-metadata';
export { stripQuotes };

export const sameEtag = (a: string | undefined, b: string | undefined): boolean =>
  a !== undefined && b !== undefined && stripQuotes(a).toLowerCase() === stripQuotes(b).toLowerCase();


/**
 * S3's `encoding-type=url` replies encode keys like HTML forms ("+" for a space). Applied only
 * when the store says it encoded (stores that ignore the parameter send raw keys).
 */
export const decodeListedKey = (value: string, encodingType: string | undefined): string =>
  encodingType === 'url' ? decodeURIComponent(value.replace(/\+/g, ' ')) : value;
