/**
 * S3 access control lists: an owner and up to 100 grants of a permission to a grantee (a user,
 * that is an access key id here, or one of S3's groups). Built from a canned ACL (`x-amz-acl`),
 * from `x-amz-grant-*` headers or from an AccessControlPolicy document (acl-xml.ts); stored in
 * an encoded form with the object's metadata or in the bucket's settings (README, section ACLs).
 *
 * What a grant allows (see `allows`): FULL_CONTROL is every permission; the owner always has
 * READ_ACP and WRITE_ACP. AllUsers is anyone, signed or not; AuthenticatedUsers any request
 * signed by a configured key. LogDelivery is kept and shown, and allows nothing here.
 */
import { s3Error } from '../errors';

export type Permission = 'FULL_CONTROL' | 'READ' | 'WRITE' | 'READ_ACP' | 'WRITE_ACP';
export const PERMISSIONS: readonly Permission[] = ['FULL_CONTROL', 'READ', 'WRITE', 'READ_ACP', 'WRITE_ACP'];

type Group = 'AllUsers' | 'AuthenticatedUsers' | 'LogDelivery';
export const GROUP_URIS: Readonly<Record<Group, string>> = {
  AllUsers: 'http://acs.amazonaws.com/groups/global/AllUsers',
  AuthenticatedUsers: 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers',
  LogDelivery: 'http://acs.amazonaws.com/groups/s3/LogDelivery',
};

export type Grantee = { kind: 'user'; id: string } | { kind: 'group'; group: Group };

export interface Grant {
  grantee: Grantee;
  permission: Permission;
}

export interface AccessControlList {
  /** The owner's canonical id: the access key that created the bucket or object. */
  owner: string;
  grants: Grant[];
}

/** Who asks: a configured access key, or nobody (an unsigned request). */
export type Requester = { kind: 'signed'; id: string } | { kind: 'anonymous' };

/** S3 accepts at most 100 grants in one ACL. */
const MAX_GRANTS = 100;

const CANNED_ACLS = [
  'private',
  'public-read',
  'public-read-write',
  'authenticated-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
  'log-delivery-write',
] as const;
type CannedAcl = (typeof CANNED_ACLS)[number];

const user = (id: string, permission: Permission): Grant => ({ grantee: { kind: 'user', id }, permission });
const group = (g: Group, permission: Permission): Grant => ({ grantee: { kind: 'group', group: g }, permission });

/**
 * The grants of a canned ACL. `bucketOwner` is the owner of the bucket the object goes into (the
 * bucket-owner-* ACLs grant to it; when it is unknown or the object's owner, they add nothing).
 */
function cannedAcl(name: string, owner: string, bucketOwner: string | undefined): AccessControlList {
  const grants = [user(owner, 'FULL_CONTROL')];
  switch (name as CannedAcl) {
    case 'private':
      break;
    case 'public-read':
      grants.push(group('AllUsers', 'READ'));
      break;
    case 'public-read-write':
      grants.push(group('AllUsers', 'READ'), group('AllUsers', 'WRITE'));
      break;
    case 'authenticated-read':
      grants.push(group('AuthenticatedUsers', 'READ'));
      break;
    case 'bucket-owner-read':
      if (bucketOwner !== undefined && bucketOwner !== owner) grants.push(user(bucketOwner, 'READ'));
      break;
    case 'bucket-owner-full-control':
      if (bucketOwner !== undefined && bucketOwner !== owner) grants.push(user(bucketOwner, 'FULL_CONTROL'));
      break;
    case 'log-delivery-write':
      grants.push(group('LogDelivery', 'WRITE'), group('LogDelivery', 'READ_ACP'));
      break;
    default:
      throw s3Error('InvalidArgument', `The canned ACL ${name} is not one of ${CANNED_ACLS.join(', ')}.`);
  }
  return { owner, grants };
}

/** Canned ACLs that grant nothing beyond the owner and the bucket owner (accepted when ACLs are off). */
export const OWNER_ONLY_CANNED: ReadonlySet<string> = new Set(['private', 'bucket-owner-full-control']);

const GRANT_HEADERS: Readonly<Record<string, Permission>> = {
  'x-amz-grant-full-control': 'FULL_CONTROL',
  'x-amz-grant-read': 'READ',
  'x-amz-grant-write': 'WRITE',
  'x-amz-grant-read-acp': 'READ_ACP',
  'x-amz-grant-write-acp': 'WRITE_ACP',
};

/** A grantee of a header grant or an XML Grantee: id, uri (a group), or emailAddress (not resolvable here). */
export function granteeOf(kind: 'id' | 'uri' | 'emailaddress', value: string, knownId: (id: string) => boolean): Grantee {
  if (kind === 'id') {
    if (!knownId(value)) throw s3Error('InvalidArgument', `Invalid id: ${value}`);
    return { kind: 'user', id: value };
  }
  if (kind === 'uri') {
    const found = (Object.entries(GROUP_URIS) as [Group, string][]).find(([, uri]) => uri === value);
    if (!found) throw s3Error('InvalidArgument', `Invalid group uri: ${value}`);
    return { kind: 'group', group: found[0] };
  }
  throw s3Error('UnresolvableGrantByEmailAddress', 'Grants by email address are not supported: grant to an id (an access key) or a group uri.');
}

