/**
 * Parser for the `multipart/related` bodies of `uploadType=multipart` uploads (RFC 2387):
 * one JSON part with the object resource, one part with the media. Binary-safe.
 */
interface RelatedPart {
  headers: Record<string, string>;
  body: Buffer;
}

export function boundaryOf(contentType: string | undefined): string | undefined {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return match ? (match[1] ?? match[2]) : undefined;
}

export function parseMultipartRelated(body: Buffer, boundary: string): RelatedPart[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: RelatedPart[] = [];
  let position = body.indexOf(delimiter);
  if (position < 0) throw new Error('multipart body without its boundary');
  for (;;) {
    position += delimiter.length;
    // "--" right after a delimiter closes the body.
    if (body[position] === 0x2d && body[position + 1] === 0x2d) return parts;
    if (body[position] === 0x0d && body[position + 1] === 0x0a) position += 2;
    const headerEnd = body.indexOf('\r\n\r\n', position);
    if (headerEnd < 0) throw new Error('multipart part without a header end');
    const headers: Record<string, string> = {};
    for (const line of body.subarray(position, headerEnd).toString('utf8').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const start = headerEnd + 4;
    const next = body.indexOf(delimiter, start);
    if (next < 0) throw new Error('multipart body not terminated');
    // The CRLF before the next delimiter belongs to the delimiter.
    const end = body[next - 2] === 0x0d && body[next - 1] === 0x0a ? next - 2 : next;
    parts.push({ headers, body: body.subarray(start, end) });
    position = next;
  }
}
