/**
 * XML in and out. Response documents are plain objects rendered by fast-xml-parser's
 * builder (which escapes text); request documents are validated, then parsed.
 */
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { s3Error } from './errors';

export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

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

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  // Keys are byte-exact: "keep " is not "keep". Callers trim where it is harmless.
  trimValues: false,
  removeNSPrefix: true,
  // Numeric character references too: rclone sends <ETag>&#34;...&#34;</ETag>.
  htmlEntities: true,
  isArray: (name) => name === 'Object' || name === 'Part',
});

/** Parses a request body; anything not well-formed, or without the expected root, is MalformedXML. */
export function parseRequestXml(text: string, root: string): Record<string, unknown> {
  if (text.trim() === '' || XMLValidator.validate(text) !== true) throw s3Error('MalformedXML');
  const doc = parser.parse(text) as Record<string, unknown>;
  const element = doc[root];
  if (element === undefined) throw s3Error('MalformedXML');
  return element === '' ? {} : (element as Record<string, unknown>);
}

/** ISO-8601 with milliseconds, as S3 writes timestamps in XML. */
export const xmlDate = (date: Date): string => date.toISOString();

/** Owner block used in listings and ACLs: Ringcache has one owner per access key. */
export function ownerXml(accessKeyId: string): XmlObject {
  return { ID: accessKeyId, DisplayName: accessKeyId };
}
