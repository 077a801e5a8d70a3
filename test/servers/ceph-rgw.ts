/**
 * A throwaway one-host Ceph cluster with the RADOS Gateway, for tests and benchmarks: one
 * monitor, one manager, one OSD on the in-memory `memstore` objectstore and radosgw with the
 * beast frontend, all on 127.0.0.1, everything (config, data, sockets, logs) under one temp
 * dir, every daemon a child process in the foreground, stopped by PID.
 *
 *   const rgw = await startRgw({ port: 0 });   // 0: a free port
 *   // rgw.endpoint, rgw.accessKeyId, rgw.secretAccessKey, rgw.region
 *   await rgw.stop();
 *
 * Debian 12 packages it as Ceph 16 (Pacific): `apt-get install radosgw ceph-mon ceph-mgr
 * ceph-osd ceph-common`. `rgwMissing()` says what is missing, so a test can skip with the
 * reason (or fail, in CI). The settings below are the ones a single memstore OSD without
 * authentication needs; each is explained where it is set. A memstore OSD loses its data when
 * it stops, so a cluster is never restarted: start a fresh one.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, freePortBlock } from '../helpers/free-port';

export interface RgwOptions {
  /** radosgw's HTTP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** The monitor's port (msgr2); 0 (default) picks a free one. */
  monPort?: number;
  /**
   * Ports the manager and the OSD may bind (ms_bind_port_min..max; the OSD takes four). Default:
   * a free block of 16 ports.
   */
  daemonPorts?: readonly [number, number];
  /** The S3 user's keys (created with radosgw-admin). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Bytes the memstore OSD may hold (default 3 GiB; it lives in RAM). */
  memstoreBytes?: number;
  /** Run ceph-mgr (default true: the cluster reports health and PG states). */
  mgr?: boolean;
  /** Parent of the cluster's temp dir (default os.tmpdir()). */
  baseDir?: string;
  /** start fails when RGW does not answer in this time (default 120 s). */
  startTimeoutMs?: number;
  /** Keep the temp dir (config and logs) after stop(), for a post-mortem. */
  keepDir?: boolean;
  /** Progress lines ("mon up after 1.2 s"). */
  log?: (line: string) => void;
}

