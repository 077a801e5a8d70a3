/**
 * Where the client commands (load, jobs, purge, status) send their requests and with which key,
 * from the command line and the environment:
 *  - endpoint: --endpoint, else RINGCACHE_ENDPOINT, else http://127.0.0.1:9000;
 *  - key: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, else the profile AWS_PROFILE names in the
 *    shared files (~/.aws/credentials and ~/.aws/config, or AWS_SHARED_CREDENTIALS_FILE and
 *    AWS_CONFIG_FILE), read with the AWS SDK's own loader, else the embedded default key;
 *  - region (what the signature names; the gateway accepts any): AWS_REGION,
 *    AWS_DEFAULT_REGION, the profile's region, else us-east-1.
 */
import { loadSharedConfigFiles } from '@smithy/core/config';
import { UsageError } from './usage';

export interface ClientCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region: string;
}

interface ClientSettings {
  endpoint: string;
  credentials: ClientCredentials;
}

/** A credential setting that cannot be used (exit status 1). */
export class ClientSettingsError extends Error {
  override name = 'ClientSettingsError';
}

type Env = Record<string, string | undefined>;

/** The embedded default's key (src/config/load-config.ts), what `ringcache serve` without a config accepts. */
const DEFAULT_KEY = { accessKeyId: 'ringcache', secretAccessKey: 'ringcache-secret' } as const;
const DEFAULT_ENDPOINT = 'http://127.0.0.1:9000';

export async function clientSettings(flags: { endpoint?: string }, env: Env = process.env): Promise<ClientSettings> {
  const endpoint = endpointOf(flags.endpoint, env);
  return { endpoint, credentials: await credentialsOf(env) };
}

function endpointOf(flag: string | undefined, env: Env): string {
  const [text, from] = flag !== undefined ? [flag, '--endpoint'] : env.RINGCACHE_ENDPOINT ? [env.RINGCACHE_ENDPOINT, 'RINGCACHE_ENDPOINT'] : [DEFAULT_ENDPOINT, 'default'];
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new UsageError(`${from} "${text}": expected a URL such as http://127.0.0.1:9000`);
  return text;
}

async function credentialsOf(env: Env): Promise<ClientCredentials> {
  const envRegion = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  if (id || secret) {
    if (!id || !secret) throw new ClientSettingsError(`set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (only ${id ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY'} is set)`);
    return { accessKeyId: id, secretAccessKey: secret, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}), region: envRegion ?? 'us-east-1' };
  }
  if (env.AWS_PROFILE) return fromProfile(env.AWS_PROFILE, envRegion, env);
  return { ...DEFAULT_KEY, region: envRegion ?? 'us-east-1' };
}

async function fromProfile(name: string, envRegion: string | undefined, env: Env): Promise<ClientCredentials> {
  let files: Awaited<ReturnType<typeof loadSharedConfigFiles>>;
  try {
    files = await loadSharedConfigFiles({
      ...(env.AWS_SHARED_CREDENTIALS_FILE ? { filepath: env.AWS_SHARED_CREDENTIALS_FILE } : {}),
      ...(env.AWS_CONFIG_FILE ? { configFilepath: env.AWS_CONFIG_FILE } : {}),
    });
  } catch (err) {
    throw new ClientSettingsError(`AWS_PROFILE=${name}: cannot read the shared AWS files: ${(err as Error).message}`);
  }
  const fromCredentials = files.credentialsFile[name] ?? {};
  const fromConfig = files.configFile[name] ?? {};
  const profile = { ...fromConfig, ...fromCredentials };
  if (files.credentialsFile[name] === undefined && files.configFile[name] === undefined) {
    throw new ClientSettingsError(`AWS_PROFILE=${name}: no such profile in ${env.AWS_SHARED_CREDENTIALS_FILE ?? '~/.aws/credentials'} or ${env.AWS_CONFIG_FILE ?? '~/.aws/config'}`);
  }
  const id = profile.aws_access_key_id;
  const secret = profile.aws_secret_access_key;
  if (!id || !secret) {
    throw new ClientSettingsError(`AWS_PROFILE=${name}: the profile has no aws_access_key_id and aws_secret_access_key (other credential sources, such as SSO or roles, are not supported by the ringcache CLI)`);
  }
  return {
    accessKeyId: id,
    secretAccessKey: secret,
    ...(profile.aws_session_token ? { sessionToken: profile.aws_session_token } : {}),
    region: envRegion ?? profile.region ?? 'us-east-1',
  };
}
