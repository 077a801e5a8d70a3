/**
 * Command-line wrapper of ceph-rgw.ts: starts a throwaway Ceph RGW, prints one JSON line
 * ({ endpoint, port, accessKeyId, secretAccessKey, region, dir, pids, startedInMs }) and keeps
 * it running until SIGINT or SIGTERM, then stops it.
 *
 *   npm run rgw -- --port 7480            # or: node dist/test/servers/ceph-rgw-cli.js --port 7480
 *   options: --port N  --mon-port N  --daemon-ports MIN-MAX  --access-key K  --secret-key S
 *            --memstore-bytes N  --no-mgr  --keep-dir
 */
import { startRgw, type RgwOptions } from './ceph-rgw';

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: ceph-rgw-cli [--port N] [--mon-port N] [--daemon-ports MIN-MAX] [--access-key K] [--secret-key S] [--memstore-bytes N] [--no-mgr] [--keep-dir]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): RgwOptions {
  const options: RgwOptions = { log: (line) => process.stderr.write(`ceph-rgw: ${line}\n`) };
  const int = (name: string, value: string | undefined): number => {
    if (value === undefined || !/^\d+$/.test(value)) usage(`${name} needs a number`);
    return Number(value);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    switch (arg) {
      case '--port':
        options.port = int(arg, argv[++i]);
        break;
      case '--mon-port':
        options.monPort = int(arg, argv[++i]);
        break;
      case '--daemon-ports': {
        const match = /^(\d+)-(\d+)$/.exec(argv[++i] ?? '');
        if (!match) usage('--daemon-ports needs MIN-MAX');
        options.daemonPorts = [Number(match[1]), Number(match[2])];
        break;
      }
      case '--access-key':
        options.accessKeyId = argv[++i] ?? usage('--access-key needs a value');
        break;
      case '--secret-key':
        options.secretAccessKey = argv[++i] ?? usage('--secret-key needs a value');
        break;
      case '--memstore-bytes':
        options.memstoreBytes = int(arg, argv[++i]);
        break;
      case '--no-mgr':
        options.mgr = false;
        break;
      case '--keep-dir':
        options.keepDir = true;
        break;
      default:
        usage(`unknown argument ${arg}`);
    }
  }
  return options;
}

async function main(): Promise<void> {
  const rgw = await startRgw(parseArgs(process.argv.slice(2)));
  const { stop: _stop, ceph: _ceph, ...printable } = rgw;
  process.stdout.write(`${JSON.stringify(printable)}\n`);
  const shutdown = (): void => {
    rgw.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`ceph-rgw: ${(err as Error).message}\n`);
  process.exit(1);
});
