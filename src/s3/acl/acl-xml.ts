/**
 * AccessControlPolicy documents: rendered for GetBucketAcl / GetObjectAcl, parsed from
 * PutBucketAcl / PutObjectAcl bodies. A Grantee's type follows from its child element (ID: a
 * CanonicalUser, URI: a Group, EmailAddress: refused as S3 does where it cannot resolve one).
 * Anything that does not fit the schema is 400 MalformedACLError.
 */
import { S3Error, s3Error } from '../errors';
import { assertChildrenIn, childText as rawChildText, childrenNamed, type XmlElement as XmlNode } from '../request-xml';
import { parseRequestXml as parseXmlTree } from '../xml';

/** The trimmed text of the one child `name` (request-xml.ts childText). */
const childText = (node: XmlNode, name: string): string | undefined => rawChildText(node, name)?.trim();
import type { XmlObject } from '../xml';
import { GROUP_URIS, PERMISSIONS, checked, granteeOf, type AccessControlList, type Grant, type Permission } from './access-control-list';

const XSI = 'http://www.w3.org/2001/XMLSchema-instance';

/** The body of an AccessControlPolicy document (render with renderXml('AccessControlPolicy', ...)). */
export function aclXml(acl: AccessControlList): XmlObject {
  return {
    Owner: { ID: acl.owner, DisplayName: acl.owner },
    AccessControlList: {
      Grant: acl.grants.map((g) => ({
        Grantee:
          g.grantee.kind === 'user'
            ? { '@_xmlns:xsi': XSI, '@_xsi:type': 'CanonicalUser', ID: g.grantee.id, DisplayName: g.grantee.id }
            : { '@_xmlns:xsi': XSI, '@_xsi:type': 'Group', URI: GROUP_URIS[g.grantee.group] },
        Permission: g.permission,
      })),
    },
  };
}

const malformed = (why: string): S3Error => s3Error('MalformedACLError', `The XML you provided was not well-formed or did not validate against our published schema (${why}).`);

function parseGrant(node: XmlNode, knownId: (id: string) => boolean): Grant {
  assertChildrenIn(node, ['Grantee', 'Permission']);
  const granteeNode = childrenNamed(node, 'Grantee');
  if (granteeNode.length !== 1) throw malformed('a Grant needs one Grantee');
  assertChildrenIn(granteeNode[0], ['ID', 'URI', 'EmailAddress', 'DisplayName', 'Type']);
  const id = childText(granteeNode[0], 'ID');
  const uri = childText(granteeNode[0], 'URI');
  const email = childText(granteeNode[0], 'EmailAddress');
  const given = [id, uri, email].filter((v) => v !== undefined);
  if (given.length !== 1) throw malformed('a Grantee needs exactly one of ID, URI and EmailAddress');
  const grantee = id !== undefined ? granteeOf('id', id, knownId) : uri !== undefined ? granteeOf('uri', uri, knownId) : granteeOf('emailaddress', email as string, knownId);
  const permission = childText(node, 'Permission');
  if (permission === undefined || !PERMISSIONS.includes(permission as Permission)) throw malformed(`unknown Permission ${permission ?? '(none)'}`);
  return { grantee, permission: permission as Permission };
}

/**
 * Parses an AccessControlPolicy body. The Owner, when given, must be the current owner (an ACL
 * cannot change ownership: AccessDenied otherwise).
 */
export function parseAclXml(body: Buffer | string, owner: string, knownId: (id: string) => boolean): AccessControlList {
  let root: XmlNode;
  try {
    root = parseXmlTree(body, 'AccessControlPolicy');
    assertChildrenIn(root, ['Owner', 'AccessControlList']);
  } catch (err) {
    if (err instanceof S3Error && err.code === 'MalformedXML') throw s3Error('MalformedACLError', err.message);
    throw err;
  }
  const ownerNodes = childrenNamed(root, 'Owner');
  if (ownerNodes.length > 1) throw malformed('one Owner at most');
  const ownerId = ownerNodes[0] ? childText(ownerNodes[0], 'ID') : undefined;
  if (ownerId !== undefined && ownerId !== owner) throw s3Error('AccessDenied', 'An access control list cannot change the owner.');
  const lists = childrenNamed(root, 'AccessControlList');
  if (lists.length !== 1) throw malformed('one AccessControlList is required');
  try {
    assertChildrenIn(lists[0], ['Grant']);
  } catch (err) {
    throw malformed((err as Error).message);
  }
  return checked({ owner, grants: childrenNamed(lists[0], 'Grant').map((g) => parseGrant(g, knownId)) });
}
