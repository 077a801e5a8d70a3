/**
 * Static peers from a file: `[{ "id": "node-a", "url": "http://10.0.0.11:9000" }, ...]` (or
 * `{ "peers": [...] }`). Read once at start (the initial list), then again on SIGHUP and when
 * the file changes (polled every 2 s: works on NFS and for ConfigMaps, whose files are replaced by
 * a symlink swap). A list that differs from the current one replaces it on every node, as the
 * admin API does; a file that cannot be read or parsed is logged and ignored.
 */
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { z } from 'zod';
import type { MemberInfo } from './membership';
import { sameMembers } from './membership';

const list = z.array(z.object({ id: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/), url: z.string().url() }).strict()).min(1);
const file = z.union([list, z.object({ peers: list }).strict()]);

class PeersFileError extends Error {}

/** The peers the file lists; throws PeersFileError with the path and the problem. */
export function readPeersFile(path: string): MemberInfo[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new PeersFileError(`cluster.peersFile ${path}: ${(err as Error).message}`);
  }
  const parsed = file.safeParse(json);
  if (!parsed.success) throw new PeersFileError(`cluster.peersFile ${path}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return Array.isArray(parsed.data) ? parsed.data : parsed.data.peers;
}

/** Re-reads the file on SIGHUP and on change; `apply` gets each list that differs from `current()`. Returns a stop function. */
export function watchPeersFile(
  path: string,
  current: () => readonly MemberInfo[],
  apply: (peers: MemberInfo[]) => void,
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void },
  intervalMs = 2000,
): () => void {
  const reload = (why: string): void => {
    try {
      const peers = readPeersFile(path);
      if (sameMembers(peers, current())) return;
      log.info({ file: path, why, peers: peers.map((p) => p.id) }, 'peers file changed');
      apply(peers);
    } catch (err) {
      log.warn({ err, file: path }, 'peers file ignored');
    }
  };
  const onSignal = (): void => reload('SIGHUP');
  process.on('SIGHUP', onSignal);
  watchFile(path, { interval: intervalMs, persistent: false }, () => reload('changed'));
  return () => {
    process.off('SIGHUP', onSignal);
    unwatchFile(path);
  };
}
