import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load-config';
import { assertMountRootsExist } from '../../src/mounts/mount-roots';

describe('config', () => {
  test('the embedded default: 127.0.0.1:9000 over ./data with one credential', () => {
    const config = loadConfig({ env: {}, cwd: '/srv/app' });
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 9000, region: 'us-east-1' });
    expect(config.dataDir).toBe('/srv/app/data');
    expect(config.credentials).toHaveLength(1);
    expect(Object.isFrozen(config.server)).toBe(true);
  });

  test('environment overrides the file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rc-config-'));
    const file = path.join(dir, 'ringcache.json');
    writeFileSync(
      file,
      JSON.stringify({
        server: { port: 9100 },
        mounts: { archive: { uri: 'file:///srv/nfs/archive' } },
        credentials: [{ accessKeyId: 'reader', secretAccessKey: 'reader-secret', grants: { archive: 'read' } }],
      }),
    );
    const config = loadConfig({ file, env: { RINGCACHE_PORT: '9200', RINGCACHE_BASE_DOMAIN: 's3.local' }, cwd: dir });
    rmSync(dir, { recursive: true, force: true });
    expect(config.server.port).toBe(9200);
    expect(config.server.baseDomain).toBe('s3.local');
    expect(config.mounts.archive).toEqual({ uri: 'file:///srv/nfs/archive', anonymousRead: false, options: {}, timeoutMs: 30_000, maxConcurrency: 64, cache: { minUses: 1 } });
    expect(config.credentials[0].grants).toEqual({ archive: 'read' });
  });

  test('bad config gives every problem with its path', () => {
    expect(() =>
      parseConfig({ server: { port: 70000, colour: 'red' }, mounts: { Bad_Name: { uri: 'x' } }, credentials: [] }),
    ).toThrow(ConfigError);
    try {
      parseConfig({ server: { port: 70000 }, mounts: { Bad_Name: { uri: 'file:///x' } }, credentials: [] });
    } catch (err) {
      const message = (err as Error).message;
      expect(message).toContain('server.port');
      expect(message).toContain('mounts.Bad_Name');
      expect(message).toContain('credentials');
    }
  });

  test("a mount's cache rules: maxObjectBytes and minUses, checked", () => {
    const base = { credentials: [{ accessKeyId: 'abc', secretAccessKey: '12345678' }] };
    const config = parseConfig({ ...base, mounts: { lake: { uri: 'file:///srv/lake', cache: { maxObjectBytes: 1024, minUses: 2 } } } });
    expect(config.mounts.lake.cache).toEqual({ maxObjectBytes: 1024, minUses: 2 });
    for (const cache of [{ minUses: 0 }, { minUses: 1.5 }, { maxObjectBytes: -1 }, { minUses: 101 }, { after: 2 }]) {
      expect(() => parseConfig({ ...base, mounts: { lake: { uri: 'file:///srv/lake', cache } } })).toThrow(/mounts\.lake\.cache/);
    }
  });

  test('a port that is not a number is refused with its variable name', () => {
    expect(() => loadConfig({ env: { RINGCACHE_PORT: 'abc' } })).toThrow(/RINGCACHE_PORT/);
  });

  test('a config file that is not JSON is refused clearly', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rc-config-'));
    writeFileSync(path.join(dir, 'bad.json'), '{ nope');
    try {
      expect(() => loadConfig({ file: 'bad.json', cwd: dir, env: {} })).toThrow(/not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('config: mount URIs', () => {
  const withMount = (uri: string) => ({ mounts: { 'nfs-a': { uri } }, credentials: [{ accessKeyId: 'abc', secretAccessKey: '12345678' }] });
  const problem = (uri: string): string => {
    try {
      parseConfig(withMount(uri));
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error(`${uri} was accepted`);
  };

  test.each([
    ['file://nfs-a', /mounts\.nfs-a\.uri "file:\/\/nfs-a": .*names the host "nfs-a" \(two slashes\); write file:\/\/\/nfs-a/],
    ['file:///x%ZZ', /mounts\.nfs-a\.uri "file:\/\/\/x%ZZ": its path "\/x%ZZ" is not valid percent-encoding/],
    ['file:///a%2Fb', /contains an encoded "\/" \(%2F\)/],
    ['ftp://host/x', /mounts\.nfs-a\.uri "ftp:\/\/host\/x": unknown scheme "ftp"/],
    ['s3://', /s3 mount URI must name a bucket/],
    ['s3://bucket/x?colour=red', /unknown parameter colour/],
    ['gs://Bad_Bucket/x', /invalid GCS bucket name/],
    ['hdfs:///no/host', /needs the NameNode host/],
  ])('%s is refused with the mount, the problem and the accepted forms', (uri, expected) => {
    const message = problem(uri);
    expect(message).toMatch(expected);
    expect(message).toContain('accepted mount URIs: file:///absolute/path');
    expect(message).toContain('gs://bucket[/prefix]');
    expect(message.split('\n').every((line) => !/^\s+at /.test(line))).toBe(true);
  });

  test('well-formed URIs of every kind are accepted', () => {
    for (const uri of ['file:///srv/nfs/a', 'file://localhost/srv/x', 's3://lake/raw?region=eu-west-1', 'gs://models/prod/', 'hdfs://nn:9870/warehouse?user=hive', 'swebhdfs://nn/x']) {
      expect(parseConfig(withMount(uri)).mounts['nfs-a'].uri).toBe(uri);
    }
  });
});

describe('config: a config file', () => {
  const write = (config: unknown): { dir: string; file: string } => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rc-config-'));
    mkdirSync(path.join(dir, 'etc'));
    const file = path.join(dir, 'etc', 'ringcache.json');
    writeFileSync(file, JSON.stringify(config));
    return { dir, file };
  };

  test('without credentials: refused, saying how to give them (the embedded key is only for no file)', () => {
    const { dir, file } = write({ dataDir: '/srv/data' });
    expect(() => loadConfig({ file, env: {}, cwd: dir })).toThrow(/credentials: required: list at least one access key here, or set RINGCACHE_ACCESS_KEY_ID and RINGCACHE_SECRET_ACCESS_KEY/);
    const fromEnv = loadConfig({ file, env: { RINGCACHE_ACCESS_KEY_ID: 'pod', RINGCACHE_SECRET_ACCESS_KEY: 'pod-secret' }, cwd: dir });
    expect(fromEnv.credentials).toEqual([{ accessKeyId: 'pod', secretAccessKey: 'pod-secret', grants: { '*': 'write' } }]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("relative paths resolve against the file's folder; the environment's against the working directory", () => {
    const { dir, file } = write({
      dataDir: 'buckets',
      cache: { disk: { path: '../cache' } },
      jobs: { stateDir: 'state/jobs' },
      mounts: { models: { uri: 'gs://models/prod/', options: { keyFilename: 'gcs.json' } } },
      credentials: [{ accessKeyId: 'abc', secretAccessKey: '12345678' }],
    });
    const config = loadConfig({ file, env: {}, cwd: '/somewhere/else' });
    expect(config.dataDir).toBe(path.join(dir, 'etc', 'buckets'));
    expect(config.cache.disk.path).toBe(path.join(dir, 'cache'));
    expect(config.jobs.stateDir).toBe(path.join(dir, 'etc', 'state', 'jobs'));
    expect(config.mounts.models.options.keyFilename).toBe(path.join(dir, 'etc', 'gcs.json'));
    const overridden = loadConfig({ file, env: { RINGCACHE_DATA_DIR: 'data', RINGCACHE_CACHE_DIR: '/var/cache/rc' }, cwd: '/work/dir' });
    expect(overridden.dataDir).toBe('/work/dir/data');
    expect(overridden.cache.disk.path).toBe('/var/cache/rc');
    rmSync(dir, { recursive: true, force: true });
  });

  test('{"$env": NAME} in mount options reads the environment; an unset variable names the setting', () => {
    const { dir, file } = write({
      mounts: { lake: { uri: 's3://lake/raw', options: { credentials: { accessKeyId: { $env: 'LAKE_KEY' }, secretAccessKey: { $env: 'LAKE_SECRET' } } } } },
      credentials: [{ accessKeyId: 'abc', secretAccessKey: '12345678' }],
    });
    const config = loadConfig({ file, env: { LAKE_KEY: 'AKIA1', LAKE_SECRET: 's3cr3t' }, cwd: dir });
    expect(config.mounts.lake.options.credentials).toEqual({ accessKeyId: 'AKIA1', secretAccessKey: 's3cr3t' });
    expect(() => loadConfig({ file, env: { LAKE_KEY: 'AKIA1' }, cwd: dir })).toThrow('mounts.lake.options.credentials.secretAccessKey: the environment variable LAKE_SECRET is not set');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('mount roots at start', () => {
  test('a file:// mount whose root is missing or not a folder is refused, naming each', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rc-roots-'));
    mkdirSync(path.join(dir, 'present'));
    writeFileSync(path.join(dir, 'a-file'), 'x');
    const mounts = parseConfig({
      mounts: {
        present: { uri: pathToFileURL(path.join(dir, 'present')).href },
        missing: { uri: pathToFileURL(path.join(dir, 'missing')).href },
        flat: { uri: pathToFileURL(path.join(dir, 'a-file')).href },
        remote: { uri: 's3://lake/raw' },
      },
      credentials: [{ accessKeyId: 'abc', secretAccessKey: '12345678' }],
    }).mounts;
    const err = await assertMountRootsExist(mounts).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(`mount "missing" (${mounts.missing.uri}): its root ${path.join(dir, 'missing')} does not exist`);
    expect((err as Error).message).toContain(`mount "flat" (${mounts.flat.uri}): ${path.join(dir, 'a-file')} is not a folder`);
    expect((err as Error).message).not.toContain('"present"');
    await expect(assertMountRootsExist({ present: mounts.present, remote: mounts.remote })).resolves.toBeUndefined();
    rmSync(dir, { recursive: true, force: true });
  });
});
