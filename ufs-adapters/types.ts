/**
 * The under-file-system (UFS) contract. Every adapter (local/NFS, S3, GCS, HDFS)
 * implements this one narrow interface. Adapters know nothing about HTTP: they throw
 * the typed errors of `./errors.ts`, and only the S3 layer maps them to S3 codes.
 */
import type { Readable } from 'node:stream';

/** The checksum algorithms S3 defines (x-amz-checksum-*), the one list of them. */
export const CHECKSUM_ALGORITHMS = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const;

export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

export const isChecksumAlgorithm = (name: string): name is ChecksumAlgorithm => (CHECKSUM_ALGORITHMS as readonly string[]).includes(name);

/** Base64 checksum values keyed by algorithm, as S3 returns them in x-amz-checksum-*. */
export type ChecksumMap = Partial<Record<ChecksumAlgorithm, string>>;

/** HTTP-visible metadata that S3 stores with an object and returns on GET/HEAD. */
export interface ObjectHttpMetadata {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  /** Raw value of the Expires header, as the client sent it. */
  expires?: string;
}

export interface ObjectMetadata extends ObjectHttpMetadata {
  /** x-amz-meta-* without the prefix, names lower-cased. */
  userMetadata: Record<string, string>;
  /**
   * Checksums of the whole object. A value ending in "-<N>" is the composite checksum of a
   * multipart object of N parts (the checksum of the parts' checksums), any other a full-object one.
   */
  checksums?: ChecksumMap;
  /**
   * Multipart objects with a COMPOSITE checksum: each part's checksum (base64, in the algorithm
   * of `checksums`), in part order, as the S3 layer hands them over at completion (`late`).
   * Stores keep them beside `partSizes` where they have room; absent means "not known" (objects
   * stored before, or a list too large for the store's metadata), and GetObjectAttributes then
   * lists no parts.
   */
  partChecksums?: string[];
  /**
   * The object's access control list, encoded by the S3 layer (ASCII text). Opaque to stores: kept
   * with the rest of the metadata, written atomically with the object, returned by stat.
   */
  acl?: string;
  /**
   * Multipart uploads: the checksum algorithm (and type) CreateMultipartUpload named, encoded by
   * the S3 layer ("SHA256", "CRC32/FULL_OBJECT"). Kept with the upload.
   */
  checksumAlgorithm?: string;
}

/** Documents about a bucket itself, kept by its store beside (never among) its objects. */
export type BucketSettingName = 'acl' | 'cors';

export interface ObjectInfo extends ObjectMetadata {
  key: string;
  size: number;
  /** Quoted, as S3 sends it: "\"9b2cf535f27731c974343645a3985328\"" or "\"…-3\"" for multipart. */
  etag: string;
  lastModified: Date;
  /** Present for objects assembled by multipart upload: byte size of each part, in order. */
  partSizes?: number[];
}

/** Inclusive byte range, already validated against the object size. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface ReadOptions {
  signal?: AbortSignal;
  /**
   * Quoted ETag of the version the caller expects. The read returns bytes of that version only:
   * if the object is now another version, it fails with UfsError PreconditionFailed before any
   * byte is returned (a store that can still read the expected version, such as the local
   * adapter from a file it holds open, may serve that instead), so a cache never mixes pages of
   * two versions.
   */
  ifMatch?: string;
}

export interface ListOptions {
  prefix: string;
  /** Only "/" must be supported natively; adapters may roll up other delimiters generically. */
  delimiter?: string;
  /** Return only entries whose key (or common prefix) sorts strictly after this string (UTF-8 byte order). */
  startAfter?: string;
  signal?: AbortSignal;
}

export type ListEntry =
  | { kind: 'object'; key: string; size: number; etag: string; lastModified: Date }
  | { kind: 'prefix'; prefix: string };

export interface WriteRequest {
  key: string;
  body: Readable;
  metadata: ObjectMetadata;
  /**
   * Called once after `body` has ended successfully and before the object is committed.
   * Used by the S3 layer to supply checksums that are only known at the end of the stream
   * (trailers). If it throws, the write is abandoned and nothing is committed.
   */
  beforeCommit?: () => Promise<Partial<ObjectMetadata>> | Partial<ObjectMetadata>;
  signal?: AbortSignal;
}

export interface WriteResult {
  etag: string;
  size: number;
  lastModified: Date;
}

export interface CopyRequest {
  sourceKey: string;
  destinationKey: string;
  /** When set, replaces the source's metadata (MetadataDirective REPLACE); otherwise it is copied. */
  metadata?: ObjectMetadata;
  signal?: AbortSignal;
}

export interface MultipartUpload {
  uploadId: string;
  key: string;
  initiated: Date;
}

export interface PartInfo {
  partNumber: number;
  etag: string;
  size: number;
  lastModified: Date;
  /** Checksums of the part's bytes, as the S3 layer supplied them at upload (kept with the part). */
  checksums?: ChecksumMap;
}

