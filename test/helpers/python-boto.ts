/**
 * Runs Python scripts that drive the gateway with Debian's botocore/boto3 (`/usr/bin/python3`,
 * package python3-boto3). A script reads its arguments as JSON from argv[1] (`ARGS`) and prints
 * one JSON document; `runBoto` returns it parsed. Outside CI a missing botocore skips the suites
 * that need it (with the reason); in CI it fails them.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';

let available: boolean | undefined;
/** Whether /usr/bin/python3 can import boto3 and botocore. */
function botoAvailable(): boolean {
  available ??= spawnSync(PYTHON, ['-c', 'import boto3, botocore'], { stdio: 'ignore', timeout: 30_000 }).status === 0;
  return available;
}

/** `describe` that skips outside CI when botocore is missing, and fails in CI. */
export function describeWithBoto(name: string, body: () => void): void {
  if (!botoAvailable() && process.env.CI !== 'true') {
    describe(name, () => test.skip(`${PYTHON} cannot import boto3 (apt-get install python3-boto3; CI does)`, () => undefined));
    return;
  }
  describe(name, () => {
    beforeAll(() => {
      if (!botoAvailable()) throw new Error(`python3-boto3 is required in CI but ${PYTHON} cannot import boto3`);
    });
    body();
  });
}

/** Preamble every script gets: imports, ARGS, and `client(signature_version)` for the gateway in ARGS. */
const PREAMBLE = `
import json, sys, base64, hashlib
import boto3, botocore
from botocore.config import Config
ARGS = json.loads(sys.argv[1])
def client(signature_version='s3v4', **extra):
    return boto3.client('s3', endpoint_url=ARGS['endpoint'], aws_access_key_id=ARGS['key'],
        aws_secret_access_key=ARGS['secret'], region_name='us-east-1',
        config=Config(signature_version=signature_version, s3={'addressing_style': 'path'}, retries={'max_attempts': 1}, **extra))
def out(value):
    print(json.dumps(value, default=str))
`;

/** Runs `script` with ARGS = `args` (plus endpoint, key, secret) and returns what it printed as JSON. */
export async function runBoto<T = unknown>(script: string, args: Record<string, unknown>): Promise<T> {
  try {
    const { stdout } = await run(PYTHON, ['-c', PREAMBLE + script, JSON.stringify(args)], {
      timeout: 60_000,
      maxBuffer: 16 * 1024 * 1024,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', AWS_EC2_METADATA_DISABLED: 'true' },
    });
    return JSON.parse(stdout.trim().split('\n').pop() as string) as T;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`python script failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}
