/**
 * `ringcache serve [--config FILE]`: loads the configuration, starts the gateway and keeps it
 * running until SIGINT or SIGTERM. A port that cannot be taken is a ServeError with the
 * address and what to change, not a raw EADDRINUSE.
 */
import { loadConfig } from '../config/load-config';

export class ServeError extends Error {
  override name = 'ServeError';
}

/** Resolves once the gateway listens; `stopped` settles when a signal has closed it. */
export async function serveCommand(configFile: string | undefined): Promise<{ stopped: Promise<void> }> {
  const config = loadConfig({ file: configFile });
  // Loaded only to serve: the client commands start faster without the gateway's modules.
  const { startGateway } = await import('../main');
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  try {
    gateway = await startGateway(config);
  } catch (err) {
    throw listenProblem(err, config.server.host, config.server.port) ?? err;
  }
  const stopped = new Promise<void>((resolve, reject) => {
    const stop = (): void => {
      gateway.close().then(resolve, reject);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return { stopped };
}

function listenProblem(err: unknown, host: string, port: number): ServeError | undefined {
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return new ServeError(`cannot listen on ${address}: the port is already in use (another gateway?); choose another with server.port or RINGCACHE_PORT`);
    case 'EACCES':
      return new ServeError(`cannot listen on ${address}: permission denied (ports below 1024 need privileges); choose another with server.port or RINGCACHE_PORT`);
    case 'EADDRNOTAVAIL':
      return new ServeError(`cannot listen on ${address}: this machine has no such address; fix server.host or RINGCACHE_HOST`);
    default:
      return undefined;
  }
}