export interface UploadPartRequest {
  uploadId: string;
  key: string;
  partNumber: number;
  body: Readable;
  /**
   * Called once after `body` has ended and before the part is committed; it may return the part's
   * checksums (known only at the end of the body), which the store keeps with the part. If it
   * throws, nothing is committed.
   */
  beforeCommit?: () => Promise<{ checksums?: ChecksumMap } | void> | { checksums?: ChecksumMap } | void;
  signal?: AbortSignal;
}

export interface CompletedPart {
  partNumber: number;
  etag: string;
}

export interface UfsCapabilities {
  /** Server-side copy without streaming bytes through the gateway. */
  nativeCopy: boolean;
  /** Multipart completion without re-reading part bytes (S3 multipart, GCS compose, HDFS CONCAT). */
  nativeMultipartComplete: boolean;
  /** Delimiters other than "/" are pushed down to the store. */
  anyDelimiter: boolean;
  /** Can hold a key "a" and a key "a/b" at the same time (POSIX stores cannot). */
  fileAndPrefixWithSameName: boolean;
}

export interface UfsAdapter {
  readonly kind: string;
  readonly capabilities: UfsCapabilities;

  /** Throws a NotFound UfsError for a missing key. */
  stat(key: string, signal?: AbortSignal): Promise<ObjectInfo>;
  /** Streams the bytes of `range` (or the whole object). The stream is destroyed on abort. */
  read(key: string, range: ByteRange | undefined, options?: ReadOptions): Promise<Readable>;
  /**
   * Optional: the object's info and the bytes of `range` in one store round trip (a ranged GET
   * returns size, ETag, last-modified and metadata with the bytes; a file is opened and stat-ed
   * together). `range` may run past the end of the object: the body holds the bytes that exist
   * (none when `range.start` is at or past the end). Throws NotFound like stat. A cache uses it
   * on a metadata miss to save the separate stat.
   */
  readWithInfo?(key: string, range: ByteRange, options?: { signal?: AbortSignal }): Promise<{ info: ObjectInfo; body: Readable }>;
  /**
   * Lazily yields entries in UTF-8 byte order of their key/prefix, starting strictly after
   * `startAfter`. Consumers stop early by returning from the iterator; adapters must never
   * materialise the whole prefix.
   */
  list(options: ListOptions): AsyncIterable<ListEntry>;
  /** Atomic: either the whole object is committed, or nothing is. */
  write(request: WriteRequest): Promise<WriteResult>;
  /** Missing keys are not an error. */
  delete(key: string, signal?: AbortSignal): Promise<void>;
  copy(request: CopyRequest): Promise<WriteResult>;

  createMultipartUpload(key: string, metadata: ObjectMetadata, signal?: AbortSignal): Promise<MultipartUpload>;
  uploadPart(request: UploadPartRequest): Promise<PartInfo>;
  /** All parts uploaded so far, in ascending part number order. */
  listParts(key: string, uploadId: string, signal?: AbortSignal): Promise<PartInfo[]>;
  /**
   * Validates the part list (InvalidPart, InvalidPartOrder, EntityTooSmall) and commits atomically.
   * `late`: metadata known only at completion (the object's checksums), merged into the upload's.
   */
  completeMultipartUpload(key: string, uploadId: string, parts: CompletedPart[], signal?: AbortSignal, late?: Partial<ObjectMetadata>): Promise<WriteResult>;
  abortMultipartUpload(key: string, uploadId: string, signal?: AbortSignal): Promise<void>;
  /** In-progress uploads, ordered by key then initiation time. */
  listMultipartUploads(prefix: string, signal?: AbortSignal): AsyncIterable<MultipartUpload>;
  /** Returns the metadata given at CreateMultipartUpload. Throws a NoSuchUpload UfsError for an unknown upload. */
  getMultipartUpload(key: string, uploadId: string, signal?: AbortSignal): Promise<MultipartUpload & { metadata: ObjectMetadata }>;

  /**
   * Optional: removes what abandoned uploads and interrupted writes left in the store
   * (uploads initiated before `olderThanMs` ago, stale temporary files). Adapters without
   * it are swept through listMultipartUploads + abortMultipartUpload.
   */
  cleanupAbandonedUploads?(olderThanMs: number, signal?: AbortSignal): Promise<number>;

  /**
   * Optional: removes temporary files of writes no live request owns (a crash's leftovers) now,
   * whatever the multipart age; temp files whose owner cannot be told (another host) go once
   * untouched for `staleAfterMs`. Returns how many were removed.
   */
  sweepTempFiles?(staleAfterMs: number, signal?: AbortSignal): Promise<number>;

  /**
   * Optional: a small JSON document about the bucket (its ACL, its CORS rules), kept in the store
   * so every node of a cluster sees the same one, apart from the objects (never listed, never a
   * key). Undefined when there is none. Stores without these methods cannot keep bucket settings.
   */
  getBucketSetting?(name: BucketSettingName, signal?: AbortSignal): Promise<unknown>;
  /** Replaces the document atomically; `undefined` removes it. */
  putBucketSetting?(name: BucketSettingName, value: unknown, signal?: AbortSignal): Promise<void>;

  /** Releases sockets, file handles and timers. */
  close(): Promise<void>;
}

/** Minimum size of every part but the last, as S3 enforces it. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_NUMBER = 10000;
