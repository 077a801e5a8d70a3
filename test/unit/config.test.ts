import { ConfigError, loadConfig, parseConfig } from '../../src/config/load-config';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

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
    expect(config.server.port).toBe(9200);
    expect(config.server.baseDomain).toBe('s3.local');
    expect(config.mounts.archive).toEqual({ uri: 'file:///srv/nfs/archive', anonymousRead: false, options: {}, timeoutMs: 30_000, maxConcurrency: 64 });
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

  test('a port that is not a number is refused with its variable name', () => {
    expect(() => loadConfig({ env: { RINGCACHE_PORT: 'abc' } })).toThrow(/RINGCACHE_PORT/);
  });

  test('a config file that is not JSON is refused clearly', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rc-config-'));
    writeFileSync(path.join(dir, 'bad.json'), '{ nope');
    expect(() => loadConfig({ file: 'bad.json', cwd: dir, env: {} })).toThrow(/not valid JSON/);
  });
});
