/**
 * XML in and out. Response documents are plain objects rendered by fast-xml-parser's
 * builder (which escapes text); request documents are parsed strictly by request-xml.ts.
 */
import { XMLBuilder } from 'fast-xml-parser';
import { s3Error } from './errors';
import { parseStrictXml, type XmlElement } from './request-xml';

const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: false,
  processEntities: true,
});

export type XmlValue = string | number | boolean | undefined | XmlObject | XmlValue[];
export interface XmlObject {
  [name: string]: XmlValue;
}

/** Renders `<?xml ...?><root xmlns="...">body</root>`; undefined fields are omitted. */
export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

export function renderXml(root: string, body: XmlObject, options: { namespace?: boolean; declaration?: boolean } = {}): string {
  const element = options.namespace === false ? body : { '@_xmlns': S3_XMLNS, ...body };
  return `${options.declaration === false ? '' : XML_DECLARATION}${builder.build({ [root]: dropUndefined(element) })}`;
}

function dropUndefined(value: XmlValue): XmlValue {
  if (Array.isArray(value)) return value.map(dropUndefined);
  if (value && typeof value === 'object') {
    const out: XmlObject = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = dropUndefined(v);
    return out;
  }
  return value;
}

/**
 * Parses a request body strictly (request-xml.ts); anything not well-formed, not UTF-8, with a
 * DOCTYPE or a reference XML does not define, or without the expected root, is MalformedXML.
 */
export function parseRequestXml(body: Buffer | string, root: string): XmlElement {
  const empty = typeof body === 'string' ? body.trim() === '' : body.toString('latin1').trim() === '';
  if (empty) throw s3Error('MalformedXML');
  const element = parseStrictXml(body);
  if (element.name !== root) throw s3Error('MalformedXML', `The XML you provided was not well-formed or did not validate against our published schema (the root element must be <${root}>).`);
  return element;
}

/** ISO-8601 with milliseconds, as S3 writes timestamps in XML. */
export const xmlDate = (date: Date): string => date.toISOString();

/** Owner block used in listings and ACLs: Ringcache has one owner per access key. */
export function ownerXml(accessKeyId: string): XmlObject {
  return { ID: accessKeyId, DisplayName: accessKeyId };
}
