/**
 * POST Object: a browser form upload (multipart/form-data to POST /bucket). The form's fields
 * come first (key, policy and its signature, acl, Content-Type, x-amz-meta-*, x-amz-checksum-*,
 * success_action_*), then the file, which streams from the request into the store as it arrives
 * (busboy parses the parts; nothing holds the file). When the file part begins, the fields are
 * checked: the policy's signature names the key that signed it, its grants (or the bucket's ACL)
 * must allow writing, and its conditions must hold (post-object/post-policy.ts). Fields after the
 * file are ignored, as S3 does. A form without a policy is anonymous: the bucket's ACL must let
 * anyone write. The answer: 204 (or success_action_status 200 / 201 with a PostResponse), or a
 * 303 to success_action_redirect with bucket, key and etag in its query.
 */
import type { Readable } from 'node:stream';
import { PassThrough, Transform, pipeline, type TransformCallback } from 'node:stream';
import busboy from 'busboy';
import type { ChecksumAlgorithm, ChecksumMap } from '../../../ufs-adapters/types';
import { aclAccess } from '../acl/acl-access';
import { objectAclOfRequest } from '../acl/request-acl';
import { authorize } from '../authorize';
import type { AuthResult } from '../auth';
import { header, type EndpointOf, type S3Context } from '../context';
import { s3Error } from '../errors';
import { CHECKSUM_ALGORITHMS, assertKeyLength, checksumHeader, metadataFromHeaders } from '../object-headers';
import { writing } from '../object-writes';
import { IntegrityCheck } from '../upload-body';
import { renderXml } from '../xml';
import { checkPolicy, parsePolicy } from '../post-object/post-policy';
import { verifyPostSignature } from '../post-object/post-signature';

/** The fields before the file, all together (S3's limit on a form's pre-data). */
const MAX_FIELD_BYTES = 20 * 1024;
/** A "file" sent as a text field (the textarea upload of S3's examples) may be larger. */
const MAX_TEXT_FILE_BYTES = 1024 * 1024;

interface FormStart {
  /** Fields before the file, names lower-cased. */
  fields: Map<string, string>;
  file: Readable;
  filename: string;
}

/** Parses the form up to the start of its file; the file streams on from there. */
function receiveForm(ctx: S3Context, parser: busboy.Busboy): Promise<FormStart> {
  return new Promise<FormStart>((resolve, reject) => {
    const fields = new Map<string, string>();
    let fieldBytes = 0;
    let started = false;
    const fail = (err: unknown) => {
      if (!started) reject(err);
    };
    parser.on('field', (rawName, value, info) => {
      if (started) return; // after the file: ignored, as S3 does
      const name = rawName.toLowerCase();
      if (name === 'file') {
        if (info.valueTruncated) return fail(s3Error('EntityTooLarge', 'A file sent as a text field may be at most 1 MiB.'));
        started = true;
        const file = new PassThrough();
        file.end(Buffer.from(value, 'utf8'));
        resolve({ fields, file, filename: '' });
        return;
      }
      fieldBytes += Buffer.byteLength(rawName) + Buffer.byteLength(value);
      if (fieldBytes > MAX_FIELD_BYTES || info.valueTruncated) return fail(s3Error('MaxPostPreDataLengthExceededError'));
      if (!fields.has(name)) fields.set(name, value);
    });
    parser.on('file', (rawName, stream, info) => {
      if (started || rawName.toLowerCase() !== 'file') {
        stream.resume();
        if (!started) fail(s3Error('InvalidArgument', `POST uploads take their file in a field named "file", not "${rawName}".`));
        return;
      }
      started = true;
      resolve({ fields, file: stream, filename: info.filename ?? '' });
    });
    parser.on('error', (err) => fail(s3Error('MalformedPOSTRequest', undefined, err)));
    parser.on('close', () => fail(s3Error('IncorrectNumberOfFilesInPostRequest')));
    ctx.request.raw.pipe(parser);
  });
}

/** A stream that ends with EntityTooSmall when fewer than `min` bytes went through. */
class MinimumSize extends Transform {
  private seen = 0;
  constructor(private readonly min: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    callback(null, chunk);
  }
  override _flush(callback: TransformCallback): void {
    callback(this.seen < this.min ? s3Error('EntityTooSmall', `Your proposed upload is smaller than the minimum allowed size (${this.min} bytes).`) : null);
  }
}

/** Whether the form's signer (or anyone, for an unsigned form) may write into the bucket. */
async function authorizeWrite(ctx: S3Context<EndpointOf<'PostObject'>>, auth: AuthResult): Promise<void> {
  const credential = auth.kind === 'signed' ? ctx.services.credentialOf(auth.accessKeyId) : undefined;
  try {
    authorize(auth, credential, 'write', ctx.bucket, 'PutObject');
  } catch (err) {
    if (!ctx.services.config.server.acls) throw err;
    const acl = (await ctx.services.settings.get(ctx.bucket)).acl;
    if (aclAccess('PutObject', auth, acl, false)?.kind !== 'granted') throw err;
  }
}

/** The form fields as the headers a PUT would carry (the canned ACL is the `acl` field). */
function asHeaders(fields: ReadonlyMap<string, string>): Record<string, string> {
  const headers = Object.fromEntries(fields);
  delete headers.acl;
  if (fields.has('acl')) headers['x-amz-acl'] = fields.get('acl') as string;
  return headers;
}

