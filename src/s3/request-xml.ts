/**
 * A strict parser for the small XML documents clients send (DeleteObjects, CompleteMultipartUpload,
 * CreateBucketConfiguration). Request XML names keys that are then deleted or written, so nothing
 * may be read into it that the client did not write:
 *   - the bytes must be valid UTF-8 (no silent U+FFFD), every character an XML 1.0 Char;
 *   - references are the five predefined entities and character references to XML Chars only
 *     (`&#0;`, `&#xD800;`, `&nbsp;` and unknown entities are refused, nothing is HTML-decoded);
 *   - no DOCTYPE (hence no entity declarations, external or internal), no processing
 *     instructions besides the XML declaration, which must name UTF-8 if it names an encoding;
 *   - bounded nesting, names and element count.
 * Anything else is 400 MalformedXML. The result is a plain tree; element names are local names
 * (a namespace prefix is dropped), and nothing is ever looked up on an object's prototype.
 */
import { s3Error, type S3Error } from './errors';

export interface XmlElement {
  /** Local name (without a namespace prefix). */
  readonly name: string;
  readonly children: XmlElement[];
  /** The element's character data, references decoded (text beside child elements is whitespace). */
  readonly text: string;
}

interface XmlLimits {
  /** Deepest element nesting (the root is depth 1). */
  maxDepth: number;
  /** Most elements in the document. */
  maxElements: number;
}

/** S3 request documents are at most 3 levels deep; 1000 deletes or 10000 parts are ~30k elements. */
const DEFAULT_XML_LIMITS: XmlLimits = { maxDepth: 16, maxElements: 100_000 };

const MAX_NAME_LENGTH = 256;

const malformed = (why: string): S3Error =>
  s3Error('MalformedXML', `The XML you provided was not well-formed or did not validate against our published schema (${why}).`);

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Characters XML 1.0 does not allow anywhere in a document (lone surrogates included). */
const NOT_XML_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

const isXmlCodePoint = (cp: number): boolean =>
  cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);

const PREDEFINED: Readonly<Record<string, string>> = Object.freeze(Object.assign(Object.create(null) as Record<string, string>, { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }));

const NAME = /[A-Za-z_:\u00C0-\uFFFD][-A-Za-z0-9_.:\u00B7\u00C0-\uFFFD]*/y;
const SPACE = /[ \t\r\n]*/y;
const XML_DECLARATION = /<\?xml([ \t\r\n][^?]*)?\?>/y;
const DECLARATION_BODY = /^[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*("1\.[0-9]+"|'1\.[0-9]+')(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*("[A-Za-z][A-Za-z0-9._-]*"|'[A-Za-z][A-Za-z0-9._-]*'))?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*("(?:yes|no)"|'(?:yes|no)'))?[ \t\r\n]*$/;

/** Decodes UTF-8 strictly; a string is taken as already decoded. */
function decodeDocument(input: Buffer | string): string {
  if (typeof input === 'string') return input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  try {
    return utf8.decode(input);
  } catch {
    throw malformed('the document is not valid UTF-8');
  }
}

/** Parses a whole document and returns its root element. Throws S3Error MalformedXML. */
export function parseStrictXml(input: Buffer | string, limits: XmlLimits = DEFAULT_XML_LIMITS): XmlElement {
  const text = decodeDocument(input);
  if (NOT_XML_CHAR.test(text)) throw malformed('it contains a character XML does not allow');
  return new Parser(text, limits).document();
}

class Parser {
  private pos = 0;
  private elements = 0;

  constructor(
    private readonly src: string,
    private readonly limits: XmlLimits,
  ) {}

  document(): XmlElement {
    this.declaration();
    this.misc();
    if (!this.at('<')) throw malformed('no root element');
    const root = this.element(1);
    this.misc();
    if (this.pos !== this.src.length) throw malformed('content after the root element');
    return root;
  }

  private at(s: string): boolean {
    return this.src.startsWith(s, this.pos);
  }

  private spaces(): number {
    SPACE.lastIndex = this.pos;
    SPACE.exec(this.src);
    const n = SPACE.lastIndex - this.pos;
    this.pos = SPACE.lastIndex;
    return n;
  }

  private declaration(): void {
    XML_DECLARATION.lastIndex = 0;
    const match = XML_DECLARATION.exec(this.src);
    if (!match) return;
    const body = DECLARATION_BODY.exec(match[1] ?? '');
    if (!body) throw malformed('a malformed XML declaration');
    const encoding = body[2]?.slice(1, -1).toLowerCase();
    if (encoding !== undefined && encoding !== 'utf-8' && encoding !== 'utf8') throw malformed('only UTF-8 documents are accepted');
    this.pos = match[0].length;
  }

  /** Whitespace and comments (before and after the root). */
  private misc(): void {
    for (;;) {
      this.spaces();
      if (this.at('<!--')) this.comment();
      else if (this.at('<!')) throw malformed('document type declarations are not accepted');
      else if (this.at('<?')) throw malformed('processing instructions are not accepted');
      else return;
    }
  }

  private comment(): void {
    const end = this.src.indexOf('-->', this.pos + 4);
    if (end === -1) throw malformed('an unterminated comment');
    if (this.src.slice(this.pos + 4, end).includes('--')) throw malformed("'--' inside a comment");
    this.pos = end + 3;
  }

