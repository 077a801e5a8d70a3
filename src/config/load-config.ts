/**
 * Loads the configuration: defaults <- JSON file <- environment overrides, validated once
 * and deep-frozen. The only module that reads `process.env`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { mountUriProblem, ACCEPTED_MOUNT_URIS } from './mount-uri';
import { configSchema, type ConfigInput, type RingcacheConfig } from './schema';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The embedded default: one machine, ./data as the UFS, a fixed local credential. */
export const EMBEDDED_DEFAULT: ConfigInput = {
  dataDir: './data',
  credentials: [{ accessKeyId: 'ringcache', secretAccessKey: 'ringcache-secret', grants: { '*': 'write' } }],
};

type Env = Record<string, string | undefined>;

/**
 * Relative paths in a config file (dataDir, cache.disk.path, jobs.stateDir, a mount's
 * options.keyFilename) resolve against the file's folder; those of the environment and of the
 * embedded default against the working directory.
 */
export function loadConfig(options: { file?: string; env?: Env; cwd?: string } = {}): RingcacheConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  let merged: Record<string, any>;
  if (options.file) {
    const file = path.resolve(cwd, options.file);
    merged = resolveFilePaths(structuredClone(readConfigFile(file)) as Record<string, any>, path.dirname(file));
  } else {
    merged = structuredClone(EMBEDDED_DEFAULT) as Record<string, any>;
  }
  merged = applyEnv(merged, env);
  resolveEnvReferences(merged, env);
  return parseConfig(merged, cwd);
}

const MISSING_CREDENTIALS =
  'required: list at least one access key here, or set RINGCACHE_ACCESS_KEY_ID and RINGCACHE_SECRET_ACCESS_KEY ' +
  '(the embedded default key ringcache/ringcache-secret is used only when no config file is given)';