export interface RgwServer {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  /** RGW accepts any region in signatures; this is the one to sign with. */
  region: string;
  /** The cluster's temp dir: ceph.conf, data, logs (log/*.log). */
  dir: string;
  /** PIDs of the daemons, by name (mon.a, mgr.x, osd.0, client.rgw.a). */
  pids: Record<string, number>;
  /** Milliseconds from the call to a ready S3 user. */
  startedInMs: number;
  /** Runs a ceph CLI command against the cluster (e.g. ['-s']); returns stdout. */
  ceph(args: string[]): Promise<string>;
  /** Kills every daemon (SIGKILL: nothing is kept) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** The binaries the cluster needs, with the Debian package of each. */
const BINARIES: ReadonlyArray<readonly [string, string]> = [
  ['/usr/bin/ceph-mon', 'ceph-mon'],
  ['/usr/bin/ceph-mgr', 'ceph-mgr'],
  ['/usr/bin/ceph-osd', 'ceph-osd'],
  ['/usr/bin/radosgw', 'radosgw'],
  ['/usr/bin/radosgw-admin', 'radosgw'],
  ['/usr/bin/ceph', 'ceph-common'],
  ['/usr/bin/ceph-authtool', 'ceph-common'],
  ['/usr/bin/monmaptool', 'ceph-common'],
];

/** Why RGW cannot be started here, or undefined when it can. */
export function rgwMissing(options: Pick<RgwOptions, 'mgr'> = {}): string | undefined {
  const missing = BINARIES.filter(([binary]) => (options.mgr === false && binary.endsWith('ceph-mgr') ? false : !existsSync(binary)));
  if (missing.length === 0) return undefined;
  const packages = [...new Set(missing.map(([, pkg]) => pkg))];
  return `Ceph RGW is not installed (${missing.map(([b]) => b).join(', ')} missing): apt-get install ${packages.join(' ')}`;
}

const DEFAULT_KEYS = { accessKeyId: 'ringcache-rgw-test', secretAccessKey: 'ringcache-rgw-test-secret' };

/** Brings a fresh cluster up; rejects (after killing what started) when it does not come up in time. */
export async function startRgw(options: RgwOptions = {}): Promise<RgwServer> {
  const started = Date.now();
  const missing = rgwMissing(options);
  if (missing) throw new Error(missing);
  const log = options.log ?? (() => undefined);
  const since = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const deadline = started + (options.startTimeoutMs ?? 120_000);
  const dir = await mkdtemp(path.join(options.baseDir ?? os.tmpdir(), 'ringcache-rgw-'));
  const children = new Map<string, ChildProcess>();
  let stopped = false;
  const keys = {
    accessKeyId: options.accessKeyId ?? DEFAULT_KEYS.accessKeyId,
    secretAccessKey: options.secretAccessKey ?? DEFAULT_KEYS.secretAccessKey,
  };

  const killAll = (): void => {
    for (const child of children.values()) {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  };
  // A test runner that exits (or crashes) takes the daemons with it.
  process.once('exit', killAll);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killAll);
    const exits = [...children.values()].map(
      (child) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()))),
    );
    killAll();
    await Promise.all(exits);
    if (!options.keepDir) await rm(dir, { recursive: true, force: true });
  };

  try {
    const port = options.port || (await freePort());
    const monPort = options.monPort || (await freePort());
    const [portMin, portMax] = options.daemonPorts ?? (await freePortBlock(16));
    const conf = path.join(dir, 'ceph.conf');
    const fsid = randomUUID();
    for (const sub of ['run', 'log', 'crash', 'mon/ceph-a', 'mgr/ceph-x', 'osd/ceph-0', 'rgw']) await mkdir(path.join(dir, sub), { recursive: true });
    await writeFile(conf, cephConf({ dir, fsid, port, monPort, portMin, portMax, memstoreBytes: options.memstoreBytes ?? 3 * 1024 ** 3 }));
    const keyring = path.join(dir, 'keyring');
    const monmap = path.join(dir, 'monmap');
    await runTool('ceph-authtool', ['--create-keyring', keyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await runTool('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, monmap]);
    await runTool('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', keyring]);

    const daemon = (name: string, binary: string, args: string[]): void => {
      const out = openSync(path.join(dir, 'log', `${name}.stdout`), 'a');
      const child = spawn(binary, ['-c', conf, ...args, '-f'], { stdio: ['ignore', out, out] });
      closeSync(out);
      children.set(name, child);
      child.once('exit', (code, signal) => {
        if (!stopped) log(`${name} exited (${signal ?? code}) after ${since()}`);
      });
    };
    const ceph = (args: string[]): Promise<string> => runTool('ceph', ['-c', conf, '--connect-timeout', '30', ...args]);
    const checkAlive = (): void => {
      for (const [name, child] of children) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited (${child.signalCode ?? child.exitCode}); see ${dir}/log/${name}.log`);
      }
    };

    daemon('mon.a', '/usr/bin/ceph-mon', ['-i', 'a']);
    await ceph(['mon', 'stat']); // waits for the monitor (connect timeout above)
    log(`mon up after ${since()}`);
    if (options.mgr !== false) daemon('mgr.x', '/usr/bin/ceph-mgr', ['-i', 'x']);
    const osdUuid = randomUUID();
    const osdId = (await ceph(['osd', 'new', osdUuid])).trim();
    if (osdId !== '0') throw new Error(`expected OSD id 0, got ${osdId}`);
    await runTool('ceph-osd', ['-c', conf, '-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
    daemon('osd.0', '/usr/bin/ceph-osd', ['-i', '0']);
    log(`osd started after ${since()}`);
    daemon('client.rgw.a', '/usr/bin/radosgw', ['-n', 'client.rgw.a']);

    const endpoint = `http://127.0.0.1:${port}`;
    for (;;) {
      checkAlive();
      if (await answers(endpoint)) break;
      if (Date.now() > deadline) throw new Error(`RGW did not answer on ${endpoint} within ${options.startTimeoutMs ?? 120_000} ms; see ${dir}/log`);
      await sleep(100);
    }
    log(`rgw answers after ${since()}`);
    await runTool('radosgw-admin', [
      '-c', conf, '-n', 'client.admin', 'user', 'create', '--uid=ringcache-test', '--display-name=ringcache test',
      `--access-key=${keys.accessKeyId}`, `--secret-key=${keys.secretAccessKey}`,
    ]);
    const startedInMs = Date.now() - started;
    log(`S3 user ready after ${since()}`);
    const pids = Object.fromEntries([...children].map(([name, child]) => [name, child.pid as number]));
    await writeFile(path.join(dir, 'pids.json'), JSON.stringify(pids));
    return { endpoint, port, ...keys, region: 'us-east-1', dir, pids, startedInMs, ceph, stop };
  } catch (err) {
    const tail = await logTail(dir).catch(() => '');
    await stop();
    throw new Error(`${(err as Error).message}${tail ? `\n${tail}` : ''}`, { cause: err });
  }
}

interface ConfValues {
  dir: string;
  fsid: string;
  port: number;
  monPort: number;
  portMin: number;
  portMax: number;
  memstoreBytes: number;
}

function cephConf(v: ConfValues): string {
  return `[global]
fsid = ${v.fsid}
mon_host = v2:127.0.0.1:${v.monPort}
mon_initial_members = a
# Loopback only, msgr2 only, daemons in the caller's port range (several clusters may run at once).
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_msgr1 = false
ms_bind_msgr2 = true
ms_bind_port_min = ${v.portMin}
ms_bind_port_max = ${v.portMax}
# No cephx. Without crc mode the clients insist on secure mode and radosgw loops on
# "get_initial_auth_request returned -13".
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc
# One OSD: pools of size 1, replicas chosen among OSDs (not hosts), few PGs, no autoscaler.
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_crush_chooseleaf_type = 0
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_warn_on_pool_no_redundancy = false
# Everything under the temp dir.
run_dir = ${v.dir}/run
admin_socket = ${v.dir}/run/$name.asok
log_file = ${v.dir}/log/$name.log
pid_file = ${v.dir}/run/$name.pid
keyring = ${v.dir}/keyring
crash_dir = ${v.dir}/crash
exporter_sock_dir = ${v.dir}/run
[mon]
mon_data = ${v.dir}/mon/ceph-$id
# The monitor batches map changes for a second by default; radosgw's first start makes about a
# dozen (pools, applications), so a shorter interval cuts its start-up by several seconds.
paxos_propose_interval = 0.05
paxos_min_wait = 0.01
[mgr]
mgr_data = ${v.dir}/mgr/ceph-$id
[osd]
osd_data = ${v.dir}/osd/ceph-$id
osd_objectstore = memstore
memstore_device_bytes = ${v.memstoreBytes}
[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:${v.port}
rgw_data = ${v.dir}/rgw
`;
}

/** Runs a Ceph tool to completion (at most 60 s); rejects with its output when it fails. */
function runTool(tool: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(`/usr/bin/${tool}`, args, { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const output = (stderr || stdout || err.message).trim().slice(0, 2000);
      reject(new Error(`${tool} ${args.slice(0, 4).join(' ')} failed (${err.signal ?? err.code}): ${output}`));
    });
  });
}

/** True once something answers HTTP on `endpoint` (RGW answers an anonymous GET / with 200). */
async function answers(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The last lines of each daemon's log, for an error message. */
async function logTail(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const name of ['mon.a', 'mgr.x', 'osd.0', 'client.rgw.a']) {
    const file = path.join(dir, 'log', `${name}.log`);
    if (!existsSync(file)) continue;
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-5);
    parts.push(`--- ${name}.log\n${lines.join('\n')}`);
  }
  return parts.join('\n');
}