function expectedChecksums(fields: ReadonlyMap<string, string>): { expected: ChecksumMap; compute: ChecksumAlgorithm[] } {
  const expected: ChecksumMap = {};
  const compute = new Set<ChecksumAlgorithm>();
  for (const alg of CHECKSUM_ALGORITHMS) {
    const value = fields.get(checksumHeader(alg));
    if (value !== undefined) {
      expected[alg] = value;
      compute.add(alg);
    }
  }
  const named = fields.get('x-amz-checksum-algorithm')?.toUpperCase();
  if (named !== undefined) {
    if (!CHECKSUM_ALGORITHMS.includes(named as ChecksumAlgorithm)) throw s3Error('InvalidRequest', `Checksum algorithm ${named} is not supported.`);
    compute.add(named as ChecksumAlgorithm);
  }
  return { expected, compute: [...compute] };
}

/** The answer S3 gives: a redirect, a PostResponse document, or an empty 200 / 204. */
async function answer(ctx: S3Context<EndpointOf<'PostObject'>>, fields: ReadonlyMap<string, string>, key: string, etag: string): Promise<void> {
  const { reply, endpoint } = ctx;
  const host = header(ctx.request, 'host') ?? 'localhost';
  const location = `http://${host}/${endpoint.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  reply.header('etag', etag);
  reply.header('location', location);
  const redirect = fields.get('success_action_redirect') ?? fields.get('redirect');
  if (redirect !== undefined && /^https?:\/\//i.test(redirect)) {
    const query = `bucket=${encodeURIComponent(endpoint.bucket)}&key=${encodeURIComponent(key)}&etag=${encodeURIComponent(etag)}`;
    reply.header('location', `${redirect}${redirect.includes('?') ? '&' : '?'}${query}`);
    await reply.code(303).send();
    return;
  }
  const status = fields.get('success_action_status');
  if (status === '201') {
    reply.code(201).header('content-type', 'application/xml');
    await reply.send(renderXml('PostResponse', { Location: location, Bucket: endpoint.bucket, Key: key, ETag: etag }, { namespace: false }));
    return;
  }
  await reply.code(status === '200' ? 200 : 204).send();
}

export async function handlePostObject(ctx: S3Context<EndpointOf<'PostObject'>>): Promise<void> {
  const { request, services, bucket, signal } = ctx;
  const type = header(request, 'content-type');
  if (type === undefined || !/^multipart\/form-data\s*;/i.test(type)) throw s3Error('PreconditionFailed', 'Bucket POST must be of the enclosure-type multipart/form-data');
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: request.headers, limits: { fields: 200, fieldSize: MAX_TEXT_FILE_BYTES, files: 4, parts: 300, headerPairs: 50 } });
  } catch (err) {
    throw s3Error('MalformedPOSTRequest', undefined, err);
  }
  const finished = new Promise<void>((resolve) => parser.once('close', resolve));
  let form: FormStart;
  try {
    form = await receiveForm(ctx, parser);
  } catch (err) {
    request.raw.unpipe(parser);
    throw err;
  }
  const { fields, file } = form;
  try {
    const rawKey = fields.get('key');
    if (rawKey === undefined || rawKey === '') throw s3Error('InvalidArgument', "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.");
    const key = rawKey.replace(/\$\{filename\}/g, form.filename);
    assertKeyLength(key);
    const signer = verifyPostSignature(fields, (id) => services.credentialOf(id)?.secretAccessKey, services.config.server.signatureV2);
    const auth: AuthResult = signer.kind === 'signed' ? { kind: 'signed', accessKeyId: signer.accessKeyId, payload: { kind: 'unsigned' } } : { kind: 'anonymous', payload: { kind: 'unsigned' } };
    await authorizeWrite(ctx, auth);
    const policy = fields.get('policy');
    const range = policy === undefined ? undefined : checkPolicy(parsePolicy(policy), fields, key, bucket.name, new Date());

    const headers = asHeaders(fields);
    const metadata = metadataFromHeaders({ headers });
    const acl = await objectAclOfRequest({ ...ctx, auth }, bucket, headers);
    if (acl !== undefined) metadata.acl = acl;
    const { expected, compute } = expectedChecksums(fields);
    const max = Math.min(range?.max ?? Infinity, services.config.server.maxPutSize);
    const integrity = new IntegrityCheck(undefined, expected, compute, max);
    const stages: Transform[] = [integrity, ...(range && range.min > 0 ? [new MinimumSize(range.min)] : []), services.metrics.countBytes('PostObject', 'in')];
    const body = pipeline([file, ...stages] as [Readable, ...Transform[]], () => undefined) as unknown as Readable;
    const result = await writing(bucket, key, (store) => store.write({ key, body, metadata, beforeCommit: () => ({ checksums: { ...integrity.computed } }), signal }));
    await services.cluster?.tellOwners(bucket.name, [key]);
    await finished;
    for (const [alg, value] of Object.entries(integrity.computed)) ctx.reply.header(checksumHeader(alg as ChecksumAlgorithm), value);
    await answer(ctx, fields, key, result.etag);
  } catch (err) {
    file.resume();
    request.raw.unpipe(parser);
    throw err;
  }
}
