/**
 * The local adapter reads one version of a file and only that one (open-versions.ts): a file
 * replaced by rename while a reader goes page by page is read whole from the file it opened; a
 * file rewritten in place under a reader fails the read (PreconditionFailed) before a byte of the
 * other version is handed on.
 */
import { mkdtemp, open, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { isUfsError } from '../../ufs-adapters/errors';
import { LocalAdapter } from '../../ufs-adapters/local/local-adapter';

const MiB = 1024 * 1024;
const filled = (byte: string, size = 2 * MiB): Buffer => Buffer.alloc(size, byte);

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Reads until the stream ends or fails; what arrived and how it ended. */
async function consume(stream: Readable, afterFirstChunk?: () => Promise<void>): Promise<{ bytes: Buffer; error?: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      if (chunks.length === 1 && afterFirstChunk) await afterFirstChunk();
    }
    return { bytes: Buffer.concat(chunks) };
  } catch (error) {
    return { bytes: Buffer.concat(chunks), error };
  }
}

/** Open descriptors of this process that point at `file`. */
async function openDescriptors(file: string): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target === file || target === `${file} (deleted)`) n++;
  }
  return n;
}

let root: string;
let adapter: LocalAdapter;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'ringcache-versions-'));
  adapter = new LocalAdapter({ root });
});
afterEach(async () => {
  await adapter.close();
  await rm(root, { recursive: true, force: true });
});

describe('a file rewritten in place while it is read', () => {
  it('fails the read before any byte of the new content is handed on (no ifMatch)', async () => {
    const file = path.join(root, 'inplace.bin');
    await writeFile(file, filled('a'));
    const stream = await adapter.read('inplace.bin', undefined);
    // cp onto the file: same inode, truncated and rewritten.
    const { bytes, error } = await consume(stream, () => writeFile(file, filled('b')));
    expect(isUfsError(error, 'PreconditionFailed')).toBe(true);
    expect(bytes.length).toBeLessThan(2 * MiB);
    expect(bytes.includes('b'.charCodeAt(0))).toBe(false);
  });

  it('fails a read pinned to a version whose kept file changed in place', async () => {
    const file = path.join(root, 'pinned.bin');
    await writeFile(file, filled('a'));
    const { info, body } = await adapter.readWithInfo('pinned.bin', { start: 0, end: MiB - 1 });
    expect((await readAll(body)).equals(filled('a', MiB))).toBe(true);
    const handle = await open(file, 'r+');
    await handle.write(Buffer.alloc(10, 'b'), 0, 10, MiB + 5); // one in-place write in page 1
    await handle.close();
    const { bytes, error } = await consume(await adapter.read('pinned.bin', { start: MiB, end: 2 * MiB - 1 }, { ifMatch: info.etag }).catch((err: unknown) => Readable.from(Promise.reject(err) as never)));
    expect(isUfsError(error, 'PreconditionFailed')).toBe(true);
    expect(bytes.includes('b'.charCodeAt(0))).toBe(false);
  });

  it('a file that grows or shrinks under a reader fails it too', async () => {
    const file = path.join(root, 'shrinks.bin');
    await writeFile(file, filled('a'));
    const shrunk = await consume(await adapter.read('shrinks.bin', undefined), () => writeFile(file, filled('a', 300 * 1024)));
    expect(isUfsError(shrunk.error, 'PreconditionFailed')).toBe(true);
    await writeFile(file, filled('a'));
    const grown = await consume(await adapter.read('shrinks.bin', undefined), async () => {
      const handle = await open(file, 'a');
      await handle.write(Buffer.from('appended'));
      await handle.close();
    });
    expect(isUfsError(grown.error, 'PreconditionFailed')).toBe(true);
  });
});

describe('a file replaced by rename while it is read page by page', () => {
  it('the following pages of the version come from the file it opened', async () => {
    const first = await adapter.write({ key: 'replaced.bin', body: Readable.from([filled('a')]), metadata: { userMetadata: {} } });
    const { info, body } = await adapter.readWithInfo('replaced.bin', { start: 0, end: MiB - 1 });
    expect(info.etag).toBe(first.etag);
    expect((await readAll(body)).equals(filled('a', MiB))).toBe(true);
    await adapter.write({ key: 'replaced.bin', body: Readable.from([filled('b')]), metadata: { userMetadata: {} } });
    const page1 = await readAll(await adapter.read('replaced.bin', { start: MiB, end: 2 * MiB - 1 }, { ifMatch: info.etag }));
    expect(page1.equals(filled('a', MiB))).toBe(true);
    // And a read of the current version gets the new bytes.
    const now = await adapter.stat('replaced.bin');
    expect((await readAll(await adapter.read('replaced.bin', { start: 0, end: 9 }, { ifMatch: now.etag }))).toString()).toBe('bbbbbbbbbb');
  });

  it('kept files are closed by close(), also when their object was deleted', async () => {
    await adapter.write({ key: 'gone.bin', body: Readable.from([filled('a')]), metadata: { userMetadata: {} } });
    const { body } = await adapter.readWithInfo('gone.bin', { start: 0, end: 99 });
    await readAll(body);
    const file = path.join(root, 'gone.bin');
    expect(await openDescriptors(file)).toBe(1);
    await adapter.delete('gone.bin');
    await adapter.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(await openDescriptors(file)).toBe(0);
  });
});