export function parseConfig(input: unknown, cwd = process.cwd()): RingcacheConfig {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const where = i.path.join('.') || '(root)';
      const missing = where === 'credentials' && i.code === 'invalid_type' && i.received === 'undefined';
      return `  - ${where}: ${missing ? MISSING_CREDENTIALS : i.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const config = result.data;
  const mountProblems = Object.entries(config.mounts).flatMap(([name, mount]) => {
    const problem = mountUriProblem(mount.uri);
    return problem === undefined ? [] : [`  - mounts.${name}.uri "${mount.uri}": ${problem}`];
  });
  if (mountProblems.length > 0) {
    throw new ConfigError(`invalid configuration:\n${mountProblems.join('\n')}\n  accepted mount URIs: ${ACCEPTED_MOUNT_URIS}`);
  }
  if (config.dataDir) config.dataDir = path.resolve(cwd, config.dataDir);
  config.cache.disk.path = path.resolve(cwd, config.cache.disk.path);
  config.jobs.stateDir = path.resolve(cwd, config.jobs.stateDir);
  if (config.cluster.peersFile) config.cluster.peersFile = path.resolve(cwd, config.cluster.peersFile);
  return deepFreeze(config);
}

function readConfigFile(file: string): ConfigInput {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(parsed)) throw new ConfigError(`config file ${file} must hold a JSON object ({...}), not ${parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : typeof parsed}`);
  return parsed as ConfigInput;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The config file's relative paths, made absolute against its folder (values of the wrong type are left for the schema to refuse). */
function resolveFilePaths(config: Record<string, any>, base: string): Record<string, any> {
  const resolve = (holder: Record<string, any> | undefined, key: string): void => {
    if (holder && typeof holder === 'object' && typeof holder[key] === 'string' && holder[key] !== '') holder[key] = path.resolve(base, holder[key]);
  };
  resolve(config, 'dataDir');
  resolve(config.cache?.disk, 'path');
  resolve(config.jobs, 'stateDir');
  resolve(config.server?.tls, 'certFile');
  resolve(config.server?.tls, 'keyFile');
  for (const key of ['caFile', 'certFile', 'keyFile']) resolve(config.cluster?.tls, key);
  resolve(config.cluster, 'peersFile');
  if (config.mounts && typeof config.mounts === 'object') {
    for (const mount of Object.values(config.mounts as Record<string, any>)) resolve(mount?.options, 'keyFilename');
  }
  return config;
}

/**
 * In a mount's `options`, a value written `{"$env": "NAME"}` is the environment variable NAME
 * (how the Helm chart passes store credentials from Kubernetes Secrets without writing them
 * into the file). An unset variable is a ConfigError naming the setting.
 */
function resolveEnvReferences(config: Record<string, any>, env: Env): void {
  const walk = (value: unknown, where: string): unknown => {
    if (Array.isArray(value)) return value.map((v, i) => walk(v, `${where}.${i}`));
    if (!value || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1 && entries[0][0] === '$env') {
      const name = entries[0][1];
      if (typeof name !== 'string' || name === '') throw new ConfigError(`${where}: "$env" must name an environment variable`);
      const found = env[name];
      if (found === undefined) throw new ConfigError(`${where}: the environment variable ${name} is not set`);
      return found;
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, walk(v, `${where}.${k}`)]));
  };
  if (!config.mounts || typeof config.mounts !== 'object') return;
  for (const [name, mount] of Object.entries(config.mounts as Record<string, any>)) {
    if (mount && typeof mount === 'object' && mount.options !== undefined) mount.options = walk(mount.options, `mounts.${name}.options`);
  }
}

/** RINGCACHE_* variables override single settings of the file (or of the embedded default). */
function applyEnv(config: Record<string, any>, env: Env): Record<string, any> {
  // A section of the wrong type is left as it is for the schema to refuse with its path.
  const section = (name: string): Record<string, any> => {
    if (config[name] === undefined) config[name] = {};
    return isPlainObject(config[name]) ? config[name] : {};
  };
  const server = section('server');
  if (env.RINGCACHE_HOST) server.host = env.RINGCACHE_HOST;
  if (env.RINGCACHE_PORT) server.port = toInt('RINGCACHE_PORT', env.RINGCACHE_PORT);
  if (env.RINGCACHE_REGION) server.region = env.RINGCACHE_REGION;
  if (env.RINGCACHE_BASE_DOMAIN) server.baseDomain = env.RINGCACHE_BASE_DOMAIN;
  if (env.RINGCACHE_DATA_DIR) config.dataDir = env.RINGCACHE_DATA_DIR;
  if (env.RINGCACHE_CACHE_DIR) config.cache = { ...config.cache, disk: { ...config.cache?.disk, path: env.RINGCACHE_CACHE_DIR } };
  if (env.RINGCACHE_CACHE_ENABLED) {
    if (!/^(true|false)$/.test(env.RINGCACHE_CACHE_ENABLED)) throw new ConfigError('RINGCACHE_CACHE_ENABLED must be true or false');
    config.cache = { ...config.cache, enabled: env.RINGCACHE_CACHE_ENABLED === 'true' };
  }
  if (env.RINGCACHE_CACHE_MEMORY_BYTES) {
    config.cache = { ...config.cache, memory: { maxBytes: toInt('RINGCACHE_CACHE_MEMORY_BYTES', env.RINGCACHE_CACHE_MEMORY_BYTES) } };
  }
  if (env.RINGCACHE_CACHE_DISK_BYTES) {
    config.cache = { ...config.cache, disk: { ...config.cache?.disk, maxBytes: toInt('RINGCACHE_CACHE_DISK_BYTES', env.RINGCACHE_CACHE_DISK_BYTES) } };
  }
  if (env.RINGCACHE_JOBS_DIR) config.jobs = { ...config.jobs, stateDir: env.RINGCACHE_JOBS_DIR };
  const cluster = { ...config.cluster };
  if (env.RINGCACHE_NODE_ID) cluster.nodeId = env.RINGCACHE_NODE_ID;
  if (env.RINGCACHE_ADVERTISE_URL) cluster.advertiseUrl = env.RINGCACHE_ADVERTISE_URL;
  if (env.RINGCACHE_CLUSTER_SECRET) cluster.secret = env.RINGCACHE_CLUSTER_SECRET;
  if (env.RINGCACHE_PEERS) cluster.peers = parsePeers(env.RINGCACHE_PEERS);
  if (env.RINGCACHE_CONSUL_URL) cluster.consul = { ...cluster.consul, url: env.RINGCACHE_CONSUL_URL };
  if (env.RINGCACHE_CONSUL_TOKEN) cluster.consul = { ...cluster.consul, token: env.RINGCACHE_CONSUL_TOKEN };
  if (env.RINGCACHE_ETCD_ENDPOINTS) cluster.etcd = { ...cluster.etcd, endpoints: env.RINGCACHE_ETCD_ENDPOINTS.split(',').map((e) => e.trim()).filter((e) => e !== '') };
  if (Object.keys(cluster).length > 0) config.cluster = cluster;
  if (env.RINGCACHE_LOG_LEVEL) config.log = { ...config.log, level: env.RINGCACHE_LOG_LEVEL };
  if (env.RINGCACHE_ACCESS_KEY_ID || env.RINGCACHE_SECRET_ACCESS_KEY) {
    if (!env.RINGCACHE_ACCESS_KEY_ID || !env.RINGCACHE_SECRET_ACCESS_KEY) {
      throw new ConfigError('set both RINGCACHE_ACCESS_KEY_ID and RINGCACHE_SECRET_ACCESS_KEY, or neither');
    }
    config.credentials = [
      { accessKeyId: env.RINGCACHE_ACCESS_KEY_ID, secretAccessKey: env.RINGCACHE_SECRET_ACCESS_KEY, grants: { '*': 'write' } },
    ];
  }
  return config;
}

/** RINGCACHE_PEERS="id1=http://host1:9000,id2=http://host2:9000" */
function parsePeers(value: string): { id: string; url: string }[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
    .map((item) => {
      const at = item.indexOf('=');
      if (at <= 0) throw new ConfigError(`RINGCACHE_PEERS: expected id=url, got "${item}"`);
      return { id: item.slice(0, at), url: item.slice(at + 1) };
    });
}

function toInt(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new ConfigError(`${name} must be a whole number, got "${value}"`);
  return Number(value);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
