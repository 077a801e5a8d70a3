/**
 * The WebHDFS emulator speaks the documented protocol (raw HTTP here, no adapter): JSON
 * shapes, 307 redirects to the DataNode, RemoteException statuses, the NameNode's
 * signed-byte child order, rename2, CONCAT and XAttr rules, authentication.
 */
import { request } from 'undici';
import { startWebHdfsEmulator, type WebHdfsEmulator } from '../emulators/webhdfs';

let emulator: WebHdfsEmulator;

afterEach(async () => {
  await emulator?.close();
});

async function call(method: string, path: string, query: string, body?: string) {
  const res = await request(`${emulator.nameNodeUrl}/webhdfs/v1${path}?${query}`, { method: method as 'GET', body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** Two-step CREATE as WebHDFS.md describes it (no data in the first request). */
async function create(path: string, data: string, query = 'user.name=alice'): Promise<number> {
  const first = await call('PUT', path, `op=CREATE&${query}`);
  expect(first.status).toBe(307);
  const location = String(first.headers.location);
  const second = await request(location, { method: 'PUT', body: data });
  await second.body.dump();
  return second.statusCode;
}

const KEYS = ['accessTime', 'blockSize', 'childrenNum', 'fileId', 'group', 'length', 'modificationTime', 'owner', 'pathSuffix', 'permission', 'replication', 'storagePolicy', 'type'];

describe('WebHDFS emulator protocol', () => {
  it('CREATE and OPEN redirect to the DataNode with the credentials; FileStatus has the documented fields', async () => {
    emulator = await startWebHdfsEmulator();
    const first = await call('PUT', '/d/a%20b.txt', 'op=CREATE&user.name=alice&overwrite=false');
    expect(first.status).toBe(307);
    const location = new URL(String(first.headers.location));
    expect(location.origin).toBe(emulator.dataNodeUrl);
    expect(location.pathname).toBe('/webhdfs/v1/d/a%20b.txt');
    expect(Object.fromEntries(location.searchParams)).toEqual({
      op: 'CREATE',
      'user.name': 'alice',
      namenoderpcaddress: `127.0.0.1:${emulator.nameNodePort}`,
      overwrite: 'false',
    });
    const second = await request(location.toString(), { method: 'PUT', body: 'hello webhdfs' });
    expect(second.statusCode).toBe(201);
    expect(second.headers.location).toBe(`hdfs://127.0.0.1:${emulator.nameNodePort}/d/a b.txt`);
    await second.body.dump();

    const status = (await call('GET', '/d/a%20b.txt', 'op=GETFILESTATUS&user.name=alice')).json().FileStatus as Record<string, unknown>;
    expect(Object.keys(status)).toEqual(KEYS);
    expect(status).toMatchObject({ length: 13, pathSuffix: '', type: 'FILE', owner: 'alice', permission: '644', replication: 3 });

    const open = await call('GET', '/d/a%20b.txt', 'op=OPEN&user.name=alice&offset=6&length=3');
    expect(open.status).toBe(307);
    const data = await request(String(open.headers.location));
    expect(data.headers['content-type']).toBe('application/octet-stream');
    expect(await data.body.text()).toBe('web');

    const noRedirect = await call('GET', '/d/a%20b.txt', 'op=OPEN&user.name=alice&noredirect=true');
    expect(noRedirect.status).toBe(200);
    expect(String(noRedirect.json().Location)).toContain(`${emulator.dataNodeUrl}/webhdfs/v1/d/a%20b.txt?op=OPEN`);
    expect(emulator.counts()).toMatchObject({ 'namenode:CREATE': 1, 'datanode:CREATE': 1, 'namenode:OPEN': 2, 'datanode:OPEN': 1 });
  });

  it('LISTSTATUS_BATCH pages in signed-byte order with remainingEntries; LISTSTATUS lists all', async () => {
    emulator = await startWebHdfsEmulator({ lsLimit: 2 });
    for (const name of ['b', 'é', 'a', 'a-1']) expect(await create(`/l/${encodeURIComponent(name)}`, name)).toBe(201);
    const page = (startAfter?: string) =>
      call('GET', '/l', `op=LISTSTATUS_BATCH&user.name=alice${startAfter ? `&startAfter=${encodeURIComponent(startAfter)}` : ''}`).then((r) => r.json());
    const first = (await page()) as { DirectoryListing: { partialListing: { FileStatuses: { FileStatus: Array<{ pathSuffix: string }> } }; remainingEntries: number } };
    expect(first.DirectoryListing.partialListing.FileStatuses.FileStatus.map((s) => s.pathSuffix)).toEqual(['é', 'a']);
    expect(first.DirectoryListing.remainingEntries).toBe(2);
    const second = (await page('a')) as typeof first;
    expect(second.DirectoryListing.partialListing.FileStatuses.FileStatus.map((s) => s.pathSuffix)).toEqual(['a-1', 'b']);
    expect(second.DirectoryListing.remainingEntries).toBe(0);
    const all = (await call('GET', '/l', 'op=LISTSTATUS&user.name=alice')).json() as { FileStatuses: { FileStatus: Array<{ pathSuffix: string }> } };
    expect(all.FileStatuses.FileStatus.map((s) => s.pathSuffix)).toEqual(['é', 'a', 'a-1', 'b']);
  });

  it('answers errors as RemoteException JSON with the ExceptionHandler status', async () => {
    emulator = await startWebHdfsEmulator();
    const missing = await call('GET', '/nope', 'op=GETFILESTATUS&user.name=alice');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toBe('application/json');
    expect(missing.json()).toEqual({
      RemoteException: { exception: 'FileNotFoundException', javaClassName: 'java.io.FileNotFoundException', message: 'File does not exist: /nope' },
    });
    const unknown = await call('GET', '/', 'op=FROBNICATE&user.name=alice');
    expect(unknown.status).toBe(400);
    expect(unknown.json()).toEqual({
      RemoteException: {
        exception: 'IllegalArgumentException',
        javaClassName: 'java.lang.IllegalArgumentException',
        message: 'Invalid value for webhdfs parameter "op": No enum constant org.apache.hadoop.hdfs.web.resources.GetOpParam.Op.FROBNICATE',
      },
    });
    expect(emulator.unknownOps).toEqual(['namenode GET FROBNICATE']);
    expect((await call('PUT', '/x', 'op=OPEN&user.name=alice')).json()).toMatchObject({ RemoteException: { message: expect.stringContaining('PutOpParam.Op.OPEN') } });

    expect(await create('/f', 'file')).toBe(201);
    const mkdirs = await call('PUT', '/f/sub', 'op=MKDIRS&user.name=alice');
    expect(mkdirs.status).toBe(403);
    expect(mkdirs.json()).toMatchObject({ RemoteException: { exception: 'ParentNotDirectoryException' } });
    expect((await call('PUT', '/f', 'op=MKDIRS&user.name=alice')).json()).toMatchObject({ RemoteException: { exception: 'FileAlreadyExistsException' } });
    expect((await call('PUT', '/a:b', 'op=MKDIRS&user.name=alice')).status).toBe(400);
    const exists = await call('PUT', '/f', 'op=CREATE&user.name=alice');
    const again = await request(String(exists.headers.location), { method: 'PUT', body: 'x' });
    expect(again.statusCode).toBe(403);
    expect(await again.body.json()).toMatchObject({ RemoteException: { exception: 'FileAlreadyExistsException' } });
    expect((await call('PUT', '/m/n', 'op=MKDIRS&user.name=alice')).json()).toEqual({ boolean: true });
    expect((await call('DELETE', '/m', 'op=DELETE&user.name=alice')).json()).toMatchObject({ RemoteException: { exception: 'PathIsNotEmptyDirectoryException' } });
    expect((await call('DELETE', '/m', 'op=DELETE&recursive=true&user.name=alice')).json()).toEqual({ boolean: true });
    expect((await call('DELETE', '/m', 'op=DELETE&user.name=alice')).json()).toEqual({ boolean: false });
  });

  it('RENAME: the old form answers a boolean, renameoptions runs rename2', async () => {
    emulator = await startWebHdfsEmulator();
    await create('/r/a', 'a');
    await create('/r/b', 'b');
    expect((await call('PUT', '/r/a', 'op=RENAME&user.name=alice&destination=/r/b')).json()).toEqual({ boolean: false });
    const rename2 = await call('PUT', '/r/a', 'op=RENAME&user.name=alice&destination=/r/b&renameoptions=NONE');
    expect(rename2.json()).toMatchObject({ RemoteException: { exception: 'FileAlreadyExistsException' } });
    const overwrite = await call('PUT', '/r/a', 'op=RENAME&user.name=alice&destination=/r/b&renameoptions=OVERWRITE');
    expect([overwrite.status, overwrite.text]).toEqual([200, '']);
    expect((await call('PUT', '/r/gone', 'op=RENAME&user.name=alice&destination=/r/x&renameoptions=NONE')).status).toBe(404);
    expect((await call('PUT', '/r/b', 'op=RENAME&user.name=alice&destination=/r/sub/b&renameoptions=OVERWRITE')).json()).toMatchObject({
      RemoteException: { exception: 'FileNotFoundException', message: 'rename destination parent /r/sub/b not found.' },
    });
    // The old rename moves into an existing directory.
    await call('PUT', '/r/dir', 'op=MKDIRS&user.name=alice');
    expect((await call('PUT', '/r/b', 'op=RENAME&user.name=alice&destination=/r/dir')).json()).toEqual({ boolean: true });
    expect(await emulator.list('/r/dir')).toEqual(['b']);
  });

  it('CONCAT and XAttrs follow the NameNode rules', async () => {
    emulator = await startWebHdfsEmulator();
    await create('/c/t', 'target-');
    await create('/c/s1', 'one-');
    await create('/c/s2', 'two');
    await create('/c/empty', '');
    await create('/other/s3', 'three');
    expect((await call('POST', '/c/t', 'op=CONCAT&user.name=alice&sources=/c/empty')).json()).toMatchObject({ RemoteException: { exception: 'HadoopIllegalArgumentException' } });
    expect((await call('POST', '/c/t', 'op=CONCAT&user.name=alice&sources=/other/s3')).status).toBe(400);
    const concat = await call('POST', '/c/t', 'op=CONCAT&user.name=alice&sources=/c/s1,/c/s2');
    expect([concat.status, concat.text]).toEqual([200, '']);
    expect(await emulator.list('/c')).toEqual(['empty', 't']);
    const data = await request(String((await call('GET', '/c/t', 'op=OPEN&user.name=alice')).headers.location));
    expect(await data.body.text()).toBe('target-one-two');

    const set = (name: string, value: string, flag: string) =>
      call('PUT', '/c/t', `op=SETXATTR&user.name=alice&xattr.name=${name}&xattr.value=${encodeURIComponent(value)}&flag=${flag}`);
    expect((await set('user.a', '"text value"', 'CREATE')).status).toBe(200);
    expect((await set('user.a', '"again"', 'CREATE')).json()).toMatchObject({ RemoteException: { exception: 'IOException' } });
    expect((await set('user.b', '0x414243', 'CREATE,REPLACE')).status).toBe(200);
    expect((await set('nonamespace', 'x', 'CREATE')).status).toBe(400);
    expect((await set('trusted.x', 'x', 'CREATE')).json()).toMatchObject({ RemoteException: { exception: 'AccessControlException' } });
    expect((await set('user.big', `0s${Buffer.alloc(17000).toString('base64')}`, 'CREATE')).status).toBe(400);
    expect((await call('GET', '/c/t', 'op=GETXATTRS&user.name=alice&encoding=text')).json()).toEqual({
      XAttrs: [
        { name: 'user.a', value: '"text value"' },
        { name: 'user.b', value: '"ABC"' },
      ],
    });
    expect((await call('GET', '/c/t', 'op=GETXATTRS&user.name=alice&encoding=base64&xattr.name=user.b')).json()).toEqual({
      XAttrs: [{ name: 'user.b', value: '0sQUJD' }],
    });
    expect((await call('GET', '/c/t', 'op=GETXATTRS&user.name=alice&xattr.name=user.zz')).status).toBe(403);
    // XAttrs belong to the inode: they follow a rename.
    await call('PUT', '/c/t', 'op=RENAME&user.name=alice&destination=/c/moved&renameoptions=NONE');
    expect((await call('GET', '/c/moved', 'op=LISTXATTRS&user.name=alice')).json()).toEqual({ XAttrNames: '["user.a","user.b"]' });
  });

  it('authentication: anonymous refused with a 401 page, delegation tokens checked, the NameNode step of CREATE carries no data', async () => {
    emulator = await startWebHdfsEmulator({ allowAnonymous: false, delegationTokens: { tok: 'bob' } });
    const anonymous = await call('GET', '/', 'op=GETFILESTATUS');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('PseudoAuth');
    expect(anonymous.text).toContain('Authentication required');
    expect((await call('GET', '/', 'op=GETFILESTATUS&delegation=bad')).json()).toMatchObject({ RemoteException: { exception: 'InvalidToken' } });
    expect((await call('GET', '/', 'op=GETFILESTATUS&user.name=1nvalid!')).status).toBe(400);
    expect(await create('/t/x', 'data', 'delegation=tok')).toBe(201);
    expect((await emulator.fileStatus('/t/x'))?.owner).toBe('bob');
    const nn = emulator.requests.find((r) => r.node === 'namenode' && r.op === 'CREATE');
    const dn = emulator.requests.find((r) => r.node === 'datanode' && r.op === 'CREATE');
    expect([nn?.bodyBytes, dn?.bodyBytes, dn?.params.delegation]).toEqual([0, 4, 'tok']);
    // Data sent to the NameNode before the redirect is refused and recorded.
    const early = await call('PUT', '/t/early', 'op=CREATE&user.name=alice', 'too soon');
    expect(early.status).toBe(400);
    expect(early.json()).toMatchObject({ RemoteException: { exception: 'IllegalArgumentException' } });
    expect(emulator.violations).toEqual(['CREATE /t/early: 8 bytes sent to the NameNode before the redirect']);
  });

  it('fault modes: a redirect to a dead DataNode port, a DataNode that stalls an upload or a download', async () => {
    emulator = await startWebHdfsEmulator();
    expect(await create('/f/data', 'x'.repeat(1000))).toBe(201);
    emulator.injectFault({ op: 'OPEN', deadDataNode: true });
    const dead = await call('GET', '/f/data', 'op=OPEN&user.name=alice');
    expect(dead.status).toBe(307);
    expect(new URL(String(dead.headers.location)).port).toBe(String(emulator.deadPort));
    await expect(request(String(dead.headers.location))).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    emulator.injectFault({ op: 'OPEN', stallReplyAfter: 100 });
    const open = await call('GET', '/f/data', 'op=OPEN&user.name=alice');
    const stalled = await request(String(open.headers.location));
    expect([stalled.statusCode, stalled.headers['content-length']]).toEqual([200, '1000']);
    const got: Buffer[] = [];
    stalled.body.on('data', (chunk: Buffer) => got.push(chunk));
    const until = Date.now() + 5000;
    while (Buffer.concat(got).length < 100 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setTimeout(resolve, 100)); // and nothing after that
    expect(Buffer.concat(got)).toHaveLength(100);
    stalled.body.destroy();

    emulator.injectFault({ op: 'CREATE', stallBodyAfter: 10 });
    const first = await call('PUT', '/f/partial', 'op=CREATE&user.name=alice');
    const controller = new AbortController();
    const upload = request(String(first.headers.location), { method: 'PUT', body: 'y'.repeat(100), signal: controller.signal }).catch((e: unknown) => e);
    const deadline = Date.now() + 5000;
    while (!emulator.requests.some((r) => r.node === 'datanode' && r.op === 'CREATE' && r.stalled && r.bodyBytes >= 10) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    controller.abort();
    expect(await upload).toMatchObject({ name: 'AbortError' });
    // The partial file stays, as HDFS keeps what a writer that hung had written.
    expect((await emulator.fileStatus('/f/partial'))?.length).toBe(10);
  });
});
