/**
 * What ACLs add to the grants of the configuration (README, section ACLs). Grants come first: a key with
 * a grant on the bucket needs no ACL. A request the grants refuse is allowed when the bucket's
 * ACL gives the requester the permission the operation needs on the bucket (READ to list, WRITE
 * to write objects, READ_ACP / WRITE_ACP for the bucket's ACL), or, for operations on one
 * object, when that object's ACL does: the latter is only known once the object is looked up,
 * so the request goes on with an `object-acl` access that its handler checks (`checkObjectAcl`).
 */
import type { ObjectInfo } from '../../../ufs-adapters/types';
import { isUfsError } from '../../../ufs-adapters/errors';
import type { AuthResult } from '../auth';
import type { S3Operation } from '../endpoint';
import { s3Error } from '../errors';
import { allows, decodeAcl, type AccessControlList, type Permission, type Requester } from './access-control-list';

/** How a request was allowed. */
export type Access =
  /** By the key's grants, the mount's anonymousRead, or the bucket's ACL. */
  | { kind: 'granted' }
  /** Only if the object's ACL gives `permission`; `canList`: a missing object may be reported as missing. */
  | { kind: 'object-acl'; permission: Permission; requester: Requester; canList: boolean };

export const GRANTED: Access = Object.freeze({ kind: 'granted' });

/** The permission an operation needs in the bucket's ACL. */
const BUCKET_PERMISSION: Partial<Record<S3Operation, Permission>> = {
  HeadBucket: 'READ',
  GetBucketLocation: 'READ',
  ListObjects: 'READ',
  ListObjectsV2: 'READ',
  ListObjectVersions: 'READ',
  ListMultipartUploads: 'READ',
  PutObject: 'WRITE',
  CopyObject: 'WRITE',
  DeleteObject: 'WRITE',
  DeleteObjects: 'WRITE',
  CreateMultipartUpload: 'WRITE',
  UploadPart: 'WRITE',
  UploadPartCopy: 'WRITE',
  CompleteMultipartUpload: 'WRITE',
  AbortMultipartUpload: 'WRITE',
  ListParts: 'WRITE',
  GetBucketAcl: 'READ_ACP',
  PutBucketAcl: 'WRITE_ACP',
};

/** The permission an operation on one object needs in that object's ACL. */
const OBJECT_PERMISSION: Partial<Record<S3Operation, Permission>> = {
  GetObject: 'READ',
  HeadObject: 'READ',
  GetObjectAttributes: 'READ',
  GetObjectTagging: 'READ',
  GetObjectAcl: 'READ_ACP',
  PutObjectAcl: 'WRITE_ACP',
};

export const requesterOf = (auth: AuthResult): Requester => (auth.kind === 'signed' ? { kind: 'signed', id: auth.accessKeyId } : { kind: 'anonymous' });

/**
 * The access ACLs give a request its grants refused, or undefined when they give none.
 * `listable`: the requester may list the bucket without its ACL (anonymousRead, a read grant).
 */
export function aclAccess(op: S3Operation, auth: AuthResult, bucketAcl: AccessControlList | undefined, listable: boolean): Access | undefined {
  const requester = requesterOf(auth);
  const onBucket = BUCKET_PERMISSION[op];
  if (onBucket !== undefined && allows(bucketAcl, requester, onBucket)) return GRANTED;
  const onObject = OBJECT_PERMISSION[op];
  if (onObject === undefined) return undefined;
  return { kind: 'object-acl', permission: onObject, requester, canList: listable || allows(bucketAcl, requester, 'READ') };
}

/** Decoded once per ObjectInfo (the metadata cache keeps one per version). */
const decoded = new WeakMap<ObjectInfo, AccessControlList | null>();
export function objectAclOf(info: ObjectInfo): AccessControlList | undefined {
  let acl = decoded.get(info);
  if (acl === undefined) {
    acl = decodeAcl(info.acl) ?? null;
    decoded.set(info, acl);
  }
  return acl ?? undefined;
}

/** Whether `access` lets the request at `info` (always, unless the object's ACL must decide). */
export function objectAclAllows(access: Access, info: ObjectInfo): boolean {
  return access.kind === 'granted' || allows(objectAclOf(info), access.requester, access.permission);
}

/** Throws AccessDenied unless `access` lets the request at `info`. */
function checkObjectAcl(access: Access, info: ObjectInfo): void {
  if (!objectAclAllows(access, info)) throw s3Error('AccessDenied');
}

/**
 * Runs a lookup of the object; for a request only its ACL could allow, a missing object is
 * AccessDenied unless the requester may list the bucket (as S3: no probing of key names).
 */
export async function lookedUp<T extends ObjectInfo>(access: Access, lookup: () => Promise<T>): Promise<T> {
  let info: T;
  try {
    info = await lookup();
  } catch (err) {
    if (access.kind === 'object-acl' && !access.canList && (isUfsError(err, 'NotFound') || isUfsError(err, 'InvalidKey'))) throw s3Error('AccessDenied');
    throw err;
  }
  checkObjectAcl(access, info);
  return info;
}
