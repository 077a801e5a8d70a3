import { parseEndpoint, parseQuery, virtualHostBucket } from '../../src/s3/endpoint';

const parse = (method: string, rawUrl: string, headers: Record<string, string> = {}, host = '127.0.0.1:9000', baseDomain?: string) =>
  parseEndpoint({ method, rawUrl, host, headers }, baseDomain);

describe('parseEndpoint: path-style requests from the S3 API reference', () => {
  const table: [string, string, Record<string, string>, string, Record<string, unknown>][] = [
    ['GET', '/', {}, 'ListBuckets', {}],
    ['PUT', '/examplebucket', {}, 'CreateBucket', { bucket: 'examplebucket' }],
    ['DELETE', '/examplebucket', {}, 'DeleteBucket', { bucket: 'examplebucket' }],
    ['HEAD', '/examplebucket', {}, 'HeadBucket', { bucket: 'examplebucket' }],
    ['GET', '/examplebucket?location', {}, 'GetBucketLocation', {}],
    ['GET', '/examplebucket?versioning', {}, 'GetBucketVersioning', {}],
    ['GET', '/examplebucket?acl', {}, 'GetBucketAcl', {}],
    ['GET', '/examplebucket?versions&prefix=a', {}, 'ListObjectVersions', {}],
    ['GET', '/examplebucket?uploads&max-uploads=3', {}, 'ListMultipartUploads', {}],
    ['GET', '/examplebucket?list-type=2&prefix=photos%2F2006%2F&delimiter=%2F', {}, 'ListObjectsV2', {}],
    ['GET', '/examplebucket/?prefix=N&marker=Ned&max-keys=40', {}, 'ListObjects', { bucket: 'examplebucket' }],
    ['POST', '/examplebucket?delete', {}, 'DeleteObjects', {}],
    ['GET', '/examplebucket/my-image.jpg', {}, 'GetObject', { key: 'my-image.jpg' }],
    ['HEAD', '/examplebucket/my-image.jpg', {}, 'HeadObject', { key: 'my-image.jpg' }],
    ['GET', '/examplebucket/my-image.jpg?acl', {}, 'GetObjectAcl', {}],
    ['GET', '/examplebucket/my-image.jpg?tagging', {}, 'GetObjectTagging', {}],
    ['PUT', '/examplebucket/my-image.jpg', {}, 'PutObject', {}],
    ['PUT', '/examplebucket/copy.jpg', { 'x-amz-copy-source': '/src/a.jpg' }, 'CopyObject', {}],
    ['POST', '/examplebucket/example-object?uploads', {}, 'CreateMultipartUpload', {}],
    ['PUT', '/examplebucket/example-object?partNumber=1&uploadId=VXBsb2Fk', {}, 'UploadPart', {}],
    ['PUT', '/examplebucket/example-object?partNumber=1&uploadId=VXBsb2Fk', { 'x-amz-copy-source': 'src/a' }, 'UploadPartCopy', {}],
    ['POST', '/examplebucket/example-object?uploadId=AAAsb2FkIElEIGZvciBlbHZpbmcncyWeeS1tb3ZpZS5tMnRzIRRwbG9hZA', {}, 'CompleteMultipartUpload', {}],
    ['DELETE', '/examplebucket/example-object?uploadId=VXBsb2Fk', {}, 'AbortMultipartUpload', {}],
    ['GET', '/examplebucket/example-object?uploadId=XXBsb2Fk&max-parts=2&part-number-marker=1', {}, 'ListParts', {}],
    ['DELETE', '/examplebucket/my-second-image.jpg', {}, 'DeleteObject', {}],
    ['GET', '/examplebucket?policy', {}, 'NotImplemented', { feature: 'policy' }],
    ['PUT', '/examplebucket?lifecycle', {}, 'NotImplemented', { feature: 'lifecycle' }],
    ['PUT', '/examplebucket/obj?tagging', {}, 'NotImplemented', { feature: 'tagging' }],
    ['POST', '/examplebucket/obj?select&select-type=2', {}, 'NotImplemented', { feature: 'select' }],
  ];
  test.each(table)('%s %s -> %s', (method, url, headers, op, fields) => {
    const endpoint = parse(method, url, headers);
    expect(endpoint.op).toBe(op);
    expect(endpoint).toMatchObject(fields);
  });
});

describe('keys are decoded exactly once and never normalised', () => {
  test.each([
    ['/b/a%20b', 'a b'],
    ['/b/a+b', 'a+b'],
    ['/b/%E2%82%AC/%F0%9F%98%80', '€/😀'],
    ['/b/a%2Fb', 'a/b'],
    ['/b/dir//x', 'dir//x'],
    ['/b/%2e%2e/etc', '../etc'],
    ['/b/100%25', '100%'],
    ['/b/a%3Db%26c', 'a=b&c'],
    ['/b/folder/', 'folder/'],
  ])('%s -> %j', (url, key) => {
    expect(parse('GET', url)).toMatchObject({ op: 'GetObject', bucket: 'b', key });
  });

  test('malformed percent-encoding is InvalidURI', () => {
    expect(() => parse('GET', '/b/%E2%82')).toThrow(expect.objectContaining({ code: 'InvalidURI', status: 400 }));
  });
});

describe('virtual-hosted style', () => {
  test('bucket comes from the host under the base domain', () => {
    expect(parse('GET', '/photos/cat.jpg', {}, 'media.s3.local:9000', 's3.local')).toMatchObject({
      op: 'GetObject',
      bucket: 'media',
      key: 'photos/cat.jpg',
    });
    expect(parse('GET', '/?list-type=2', {}, 'media.s3.local', 's3.local')).toMatchObject({ op: 'ListObjectsV2', bucket: 'media' });
  });
  test('the base domain itself is path-style', () => {
    expect(parse('GET', '/media/x', {}, 's3.local:9000', 's3.local')).toMatchObject({ bucket: 'media', key: 'x' });
    expect(virtualHostBucket('127.0.0.1:9000', 's3.local')).toBeUndefined();
    expect(virtualHostBucket('[::1]:9000', 's3.local')).toBeUndefined();
  });
});

test('unknown methods are MethodNotAllowed', () => {
  expect(() => parse('PATCH', '/b/k')).toThrow(expect.objectContaining({ code: 'MethodNotAllowed', status: 405 }));
  expect(() => parse('DELETE', '/')).toThrow(expect.objectContaining({ code: 'MethodNotAllowed' }));
});

test('parseQuery: first value wins, flags have empty values, + is a space', () => {
  const q = parseQuery('uploads&prefix=a+b%2Bc&prefix=ignored&empty=');
  expect([...q]).toEqual([
    ['uploads', ''],
    ['prefix', 'a b+c'],
    ['empty', ''],
  ]);
});
