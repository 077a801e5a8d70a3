/**
 * A local mount root that goes away (an NFS export unmounted, the folder renamed) is an
 * unavailable store: every operation fails Unavailable, nothing answers "no such key" or "empty",
 * and no write ever re-creates the root. It recovers by itself when the root is back.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { isUfsError } from '../../ufs-adapters/errors';
import { LocalAdapter } from '../../ufs-adapters/local/local-adapter';
import type { ListEntry, MultipartUpload } from '../../ufs-adapters/types';

const body = (data: string): Readable => Readable.from([Buffer.from(data)]);

async function kindOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    return isUfsError(err) ? err.kind : `raw: ${String(err)}`;
  }
}

async function drain(entries: AsyncIterable<ListEntry | MultipartUpload>): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of entries) out.push('kind' in entry ? (entry.kind === 'object' ? entry.key : entry.prefix) : entry.uploadId);
  return out;
}

let base: string;
let root: string;
let aside: string;
let adapter: LocalAdapter;

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'ringcache-root-'));
  root = path.join(base, 'export');
  aside = path.join(base, 'unmounted');
  await mkdir(root);
  adapter = new LocalAdapter({ root });
  await adapter.write({ key: 'dir/present.txt', body: body('here'), metadata: { userMetadata: {} } });
});

afterEach(async () => {
  await adapter.close();
  await rm(base, { recursive: true, force: true });
});

describe('a missing mount root', () => {
  beforeEach(() => rename(root, aside));

  it('reads, stats and lists are Unavailable, not NotFound or empty', async () => {
    expect(await kindOf(adapter.stat('dir/present.txt'))).toBe('Unavailable');
    expect(await kindOf(adapter.stat('never-existed'))).toBe('Unavailable');
    expect(await kindOf(adapter.stat('dir/'))).toBe('Unavailable');
    expect(await kindOf(adapter.read('dir/present.txt', undefined))).toBe('Unavailable');
    expect(await kindOf(adapter.readWithInfo('dir/present.txt', { start: 0, end: 10 }))).toBe('Unavailable');
    expect(await kindOf(drain(adapter.list({ prefix: '' })))).toBe('Unavailable');
    expect(await kindOf(drain(adapter.list({ prefix: 'dir/', delimiter: '/' })))).toBe('Unavailable');
    expect(await kindOf(drain(adapter.listMultipartUploads('')))).toBe('Unavailable');
  });

  it('writes, copies, deletes and multipart uploads are Unavailable and never re-create the root', async () => {
    expect(await kindOf(adapter.write({ key: 'new.txt', body: body('lost?'), metadata: { userMetadata: {} } }))).toBe('Unavailable');
    expect(await kindOf(adapter.write({ key: 'deep/er/new.txt', body: body('lost?'), metadata: { userMetadata: {} } }))).toBe('Unavailable');
    expect(await kindOf(adapter.write({ key: 'folder/', body: body(''), metadata: { userMetadata: {} } }))).toBe('Unavailable');
    expect(await kindOf(adapter.copy({ sourceKey: 'dir/present.txt', destinationKey: 'copy.txt' }))).toBe('Unavailable');
    expect(await kindOf(adapter.delete('dir/present.txt'))).toBe('Unavailable');
    expect(await kindOf(adapter.delete('never-existed'))).toBe('Unavailable');
    expect(await kindOf(adapter.createMultipartUpload('mp.bin', { userMetadata: {} }))).toBe('Unavailable');
    expect(await kindOf(adapter.getMultipartUpload('mp.bin', 'AAAAAAAAAAAAAAAAAAAAAAAA'))).toBe('Unavailable');
    expect(existsSync(root)).toBe(false);
  });

  it('recovers by itself when the root comes back', async () => {
    expect(await kindOf(adapter.stat('dir/present.txt'))).toBe('Unavailable');
    await rename(aside, root);
    expect((await adapter.stat('dir/present.txt')).size).toBe(4);
    expect(await kindOf(adapter.stat('never-existed'))).toBe('NotFound');
    await adapter.write({ key: 'after.txt', body: body('back'), metadata: { userMetadata: {} } });
    expect(await drain(adapter.list({ prefix: '' }))).toEqual(['after.txt', 'dir/present.txt']);
  });

  it('a root replaced by a file is Unavailable too', async () => {
    await writeFile(root, 'not a folder');
    expect(await kindOf(adapter.stat('dir/present.txt'))).toBe('Unavailable');
    expect(await kindOf(drain(adapter.list({ prefix: '' })))).toBe('Unavailable');
    expect(await kindOf(adapter.write({ key: 'x', body: body('x'), metadata: { userMetadata: {} } }))).toBe('Unavailable');
  });
});

describe('a root that vanishes between the check and the write', () => {
  it('a PUT whose body arrives after the root went away fails and leaves no root behind', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = Readable.from(
      (async function* () {
        yield Buffer.from('first ');
        await gate;
        yield Buffer.from('second');
      })(),
    );
    const writing = adapter.write({ key: 'late/racing.txt', body: slow, metadata: { userMetadata: {} } });
    await new Promise((r) => setTimeout(r, 50)); // the temp file is open in the old root
    await rename(root, aside);
    release();
    expect(await kindOf(writing)).toBe('Unavailable');
    expect(existsSync(root)).toBe(false);
  });
});
