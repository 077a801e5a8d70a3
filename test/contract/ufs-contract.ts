/**
 * The one contract every UFS adapter must meet (ufs-adapters/types.ts). Each adapter runs it
 * against a real store or a protocol-faithful emulator: `describeUfsContract(name, setup)`.
 * A test an adapter cannot pass is skipped only with a stated reason.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { isUfsError, type UfsErrorKind } from '../../ufs-adapters/errors';
import type { ListEntry, ListOptions, ObjectMetadata, UfsAdapter } from '../../ufs-adapters/types';
import { MIN_PART_SIZE } from '../../ufs-adapters/types';
import { compareUtf8 } from '../../ufs-adapters/utf8-order';
import { byteOrder, expectedListing, listRendered, prng, randomKeys, samplePrefixes, startAfterPositions } from './listing-model';

interface ContractSetup {
  adapter: UfsAdapter;
  cleanup: () => Promise<void>;
  /**
   * Puts into the store, behind the adapter's back and under the key prefix `under`, what no
   * listing may show (empty plain folders, names no key can have, links to `existingKey`), where
   * the store has such things.
   */
  addListingNoise?: (under: string, existingKey: string) => Promise<void>;
  /** The adapter's temporary files in the store, where it keeps any (none may outlive a write). */
  temporaries?: () => Promise<string[]>;
}

interface ContractOptions {
  /** Test title -> reason it cannot pass for this adapter. */
  skip?: Record<string, string>;
}

const meta = (extra: Partial<ObjectMetadata> = {}): ObjectMetadata => ({ userMetadata: {}, ...extra });
const body = (data: Buffer | string): Readable => Readable.from([Buffer.from(data)]);
const md5 = (b: Buffer) => createHash('md5').update(b).digest();

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

