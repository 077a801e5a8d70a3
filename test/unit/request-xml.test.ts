/**
 * The strict request-XML parser (src/s3/request-xml.ts): what it accepts, and every way a
 * document can try to make a key mean something the client did not write.
 */
import { S3Error } from '../../src/s3/errors';
import { childText, childrenNamed, parseStrictXml } from '../../src/s3/request-xml';
import { parseRequestXml } from '../../src/s3/xml';

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof S3Error ? err.code : `not an S3Error: ${String(err)}`;
  }
};

const keysOf = (xml: Buffer | string): string[] =>
  childrenNamed(parseRequestXml(xml, 'Delete'), 'Object').map((o) => childText(o, 'Key') as string);

describe('request XML: what is accepted', () => {
  it('reads keys byte-exact, with the predefined entities and character references decoded', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
      <Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
        <Quiet>true</Quiet>
        <Object><Key> spaced </Key></Object>
        <Object><Key>a&lt;b&gt;c&amp;d&quot;e&apos;f</Key></Object>
        <Object><Key>&#34;quoted&#x22;</Key></Object>
        <Object><Key>caf&#xE9; 日本 😀</Key></Object>
        <Object><Key><![CDATA[<raw & text>]]></Key></Object>
        <!-- a comment -->
      </Delete>`;
    expect(keysOf(xml)).toEqual([' spaced ', 'a<b>c&d"e\'f', '"quoted"', 'café 日本 😀', '<raw & text>']);
    expect(childText(parseRequestXml(xml, 'Delete'), 'Quiet')).toBe('true');
  });

  it('drops namespace prefixes, accepts a UTF-8 BOM and single-quoted attributes', () => {
    const xml = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("<s3:Delete xmlns:s3='x'><s3:Object><s3:Key>k</s3:Key></s3:Object></s3:Delete>")]);
    expect(keysOf(xml)).toEqual(['k']);
  });

  it('an empty root element has no children and no text', () => {
    const root = parseStrictXml('<CreateBucketConfiguration/>');
    expect(root).toEqual({ name: 'CreateBucketConfiguration', children: [], text: '' });
  });

  it('element names that are Object.prototype members are plain names', () => {
    const root = parseStrictXml('<Delete><__proto__>1</__proto__><constructor>2</constructor><toString/></Delete>');
    expect(root.children.map((c) => c.name)).toEqual(['__proto__', 'constructor', 'toString']);
    expect(childText(root, '__proto__')).toBe('1');
    expect(childText(root, 'hasOwnProperty')).toBeUndefined();
  });
});

describe('request XML: what is MalformedXML', () => {
  const cases: [string, Buffer | string][] = [
    ['&#0; (NUL) in a key', '<Delete><Object><Key>a&#0;b</Key></Object></Delete>'],
    ['&#x0;', '<Delete><Object><Key>a&#x0;b</Key></Object></Delete>'],
    ['a surrogate reference &#xD800;', '<Delete><Object><Key>a&#xD800;b</Key></Object></Delete>'],
    ['&#xFFFE;', '<Delete><Object><Key>a&#xFFFE;b</Key></Object></Delete>'],
    ['a reference past U+10FFFF', '<Delete><Object><Key>a&#x110000;b</Key></Object></Delete>'],
    ['a control character &#1;', '<Delete><Object><Key>a&#1;b</Key></Object></Delete>'],
    ['a raw control character', '<Delete><Object><Key>a\u0001b</Key></Object></Delete>'],
    ['a raw U+FFFF', '<Delete><Object><Key>a\uFFFFb</Key></Object></Delete>'],
    ['a lone surrogate in a string', '<Delete><Object><Key>a\uD800b</Key></Object></Delete>'],
    ['an HTML entity', '<Delete><Object><Key>a&nbsp;b</Key></Object></Delete>'],
    ['an unknown entity', '<Delete><Object><Key>a&foo;b</Key></Object></Delete>'],
    ['a bare ampersand', '<Delete><Object><Key>a & b</Key></Object></Delete>'],
    ['an unterminated reference', '<Delete><Object><Key>a&amp</Key></Object></Delete>'],
    ['a DOCTYPE with an external entity', '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&e;</Key></Object></Delete>'],
    ['a DOCTYPE with a huge entity', `<!DOCTYPE x [<!ENTITY e "${'A'.repeat(100_000)}">]><Delete><Object><Key>&e;&e;</Key></Object></Delete>`],
    ['a plain DOCTYPE', '<!DOCTYPE Delete><Delete><Object><Key>k</Key></Object></Delete>'],
    ['a processing instruction', '<?xml-stylesheet href="x"?><Delete><Object><Key>k</Key></Object></Delete>'],
    ['a declaration not at the start', ' <?xml version="1.0"?><Delete><Object><Key>k</Key></Object></Delete>'],
    ['another encoding', '<?xml version="1.0" encoding="ISO-8859-1"?><Delete><Object><Key>k</Key></Object></Delete>'],
    ['200-level nesting', `<Delete>${'<a>'.repeat(200)}${'</a>'.repeat(200)}</Delete>`],
    ['mismatched tags', '<Delete><Object><Key>k</Object></Key></Delete>'],
    ['an unclosed root', '<Delete><Object><Key>k</Key></Object>'],
    ['two roots', '<Delete></Delete><Delete></Delete>'],
    ['text after the root', '<Delete></Delete>x'],
    ['text mixed with elements', '<Delete>x<Object><Key>k</Key></Object></Delete>'],
    ['a repeated attribute', '<Delete a="1" a="2"></Delete>'],
    ['an unquoted attribute', '<Delete a=1></Delete>'],
    ["']]>' in text", '<Delete><Object><Key>a]]>b</Key></Object></Delete>'],
    ["'--' in a comment", '<Delete><!-- a -- b --><Object><Key>k</Key></Object></Delete>'],
    ['invalid UTF-8', Buffer.concat([Buffer.from('<Delete><Object><Key>q'), Buffer.from([0xff, 0xfe]), Buffer.from('</Key></Object></Delete>')])],
    ['an overlong UTF-8 encoding of "/"', Buffer.concat([Buffer.from('<Delete><Object><Key>a'), Buffer.from([0xc0, 0xaf]), Buffer.from('b</Key></Object></Delete>')])],
    ['UTF-8 of a surrogate', Buffer.concat([Buffer.from('<Delete><Object><Key>a'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('b</Key></Object></Delete>')])],
    ['an empty document', ''],
    ['whitespace only', '  \n'],
    ['the wrong root', '<Remove><Object><Key>k</Key></Object></Remove>'],
    ['a key holding elements', '<Delete><Object><Key><a/></Key></Object></Delete>'],
    ['a repeated key', '<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>'],
  ];
  it.each(cases)('%s', (_why, xml) => {
    expect(codeOf(() => keysOf(xml))).toBe('MalformedXML');
  });

  it('a document with more elements than the limit', () => {
    expect(codeOf(() => parseStrictXml(`<Delete>${'<a/>'.repeat(20)}</Delete>`, { maxDepth: 4, maxElements: 10 }))).toBe('MalformedXML');
  });
});
