/** What the adapter unit tests write, read and expect with: bodies, metadata, listings rendered, typed errors. */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { isUfsError, type UfsErrorKind } from '../../ufs-adapters/errors';
import type { ListEntry, ObjectMetadata } from '../../ufs-adapters/types';

export const md5Hex = (data: string | Buffer): string => createHash('md5').update(data).digest('hex');
export const body = (data: string | Buffer): Readable => Readable.from([Buffer.from(data)]);
export const meta = (extra: Partial<ObjectMetadata> = {}): ObjectMetadata => ({ userMetadata: {}, ...extra });

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

export const readText = async (stream: Readable): Promise<string> => (await readAll(stream)).toString('utf8');

/** A listing as keys and "prefix:" common prefixes. */
export async function collect(entries: AsyncIterable<ListEntry>): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of entries) out.push(entry.kind === 'object' ? entry.key : `prefix:${entry.prefix}`);
  return out;
}

/** Expects `promise` to fail with a UfsError of `kind`; the error. */
export async function expectUfsError(promise: Promise<unknown>, kind: UfsErrorKind): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect({ isUfsError: isUfsError(err), kind: (err as { kind?: string })?.kind, message: (err as Error)?.message }).toMatchObject({ isUfsError: true, kind });
  return err as Error;
}