  private name(): string {
    NAME.lastIndex = this.pos;
    const match = NAME.exec(this.src);
    if (!match) throw malformed('a malformed name');
    if (match[0].length > MAX_NAME_LENGTH) throw malformed('a name is too long');
    this.pos = NAME.lastIndex;
    return match[0];
  }

  private element(depth: number): XmlElement {
    if (depth > this.limits.maxDepth) throw malformed('elements nested too deeply');
    if (++this.elements > this.limits.maxElements) throw malformed('too many elements');
    this.pos++; // '<'
    const qname = this.name();
    this.attributes();
    if (this.at('/>')) {
      this.pos += 2;
      return { name: localName(qname), children: [], text: '' };
    }
    if (!this.at('>')) throw malformed(`a malformed start tag <${qname}>`);
    this.pos++;
    const children: XmlElement[] = [];
    let text = '';
    for (;;) {
      const lt = this.src.indexOf('<', this.pos);
      if (lt === -1) throw malformed(`<${qname}> is not closed`);
      if (lt > this.pos) text += this.charData(this.src.slice(this.pos, lt));
      this.pos = lt;
      if (this.at('</')) {
        this.pos += 2;
        const closing = this.name();
        this.spaces();
        if (closing !== qname || !this.at('>')) throw malformed(`<${qname}> is closed by </${closing}>`);
        this.pos++;
        break;
      }
      if (this.at('<!--')) this.comment();
      else if (this.at('<![CDATA[')) {
        const end = this.src.indexOf(']]>', this.pos + 9);
        if (end === -1) throw malformed('an unterminated CDATA section');
        text += this.src.slice(this.pos + 9, end);
        this.pos = end + 3;
      } else if (this.at('<!')) throw malformed('declarations are not accepted inside elements');
      else if (this.at('<?')) throw malformed('processing instructions are not accepted');
      else children.push(this.element(depth + 1));
    }
    if (children.length > 0 && text.trim() !== '') throw malformed(`<${qname}> mixes text and elements`);
    return { name: localName(qname), children, text: children.length > 0 ? '' : text };
  }

  private attributes(): void {
    const seen = new Set<string>();
    for (;;) {
      const spaced = this.spaces() > 0;
      if (this.at('/>') || this.at('>')) return;
      if (!spaced) throw malformed('attributes must be separated by whitespace');
      const name = this.name();
      if (seen.has(name)) throw malformed(`the attribute ${name} is repeated`);
      seen.add(name);
      this.spaces();
      if (!this.at('=')) throw malformed(`the attribute ${name} has no value`);
      this.pos++;
      this.spaces();
      const quote = this.src[this.pos];
      if (quote !== '"' && quote !== "'") throw malformed(`the attribute ${name} is not quoted`);
      const end = this.src.indexOf(quote, this.pos + 1);
      if (end === -1) throw malformed(`the attribute ${name} is not closed`);
      const value = this.src.slice(this.pos + 1, end);
      if (value.includes('<')) throw malformed(`'<' in the attribute ${name}`);
      decodeReferences(value); // validated; attribute values are not used
      this.pos = end + 1;
    }
  }

  private charData(raw: string): string {
    if (raw.includes(']]>')) throw malformed("']]>' in character data");
    return decodeReferences(raw);
  }
}

const localName = (qname: string): string => {
  const colon = qname.lastIndexOf(':');
  if (colon === 0 || colon === qname.length - 1) throw malformed(`a malformed name ${qname}`);
  return colon === -1 ? qname : qname.slice(colon + 1);
};

const REFERENCE = /&([^;&]{0,16})(;?)/g;

/** Decodes the predefined entities and character references; anything else is MalformedXML. */
function decodeReferences(raw: string): string {
  if (!raw.includes('&')) return raw;
  return raw.replace(REFERENCE, (_whole, body: string, semicolon: string) => {
    if (semicolon !== ';') throw malformed("'&' that does not start a reference");
    const predefined = PREDEFINED[body];
    if (predefined !== undefined) return predefined;
    let cp: number;
    if (/^#[0-9]{1,7}$/.test(body)) cp = Number(body.slice(1));
    else if (/^#x[0-9A-Fa-f]{1,6}$/.test(body)) cp = Number.parseInt(body.slice(2), 16);
    else throw malformed(`the reference &${body}; (only &lt; &gt; &amp; &quot; &apos; and character references)`);
    if (!isXmlCodePoint(cp)) throw malformed(`the character reference &${body}; names a character XML does not allow`);
    return String.fromCodePoint(cp);
  });
}

/** The child elements of `parent` named `name`. */
export const childrenNamed = (parent: XmlElement, name: string): XmlElement[] => parent.children.filter((c) => c.name === name);

/**
 * The text of the one child `name` of `parent`: undefined when absent; MalformedXML when it is
 * repeated or holds elements rather than text.
 */
export function childText(parent: XmlElement, name: string): string | undefined {
  const found = childrenNamed(parent, name);
  if (found.length === 0) return undefined;
  if (found.length > 1) throw malformed(`<${name}> appears more than once in <${parent.name}>`);
  if (found[0].children.length > 0) throw malformed(`<${name}> must hold text`);
  return found[0].text;
}

/** MalformedXML unless every child of `parent` has one of the `allowed` names (the operation's schema). */
export function assertChildrenIn(parent: XmlElement, allowed: readonly string[]): void {
  for (const child of parent.children) {
    if (!allowed.includes(child.name)) throw malformed(`<${child.name}> is not expected in <${parent.name}>`);
  }
}