async function expectKind(promise: Promise<unknown>, kind: UfsErrorKind): Promise<void> {
  try {
    await promise;
  } catch (err) {
    if (isUfsError(err, kind)) return;
    throw new Error(`expected UfsError ${kind}, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
  }
  throw new Error(`expected UfsError ${kind}, but the call succeeded`);
}

/** Runs `fn` over `items`, at most `concurrency` at a time. */
async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}

async function collect(iterable: AsyncIterable<ListEntry>, limit = Infinity): Promise<string[]> {
  const out: string[] = [];
  for await (const e of iterable) {
    out.push(e.kind === 'object' ? e.key : `${e.prefix}`);
    if (out.length >= limit) break;
  }
  return out;
}

export function describeUfsContract(name: string, setup: () => Promise<ContractSetup>, options: ContractOptions = {}): void {
  describe(`UFS contract: ${name}`, () => {
    let ctx: ContractSetup;
    let adapter: UfsAdapter;
    beforeAll(async () => {
      ctx = await setup();
      adapter = ctx.adapter;
    });
    afterAll(async () => {
      await ctx?.adapter.close();
      await ctx?.cleanup();
    });

    const check = (title: string, fn: () => Promise<void>, timeout?: number): void => {
      const reason = options.skip?.[title];
      if (reason) test.skip(`${title} (skipped: ${reason})`, () => undefined);
      else test(title, fn, timeout);
    };

    check('write, stat and read back bytes and metadata', async () => {
      const data = randomBytes(70_000);
      const written = await adapter.write({
        key: 'c/roundtrip.bin',
        body: body(data),
        metadata: meta({ contentType: 'application/x-test', cacheControl: 'max-age=5', userMetadata: { owner: 'contract' } }),
      });
      expect(written.size).toBe(data.length);
      expect(written.etag).toMatch(/^".+"$/);
      const info = await adapter.stat('c/roundtrip.bin');
      expect(info).toMatchObject({ key: 'c/roundtrip.bin', size: data.length, etag: written.etag, contentType: 'application/x-test', cacheControl: 'max-age=5' });
      expect(info.userMetadata).toEqual({ owner: 'contract' });
      expect(info.lastModified).toBeInstanceOf(Date);
      expect((await readAll(await adapter.read('c/roundtrip.bin', undefined))).equals(data)).toBe(true);
    });

    check('single-PUT ETag is the MD5 of the content', async () => {
      const data = Buffer.from('etag is md5');
      const written = await adapter.write({ key: 'c/md5.txt', body: body(data), metadata: meta() });
      expect(written.etag).toBe(`"${md5(data).toString('hex')}"`);
    });

    check('ranged reads return exactly the inclusive range', async () => {
      const data = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
      await adapter.write({ key: 'c/range.txt', body: body(data), metadata: meta() });
      expect((await readAll(await adapter.read('c/range.txt', { start: 10, end: 15 }))).toString()).toBe('abcdef');
      expect((await readAll(await adapter.read('c/range.txt', { start: 0, end: 0 }))).toString()).toBe('0');
      expect((await readAll(await adapter.read('c/range.txt', { start: 35, end: 35 }))).toString()).toBe('z');
    });

    check('readWithInfo (where the adapter has it): the info of stat and the bytes of the range, clamped to the object', async () => {
      const withInfo = adapter.readWithInfo?.bind(adapter);
      if (!withInfo) return; // an optional capability: the cache then stats and reads separately
      const data = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
      await adapter.write({ key: 'c/with-info.txt', body: body(data), metadata: meta({ contentType: 'text/x-info', userMetadata: { k: 'v' } }) });
      const stat = await adapter.stat('c/with-info.txt');
      const page = await withInfo('c/with-info.txt', { start: 0, end: 1023 });
      expect(page.info).toMatchObject({ key: 'c/with-info.txt', size: data.length, etag: stat.etag, contentType: 'text/x-info', userMetadata: { k: 'v' } });
      expect(page.info.lastModified.getTime()).toBe(stat.lastModified.getTime());
      expect((await readAll(page.body)).equals(data)).toBe(true);
      const middle = await withInfo('c/with-info.txt', { start: 10, end: 15 });
      expect((await readAll(middle.body)).toString()).toBe('abcdef');
      const past = await withInfo('c/with-info.txt', { start: 1024, end: 2047 });
      expect(past.info.size).toBe(data.length);
      expect((await readAll(past.body)).length).toBe(0);
      await expectKind(withInfo('c/missing', { start: 0, end: 1023 }), 'NotFound');
    });

    check('readWithInfo of an empty object: its info, no bytes', async () => {
      const withInfo = adapter.readWithInfo?.bind(adapter);
      if (!withInfo) return;
      await adapter.write({ key: 'c/with-info-empty', body: body(''), metadata: meta() });
      const empty = await withInfo('c/with-info-empty', { start: 0, end: 1023 });
      expect(empty.info.size).toBe(0);
      expect((await readAll(empty.body)).length).toBe(0);
    });

    check('missing keys are NotFound for stat and read; delete of a missing key succeeds', async () => {
      await expectKind(adapter.stat('c/missing'), 'NotFound');
      await expectKind(adapter.read('c/missing', undefined), 'NotFound');
      await adapter.delete('c/missing');
    });

    check('overwrite replaces content and ETag; ifMatch pins the version', async () => {
      const first = await adapter.write({ key: 'c/version', body: body('first version'), metadata: meta() });
      expect((await readAll(await adapter.read('c/version', undefined, { ifMatch: first.etag }))).toString()).toBe('first version');
      const second = await adapter.write({ key: 'c/version', body: body('second version!'), metadata: meta() });
      expect(second.etag).not.toBe(first.etag);
      // Pinned to the first version: that version's bytes (a store that still holds it open) or
      // PreconditionFailed, never the second version's bytes.
      const pinned = await adapter.read('c/version', undefined, { ifMatch: first.etag }).then(readAll, (err: unknown) => err);
      if (Buffer.isBuffer(pinned)) expect(pinned.toString()).toBe('first version');
      else expect(pinned).toMatchObject({ kind: 'PreconditionFailed' });
      expect((await readAll(await adapter.read('c/version', { start: 0, end: 5 }, { ifMatch: second.etag }))).toString()).toBe('second');
    });

    check('delete removes the object', async () => {
      await adapter.write({ key: 'c/delete-me', body: body('x'), metadata: meta() });
      await adapter.delete('c/delete-me');
      await expectKind(adapter.stat('c/delete-me'), 'NotFound');
    });

    check('a body that fails mid-stream leaves no object', async () => {
      const failing = new Readable({
        read() {
          this.push(Buffer.alloc(64 * 1024, 1));
          this.destroy(new Error('client went away'));
        },
      });
      await expect(adapter.write({ key: 'c/failed', body: failing, metadata: meta() })).rejects.toThrow();
      await expectKind(adapter.stat('c/failed'), 'NotFound');
    });

    check('beforeCommit runs after the body and a throw leaves no object', async () => {
      let ran = false;
      await expect(
        adapter.write({
          key: 'c/vetoed',
          body: body('vetoed'),
          metadata: meta(),
          beforeCommit: () => {
            ran = true;
            throw new Error('BadDigest');
          },
        }),
      ).rejects.toThrow('BadDigest');
      expect(ran).toBe(true);
      await expectKind(adapter.stat('c/vetoed'), 'NotFound');
    });

    check('keys with spaces, unicode and punctuation round-trip', async () => {
      const keys = ['c/odd/a b.txt', 'c/odd/ünï €', 'c/odd/1+1=2&x', 'c/odd/100%', 'c/odd/😀'];
      for (const key of keys) await adapter.write({ key, body: body(key), metadata: meta() });
      for (const key of keys) expect((await readAll(await adapter.read(key, undefined))).toString()).toBe(key);
      expect(await collect(adapter.list({ prefix: 'c/odd/' }))).toEqual([...keys].sort(compareUtf8));
    });

    check('list: UTF-8 order, prefix, delimiter, startAfter, early stop', async () => {
      const keys = ['l/a.txt', 'l/b/1', 'l/b/2', 'l/b-c', 'l/c/d/e', 'l/é', 'l/z'];
      for (const key of keys) await adapter.write({ key, body: body(key), metadata: meta() });
      expect(await collect(adapter.list({ prefix: 'l/' }))).toEqual([...keys].sort(compareUtf8));
      expect(await collect(adapter.list({ prefix: 'l/', delimiter: '/' }))).toEqual(['l/a.txt', 'l/b-c', 'l/b/', 'l/c/', 'l/z', 'l/é']);
      expect(await collect(adapter.list({ prefix: 'l/', startAfter: 'l/b/1' }))).toEqual(['l/b/2', 'l/c/d/e', 'l/z', 'l/é']);
      expect(await collect(adapter.list({ prefix: 'l/', delimiter: '/', startAfter: 'l/b/' }))).toEqual(['l/c/', 'l/z', 'l/é']);
      expect(await collect(adapter.list({ prefix: 'l/b' }))).toEqual(['l/b-c', 'l/b/1', 'l/b/2']);
      expect(await collect(adapter.list({ prefix: 'l/' }), 2)).toEqual(['l/a.txt', 'l/b-c']);
      expect(await collect(adapter.list({ prefix: 'nothing/here/' }))).toEqual([]);
    });

    check('list entries carry size, ETag and mtime', async () => {
      const written = await adapter.write({ key: 'e/one', body: body('12345'), metadata: meta() });
      const entries: ListEntry[] = [];
      for await (const e of adapter.list({ prefix: 'e/' })) entries.push(e);
      expect(entries).toEqual([expect.objectContaining({ kind: 'object', key: 'e/one', size: 5, etag: written.etag })]);
      expect((entries[0] as { lastModified: Date }).lastModified).toBeInstanceOf(Date);
    });

    check(
      'list: random unicode trees against a brute-force model, for every prefix, delimiter and startAfter',
      async () => {
        const base = 'bf/';
        const random = prng(7);
        const keys = randomKeys(random, 100).map((k) => base + k);
        await pool(keys, 8, (key) => adapter.write({ key, body: Readable.from(key.endsWith('/') ? [] : [Buffer.from(key)]), metadata: meta() }));
        await ctx.addListingNoise?.(base, keys[0]);
        const sorted = [...keys].sort(byteOrder);
        const list = (o: ListOptions): Promise<string[]> => listRendered(adapter, o);

        expect(await list({ prefix: base })).toEqual(sorted);
        let checked = 0;
        for (const prefix of samplePrefixes(random, sorted, base, 8)) {
          for (const delimiter of [undefined, '/', '-', '€']) {
            const full = expectedListing(sorted, { prefix, delimiter });
            expect({ prefix, delimiter, got: await list({ prefix, delimiter }) }).toEqual({ prefix, delimiter, got: full });
            for (const startAfter of startAfterPositions(full, prefix, 4)) {
              const expected = expectedListing(sorted, { prefix, delimiter, startAfter });
              expect({ prefix, delimiter, startAfter, got: await list({ prefix, delimiter, startAfter }) }).toEqual({ prefix, delimiter, startAfter, got: expected });
              checked++;
            }
          }
        }
        expect(checked).toBeGreaterThan(200);
      },
      180_000, // about 1,000 listings: tens of seconds against a real S3 store on a busy machine
    );

    check('concurrent writes to one key never pair one body with another metadata record', async () => {
      const bodies = Array.from({ length: 12 }, (_, i) => `body number ${i} `.repeat(i + 1));
      await Promise.all(bodies.map((b, i) => adapter.write({ key: 'race/key', body: body(b), metadata: meta({ contentType: `t/${i}` }) })));
      const content = (await readAll(await adapter.read('race/key', undefined))).toString();
      const info = await adapter.stat('race/key');
      const winner = bodies.indexOf(content);
      expect(winner).toBeGreaterThanOrEqual(0);
      expect(info.etag).toBe(`"${md5(Buffer.from(content)).toString('hex')}"`);
      expect(info.contentType).toBe(`t/${winner}`);
      expect((await ctx.temporaries?.()) ?? []).toEqual([]);
    });

    check('copy keeps or replaces metadata', async () => {
      await adapter.write({ key: 'cp/src', body: body('copied'), metadata: meta({ contentType: 'text/plain', userMetadata: { a: '1' } }) });
      await adapter.copy({ sourceKey: 'cp/src', destinationKey: 'cp/same' });
      expect(await adapter.stat('cp/same')).toMatchObject({ contentType: 'text/plain', userMetadata: { a: '1' }, size: 6 });
      await adapter.copy({ sourceKey: 'cp/src', destinationKey: 'cp/new', metadata: meta({ contentType: 'text/x-new', userMetadata: { b: '2' } }) });
      expect(await adapter.stat('cp/new')).toMatchObject({ contentType: 'text/x-new', userMetadata: { b: '2' } });
      expect((await readAll(await adapter.read('cp/new', undefined))).toString()).toBe('copied');
      await expectKind(adapter.copy({ sourceKey: 'cp/missing', destinationKey: 'cp/x' }), 'NotFound');
    });

    check(
      'multipart: parts, listParts, complete with md5-of-md5s-N ETag, listMultipartUploads',
      async () => {
        const part1 = randomBytes(MIN_PART_SIZE);
        const part2 = randomBytes(1000);
        const upload = await adapter.createMultipartUpload('mp/object', meta({ contentType: 'application/x-mp', userMetadata: { via: 'mpu' } }));
        expect((await adapter.getMultipartUpload('mp/object', upload.uploadId)).key).toBe('mp/object');
        const p1 = await adapter.uploadPart({ uploadId: upload.uploadId, key: 'mp/object', partNumber: 1, body: body(part1) });
        const p2 = await adapter.uploadPart({ uploadId: upload.uploadId, key: 'mp/object', partNumber: 2, body: body(part2) });
        expect(p1.etag).toBe(`"${md5(part1).toString('hex')}"`);
        expect((await adapter.listParts('mp/object', upload.uploadId)).map((p) => [p.partNumber, p.size])).toEqual([
          [1, part1.length],
          [2, part2.length],
        ]);
        const uploads = [];
        for await (const u of adapter.listMultipartUploads('mp/')) uploads.push(u.uploadId);
        expect(uploads).toContain(upload.uploadId);
        const done = await adapter.completeMultipartUpload('mp/object', upload.uploadId, [
          { partNumber: 1, etag: p1.etag },
          { partNumber: 2, etag: p2.etag },
        ]);
        expect(done.etag).toBe(`"${createHash('md5').update(Buffer.concat([md5(part1), md5(part2)])).digest('hex')}-2"`);
        const info = await adapter.stat('mp/object');
        expect(info).toMatchObject({ size: part1.length + part2.length, contentType: 'application/x-mp', userMetadata: { via: 'mpu' } });
        expect((await readAll(await adapter.read('mp/object', undefined))).equals(Buffer.concat([part1, part2]))).toBe(true);
        const left = [];
        for await (const u of adapter.listMultipartUploads('mp/')) left.push(u.uploadId);
        expect(left).not.toContain(upload.uploadId);
      },
      60_000,
    );

    check('multipart errors: InvalidPart, InvalidPartOrder, EntityTooSmall, NoSuchUpload after abort', async () => {
      const upload = await adapter.createMultipartUpload('mp/bad', meta());
      const a = await adapter.uploadPart({ uploadId: upload.uploadId, key: 'mp/bad', partNumber: 1, body: body('small one') });
      const b = await adapter.uploadPart({ uploadId: upload.uploadId, key: 'mp/bad', partNumber: 2, body: body('small two') });
      await expectKind(adapter.completeMultipartUpload('mp/bad', upload.uploadId, [{ partNumber: 1, etag: '"00000000000000000000000000000000"' }]), 'InvalidPart');
      await expectKind(
        adapter.completeMultipartUpload('mp/bad', upload.uploadId, [
          { partNumber: 2, etag: b.etag },
          { partNumber: 1, etag: a.etag },
        ]),
        'InvalidPartOrder',
      );
      await expectKind(
        adapter.completeMultipartUpload('mp/bad', upload.uploadId, [
          { partNumber: 1, etag: a.etag },
          { partNumber: 2, etag: b.etag },
        ]),
        'EntityTooSmall',
      );
      await adapter.abortMultipartUpload('mp/bad', upload.uploadId);
      await expectKind(adapter.listParts('mp/bad', upload.uploadId), 'NoSuchUpload');
      await expectKind(adapter.getMultipartUpload('mp/bad', upload.uploadId), 'NoSuchUpload');
      await expectKind(adapter.uploadPart({ uploadId: upload.uploadId, key: 'mp/bad', partNumber: 3, body: body('late') }), 'NoSuchUpload');
      await expectKind(adapter.completeMultipartUpload('mp/bad', upload.uploadId, [{ partNumber: 1, etag: a.etag }]), 'NoSuchUpload');
      await expectKind(adapter.stat('mp/bad'), 'NotFound');
    });

    check('the ACL is kept with the object: write, copy onto itself with a new one, multipart', async () => {
      const acl = '{"o":"owner-a","g":[["u:owner-a","FULL_CONTROL"],["g:AllUsers","READ"]]}';
      const written = await adapter.write({ key: 'acl/one', body: body('acl bytes'), metadata: meta({ acl, userMetadata: { 'ringcache-acl': 'user value' } }) });
      let info = await adapter.stat('acl/one');
      expect(info.acl).toBe(acl);
      // A user's metadata of the same name stays the user's.
      expect(info.userMetadata).toEqual({ 'ringcache-acl': 'user value' });
      const changed = '{"o":"owner-a","g":[["u:owner-a","FULL_CONTROL"]]}';
      await adapter.copy({ sourceKey: 'acl/one', destinationKey: 'acl/one', metadata: { ...meta({ userMetadata: info.userMetadata }), acl: changed } });
      info = await adapter.stat('acl/one');
      expect(info.acl).toBe(changed);
      expect(await readAll(await adapter.read('acl/one', undefined))).toEqual(Buffer.from('acl bytes'));
      expect(info.size).toBe(written.size);
      await adapter.write({ key: 'acl/one', body: body('plain'), metadata: meta() });
      expect((await adapter.stat('acl/one')).acl).toBeUndefined();
      const upload = await adapter.createMultipartUpload('acl/multi', meta({ acl }));
      const part = await adapter.uploadPart({ uploadId: upload.uploadId, key: 'acl/multi', partNumber: 1, body: body('one part') });
      await adapter.completeMultipartUpload('acl/multi', upload.uploadId, [{ partNumber: 1, etag: part.etag }]);
      expect((await adapter.stat('acl/multi')).acl).toBe(acl);
    });

    check('multipart checksums: the upload keeps checksumAlgorithm, each part the checksums beforeCommit gives', async () => {
      const upload = await adapter.createMultipartUpload('sum/parts', meta({ checksumAlgorithm: 'SHA256' }));
      expect((await adapter.getMultipartUpload('sum/parts', upload.uploadId)).metadata.checksumAlgorithm).toBe('SHA256');
      const sum = (text: string) => createHash('sha256').update(text).digest('base64');
      const p1 = await adapter.uploadPart({ uploadId: upload.uploadId, key: 'sum/parts', partNumber: 1, body: body('first'), beforeCommit: () => ({ checksums: { SHA256: sum('first') } }) });
      const p2 = await adapter.uploadPart({ uploadId: upload.uploadId, key: 'sum/parts', partNumber: 2, body: body('second') });
      expect(p1.checksums).toEqual({ SHA256: sum('first') });
      expect(p2.checksums).toBeUndefined();
      // A part uploaded again replaces its checksums with the new ones.
      await adapter.uploadPart({ uploadId: upload.uploadId, key: 'sum/parts', partNumber: 2, body: body('again'), beforeCommit: () => ({ checksums: { SHA256: sum('again'), CRC32: 'AAAAAA==' } }) });
      expect((await adapter.listParts('sum/parts', upload.uploadId)).map((p) => [p.partNumber, p.checksums])).toEqual([
        [1, { SHA256: sum('first') }],
        [2, { SHA256: sum('again'), CRC32: 'AAAAAA==' }],
      ]);
      await adapter.abortMultipartUpload('sum/parts', upload.uploadId);
    });

    check('multipart completion stores the checksums known only then with the object', async () => {
      const upload = await adapter.createMultipartUpload('sum/object', meta({ contentType: 'text/x-sum', checksumAlgorithm: 'CRC32/FULL_OBJECT' }));
      const part = await adapter.uploadPart({ uploadId: upload.uploadId, key: 'sum/object', partNumber: 1, body: body('only part'), beforeCommit: () => ({ checksums: { CRC32: 'MTIzNA==' } }) });
      await adapter.completeMultipartUpload('sum/object', upload.uploadId, [{ partNumber: 1, etag: part.etag }], undefined, { checksums: { CRC32: 'MTIzNA==' } });
      expect(await adapter.stat('sum/object')).toMatchObject({ contentType: 'text/x-sum', checksums: { CRC32: 'MTIzNA==' } });
    });

    check('multipart completion keeps a COMPOSITE object\'s part checksums with its part sizes; a copy keeps them', async () => {
      const sum = (data: Buffer) => createHash('sha256').update(data).digest('base64');
      const first = randomBytes(MIN_PART_SIZE);
      const upload = await adapter.createMultipartUpload('sum/composite', meta({ checksumAlgorithm: 'SHA256' }));
      const p1 = await adapter.uploadPart({ uploadId: upload.uploadId, key: 'sum/composite', partNumber: 1, body: body(first), beforeCommit: () => ({ checksums: { SHA256: sum(first) } }) });
      const p2 = await adapter.uploadPart({ uploadId: upload.uploadId, key: 'sum/composite', partNumber: 2, body: body('tail'), beforeCommit: () => ({ checksums: { SHA256: sum(Buffer.from('tail')) } }) });
      const partChecksums = [sum(first), sum(Buffer.from('tail'))];
      const late = { checksums: { SHA256: 'Y29tcG9zaXRl-2' }, partChecksums };
      const done = await adapter.completeMultipartUpload('sum/composite', upload.uploadId, [{ partNumber: 1, etag: p1.etag }, { partNumber: 2, etag: p2.etag }], undefined, late);
      const info = await adapter.stat('sum/composite');
      expect(info).toMatchObject({ etag: done.etag, size: MIN_PART_SIZE + 4, checksums: { SHA256: 'Y29tcG9zaXRl-2' }, partChecksums, partSizes: [MIN_PART_SIZE, 4] });
      // A metadata-only copy onto itself (PutObjectAcl does one) keeps them.
      await adapter.copy({ sourceKey: 'sum/composite', destinationKey: 'sum/composite', metadata: { userMetadata: { note: 'acl' }, acl: 'changed' } });
      expect(await adapter.stat('sum/composite')).toMatchObject({ userMetadata: { note: 'acl' }, checksums: { SHA256: 'Y29tcG9zaXRl-2' }, partChecksums });
      // An object without them has none.
      await adapter.write({ key: 'sum/plain', body: body('plain'), metadata: meta() });
      expect((await adapter.stat('sum/plain')).partChecksums).toBeUndefined();
    });

    check('bucket settings: none, stored and read back, replaced, removed; never listed, never a key', async () => {
      if (!adapter.getBucketSetting || !adapter.putBucketSetting) throw new Error(`${adapter.kind} keeps no bucket settings`);
      expect(await adapter.getBucketSetting('cors')).toBeUndefined();
      const rules = [{ allowedOrigins: ['https://a.example'], allowedMethods: ['GET'], allowedHeaders: [], exposeHeaders: ['etag'] }];
      await adapter.putBucketSetting('cors', rules);
      await adapter.putBucketSetting('acl', 'encoded acl');
      expect(await adapter.getBucketSetting('cors')).toEqual(rules);
      expect(await adapter.getBucketSetting('acl')).toBe('encoded acl');
      await adapter.putBucketSetting('acl', 'replaced');
      expect(await adapter.getBucketSetting('acl')).toBe('replaced');
      const listed = await collect(adapter.list({ prefix: '' }));
      expect(listed.filter((k) => k.includes('settings'))).toEqual([]);
      await adapter.putBucketSetting('cors', undefined);
      await adapter.putBucketSetting('acl', undefined);
      expect(await adapter.getBucketSetting('cors')).toBeUndefined();
      expect(await adapter.getBucketSetting('acl')).toBeUndefined();
    });
  });
}
