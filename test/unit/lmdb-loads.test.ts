/**
 * npm lists lmdb's install script as not approved; lmdb still loads its prebuilt binary.
 * This test opens a real environment so CI notices if that ever stops being true.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';

test('lmdb opens an environment, writes in a transaction and reads back', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ringcache-lmdb-'));
  const env = open({ path: dir, compression: false, encoding: 'binary' });
  try {
    await env.transaction(() => {
      env.put('page:1', Buffer.from('hello'));
      env.put('page:2', Buffer.from('world'));
    });
    expect(Buffer.from(env.getBinary('page:1') as Uint8Array).toString()).toBe('hello');
    expect([...env.getKeys({ start: 'page:', end: 'page;' })]).toEqual(['page:1', 'page:2']);
  } finally {
    await env.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
