/**
 * Request XML as a plain element tree ({ name, children, text }) for the documents whose elements
 * repeat and nest (AccessControlPolicy, CORSConfiguration), with small readers over it. Names are
 * local (a namespace prefix is dropped); attributes are not kept (a Grantee's xsi:type follows
 * from its child element). Anything not well-formed, or without the expected root, is
 * 400 MalformedXML.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { s3Error } from './errors';

export interface XmlNode {
  readonly name: string;
  readonly children: XmlNode[];
  /** The element's own character data (text beside child elements is whitespace). */
  readonly text: string;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  removeNSPrefix: true,
  htmlEntities: true,
  preserveOrder: true,
  processEntities: true,
});

type Ordered = Record<string, unknown>;

function toNode(name: string, content: Ordered[]): XmlNode {
  const children: XmlNode[] = [];
  let text = '';
  for (const item of content) {
    for (const [key, value] of Object.entries(item)) {
      if (key === ':@') continue;
      if (key === '#text') text += String(value);
      else children.push(toNode(key, value as Ordered[]));
    }
  }
  return { name, children, text };
}

/** Parses a request body of root element `root`. */
export function parseXmlTree(body: Buffer | string, root: string): XmlNode {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim() === '' || XMLValidator.validate(text) !== true) throw s3Error('MalformedXML');
  const doc = parser.parse(text) as Ordered[];
  const elements = doc.flatMap((item) => Object.entries(item).filter(([key]) => key !== '?xml' && key !== '#text' && key !== ':@'));
  if (elements.length !== 1 || elements[0][0] !== root) throw s3Error('MalformedXML', `The XML you provided was not well-formed or did not validate against our published schema (the root element must be <${root}>).`);
  return toNode(root, elements[0][1] as Ordered[]);
}

export const childrenNamed = (node: XmlNode, name: string): XmlNode[] => node.children.filter((c) => c.name === name);

/** The text of the only child `name` (trimmed), or undefined when absent; MalformedXML when repeated. */
export function childText(node: XmlNode, name: string): string | undefined {
  const found = childrenNamed(node, name);
  if (found.length > 1) throw s3Error('MalformedXML', `<${name}> may appear only once in <${node.name}>.`);
  return found[0]?.text.trim();
}

/** MalformedXML when `node` has a child element not in `allowed`. */
export function assertChildrenIn(node: XmlNode, allowed: readonly string[]): void {
  const unknown = node.children.find((c) => !allowed.includes(c.name));
  if (unknown) throw s3Error('MalformedXML', `<${unknown.name}> is not allowed in <${node.name}>.`);
}