/** `id="AKID", uri="http://acs.amazonaws.com/groups/global/AllUsers"` -> grantees. */
function parseGrantHeader(value: string, knownId: (id: string) => boolean): Grantee[] {
  const out: Grantee[] = [];
  const item = /\s*(id|uri|emailAddress)\s*=\s*(?:"([^"]*)"|([^,\s]*))\s*(?:,|$)/giy;
  let m: RegExpExecArray | null;
  while (item.lastIndex < value.length && (m = item.exec(value)) !== null) {
    out.push(granteeOf(m[1].toLowerCase() as 'id' | 'uri' | 'emailaddress', m[2] ?? m[3], knownId));
  }
  if (out.length === 0 || item.lastIndex < value.length) throw s3Error('InvalidArgument', `Invalid grant header value: ${value}`);
  return out;
}

/** Whether a request carries ACL headers at all (x-amz-acl or any x-amz-grant-*). */
export function hasAclHeaders(headers: Record<string, string | string[] | undefined>): boolean {
  return headers['x-amz-acl'] !== undefined || Object.keys(GRANT_HEADERS).some((h) => headers[h] !== undefined);
}

const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value.join(',') : value);

/**
 * The ACL a request's headers ask for: its canned ACL or its grant headers (not both:
 * InvalidRequest), owned by `owner`; undefined when it carries neither.
 */
export function aclFromHeaders(
  headers: Record<string, string | string[] | undefined>,
  owner: string,
  bucketOwner: string | undefined,
  knownId: (id: string) => boolean,
): AccessControlList | undefined {
  const canned = single(headers['x-amz-acl'])?.trim();
  const grantHeaders = Object.entries(GRANT_HEADERS).filter(([h]) => headers[h] !== undefined);
  if (canned !== undefined && grantHeaders.length > 0) throw s3Error('InvalidRequest', 'Specifying both Canned ACLs and Header Grants is not allowed');
  if (canned !== undefined) return cannedAcl(canned, owner, bucketOwner);
  if (grantHeaders.length === 0) return undefined;
  const grants: Grant[] = [];
  for (const [name, permission] of grantHeaders) {
    for (const grantee of parseGrantHeader(single(headers[name]) as string, knownId)) grants.push({ grantee, permission });
  }
  return checked({ owner, grants });
}

/** Refuses an ACL with more grants than S3 allows. */
export function checked(acl: AccessControlList): AccessControlList {
  if (acl.grants.length > MAX_GRANTS) throw s3Error('MalformedACLError', `An ACL may hold at most ${MAX_GRANTS} grants.`);
  return acl;
}

const grantAllows = (grant: Grant, permission: Permission): boolean => grant.permission === 'FULL_CONTROL' || grant.permission === permission;

function matches(grantee: Grantee, who: Requester): boolean {
  if (grantee.kind === 'user') return who.kind === 'signed' && who.id === grantee.id;
  if (grantee.group === 'AllUsers') return true;
  if (grantee.group === 'AuthenticatedUsers') return who.kind === 'signed';
  return false;
}

/** Whether `acl` gives `who` the `permission`. The owner always has READ_ACP and WRITE_ACP. */
export function allows(acl: AccessControlList | undefined, who: Requester, permission: Permission): boolean {
  if (!acl) return false;
  if (who.kind === 'signed' && who.id === acl.owner && (permission === 'READ_ACP' || permission === 'WRITE_ACP')) return true;
  return acl.grants.some((g) => grantAllows(g, permission) && matches(g.grantee, who));
}

/**
 * The stored form: compact JSON, ASCII only (non-ASCII ids escaped), so it fits an x-amz-meta-*
 * header of an S3 store as well as a sidecar file or an xattr.
 *   {"o":"owner","g":[["u:AKID","FULL_CONTROL"],["g:AllUsers","READ"]]}
 */
export function encodeAcl(acl: AccessControlList): string {
  const grants = acl.grants.map((g) => [g.grantee.kind === 'user' ? `u:${g.grantee.id}` : `g:${g.grantee.group}`, g.permission]);
  return JSON.stringify({ o: acl.owner, g: grants }).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The stored form back; undefined when it is not one (an unreadable ACL grants nothing). */
export function decodeAcl(text: string | undefined): AccessControlList | undefined {
  if (text === undefined) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  const doc = raw as { o?: unknown; g?: unknown };
  if (typeof doc?.o !== 'string' || !Array.isArray(doc.g)) return undefined;
  const grants: Grant[] = [];
  for (const entry of doc.g) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !PERMISSIONS.includes(entry[1])) return undefined;
    const [who, permission] = entry as [string, Permission];
    if (who.startsWith('u:')) grants.push(user(who.slice(2), permission));
    else if (who.startsWith('g:') && who.slice(2) in GROUP_URIS) grants.push(group(who.slice(2) as Group, permission));
    else return undefined;
  }
  return { owner: doc.o, grants };
}

/** The ACL of something without a stored one: its owner has FULL_CONTROL. */
export const defaultAcl = (owner: string): AccessControlList => ({ owner, grants: [user(owner, 'FULL_CONTROL')] });
