/**
 * A protocol-faithful WebHDFS emulator for tests: one NameNode and one DataNode, each a
 * node:http server on 127.0.0.1, sharing a namespace backed by a temporary directory.
 * It speaks `/webhdfs/v1/<path>?op=...` as documented in Hadoop's WebHDFS.md: JSON shapes,
 * 307 redirects from the NameNode to the DataNode for OPEN/CREATE/APPEND, RemoteException
 * errors with the ExceptionHandler status codes, pseudo authentication (user.name) and
 * delegation tokens. Every request is recorded and counted per node and op. See README.md
 * for what is and is not emulated.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Namespace, pathComponents, toHdfsPath, type FileStatusJson } from './namespace';
import {
  RemoteError,
  illegalArgument,
  invalidParam,
  invalidToken,
  runtimeException,
  unsupportedOperation,
} from './remote-exception';

type NodeKind = 'namenode' | 'datanode';

export interface WebHdfsEmulatorOptions {
  /** Entries per LISTSTATUS_BATCH answer (the NameNode's dfs.ls.limit). Default 1000. */
  lsLimit?: number;
  /** false: answer LISTSTATUS_BATCH like a NameNode older than Hadoop 2.9 (400, unknown op). */
  listStatusBatch?: boolean;
  /** false: ignore `renameoptions` on RENAME, like a server that does not know the parameter. */
  renameOptions?: boolean;
  /** false: ignore `createparent` on CREATE (the parent is always created, as before Hadoop 2.8). */
  createParentParam?: boolean;
  /** dfs.web.authentication.simple.anonymous.allowed: requests without user.name. Default true. */
  allowAnonymous?: boolean;
  /**
   * Emulates a Kerberos-secured cluster for clients without SPNEGO: user.name is not accepted
   * (401, WWW-Authenticate: Negotiate), only a known `delegation` token is.
   */
  requireDelegationToken?: boolean;
  /** Accepted delegation tokens: token -> user. Unknown tokens are 403 InvalidToken. */
  delegationTokens?: Record<string, string>;
  /** Reported block size; also the unit of the legacy CONCAT check. Default 128 MiB. */
  blockSize?: number;
  /** Enforce the pre-2.7 CONCAT rule (full blocks in every file but the last source). */
  legacyConcat?: boolean;
  /** dfs.namenode.xattrs.enabled. Default true. */
  xattrsEnabled?: boolean;
  /** dfs.namenode.fs-limits.max-xattr-size. Default 16384. */
  maxXAttrSize?: number;
  /** The HDFS superuser (owner of what nobody created). Default "hdfs". */
  superuser?: string;
}

interface RecordedRequest {
  node: NodeKind;
  method: string;
  /** Upper-cased `op` parameter ("" when absent). */
  op: string;
  /** Decoded HDFS path. */
  path: string;
  /** Query parameters (first value of each). */
  params: Record<string, string>;
  url: string;
  /** Request body bytes received (known once the body ended). */
  bodyBytes: number;
  /** The connection closed before the answer was complete (a client that gave up). */
  closedUnanswered?: boolean;
  /** Left hanging by a stall fault. */
  stalled?: boolean;
  /** A fault that changes how the request is answered (stalled reply, dead DataNode). */
  fault?: InjectedFault;
}

interface InjectedFault {
  op: string;
  node?: NodeKind;
  /** Only requests for this HDFS path. */
  path?: string;
  /** How many matching requests fail (default 1). */
  times?: number;
  /** Destroy the connection instead of answering. */
  network?: boolean;
  status?: number;
  exception?: string;
  javaClassName?: string;
  message?: string;
  /** NameNode OPEN/CREATE/APPEND: redirect to a DataNode port where nothing listens. */
  deadDataNode?: boolean;
  /** DataNode CREATE/APPEND: read this many body bytes, then stop reading and never answer. */
  stallBodyAfter?: number;
  /** DataNode OPEN: send the headers and this many bytes, then nothing (the connection stays open). */
  stallReplyAfter?: number;
}

const WEBHDFS_PREFIX = '/webhdfs/v1';
const USER_PATTERN = /^[A-Za-z_][A-Za-z0-9._-]*[$]?$/;

/** Ops a real NameNode knows, per HTTP method (GetOpParam/PutOpParam/PostOpParam/DeleteOpParam). */
const KNOWN_OPS: Record<string, { enumClass: string; ops: string[] }> = {
  GET: {
    enumClass: 'GetOpParam',
    ops: [
      'OPEN', 'GETFILESTATUS', 'LISTSTATUS', 'LISTSTATUS_BATCH', 'GETCONTENTSUMMARY', 'GETQUOTAUSAGE', 'GETFILECHECKSUM',
      'GETHOMEDIRECTORY', 'GETDELEGATIONTOKEN', 'GET_BLOCK_LOCATIONS', 'GETACLSTATUS', 'GETXATTRS', 'LISTXATTRS', 'CHECKACCESS',
      'GETALLSTORAGEPOLICY', 'GETSTORAGEPOLICY', 'GETTRASHROOT', 'GETSERVERDEFAULTS', 'GETFILEBLOCKLOCATIONS', 'GETECPOLICY',
      'GETSTATUS', 'GETLINKTARGET', 'GETFILELINKSTATUS', 'NULL',
    ],
  },
  PUT: {
    enumClass: 'PutOpParam',
    ops: [
      'CREATE', 'MKDIRS', 'CREATESYMLINK', 'RENAME', 'SETREPLICATION', 'SETOWNER', 'SETPERMISSION', 'SETTIMES',
      'RENEWDELEGATIONTOKEN', 'CANCELDELEGATIONTOKEN', 'MODIFYACLENTRIES', 'REMOVEACLENTRIES', 'REMOVEDEFAULTACL', 'REMOVEACL',
      'SETACL', 'SETXATTR', 'REMOVEXATTR', 'ALLOWSNAPSHOT', 'DISALLOWSNAPSHOT', 'CREATESNAPSHOT', 'RENAMESNAPSHOT',
      'SETSTORAGEPOLICY', 'SATISFYSTORAGEPOLICY', 'SETQUOTA', 'SETQUOTABYSTORAGETYPE', 'NULL',
    ],
  },
  POST: { enumClass: 'PostOpParam', ops: ['APPEND', 'CONCAT', 'TRUNCATE', 'UNSETSTORAGEPOLICY', 'UNSETECPOLICY', 'NULL'] },
  DELETE: { enumClass: 'DeleteOpParam', ops: ['DELETE', 'DELETESNAPSHOT', 'NULL'] },
};

/** A 401 from the authentication filter (a Jetty error page, not a RemoteException). */
class AuthenticationRequired extends Error {
  constructor(readonly challenge: string) {
    super('Authentication required');
  }
}

function parseBoolean(params: URLSearchParams, name: string, fallback: boolean): boolean {
  const value = params.get(name);
  if (value === null || value === '') return fallback;
  if (/^true$/i.test(value)) return true;
  if (/^false$/i.test(value)) return false;
  throw invalidParam(name, `Failed to parse "${value}" to Boolean.`);
}

function parseLong(params: URLSearchParams, name: string): number | undefined {
  const value = params.get(name);
  if (value === null || value === '' || value === 'null') return undefined;
  if (!/^-?\d+$/.test(value)) throw invalidParam(name, `Failed to parse "${value}" as a radix-10 long integer.`);
  return Number(value);
}

/** XAttrCodec.decodeValue: "…" text, 0x hex, 0s base64, anything else as UTF-8. */
function decodeXAttrValue(value: string | null): Buffer {
  if (value === null) return Buffer.alloc(0);
  if (value.length >= 2) {
    if (value.startsWith('"') && value.endsWith('"')) return Buffer.from(value.slice(1, -1), 'utf8');
    const prefix = value.slice(0, 2).toLowerCase();
    if (prefix === '0x') return Buffer.from(value.slice(2), 'hex');
    if (prefix === '0s') return Buffer.from(value.slice(2), 'base64');
  }
  return Buffer.from(value, 'utf8');
}

function encodeXAttrValue(value: Buffer, encoding: string): string {
  if (encoding === 'HEX') return `0x${value.toString('hex')}`;
  if (encoding === 'BASE64') return `0s${value.toString('base64')}`;
  return `"${value.toString('utf8')}"`;
}

function decodeUrlPath(pathname: string): string {
  const rest = pathname.slice(WEBHDFS_PREFIX.length);
  try {
    return `/${rest
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s))
      .join('/')}`;
  } catch {
    throw illegalArgument(`Invalid path: ${rest}`);
  }
}

export class WebHdfsEmulator {
  readonly requests: RecordedRequest[] = [];
  /** Ops answered "Invalid value for webhdfs parameter op" (unknown to the emulator). */
  readonly unknownOps: string[] = [];
  /** Requests that broke a documented rule of the protocol (answered with an error). */
  readonly violations: string[] = [];
  /** A port on 127.0.0.1 where nothing listens (the target of `deadDataNode` redirects). */
  deadPort = 0;
  private readonly pausedBodies: http.IncomingMessage[] = [];
  readonly namespace: Namespace;
  private readonly faults: InjectedFault[] = [];
  private readonly nameNode: http.Server;
  private readonly dataNode: http.Server;
  private readonly options: Required<Omit<WebHdfsEmulatorOptions, 'delegationTokens'>> & { delegationTokens: Record<string, string> };

  private constructor(
    readonly baseDir: string,
    options: WebHdfsEmulatorOptions,
  ) {
    this.options = {
      lsLimit: options.lsLimit ?? 1000,
      listStatusBatch: options.listStatusBatch ?? true,
      renameOptions: options.renameOptions ?? true,
      createParentParam: options.createParentParam ?? true,
      allowAnonymous: options.allowAnonymous ?? true,
      requireDelegationToken: options.requireDelegationToken ?? false,
      delegationTokens: { ...options.delegationTokens },
      blockSize: options.blockSize ?? 128 * 1024 * 1024,
      legacyConcat: options.legacyConcat ?? false,
      xattrsEnabled: options.xattrsEnabled ?? true,
      maxXAttrSize: options.maxXAttrSize ?? 16384,
      superuser: options.superuser ?? 'hdfs',
    };
    this.namespace = new Namespace(path.join(baseDir, 'ns'), {
      blockSize: this.options.blockSize,
      replication: 3,
      legacyConcat: this.options.legacyConcat,
      xattrsEnabled: this.options.xattrsEnabled,
      maxXAttrSize: this.options.maxXAttrSize,
      maxXAttrsPerInode: 32,
      superuser: this.options.superuser,
    });
    // hadoop.http.max.request.header.size: 64 KiB (SETXATTR values travel in the URL).
    const serverOptions = { maxHeaderSize: 64 * 1024 };
    this.nameNode = http.createServer(serverOptions, (req, res) => void this.handle('namenode', req, res));
    this.dataNode = http.createServer(serverOptions, (req, res) => void this.handle('datanode', req, res));
  }

  static async start(options: WebHdfsEmulatorOptions = {}): Promise<WebHdfsEmulator> {
    const baseDir = await mkdtemp(path.join(os.tmpdir(), 'ringcache-webhdfs-'));
    const emulator = new WebHdfsEmulator(baseDir, options);
    await mkdir(emulator.namespace.dir);
    await Promise.all([listen(emulator.nameNode), listen(emulator.dataNode)]);
    emulator.deadPort = await unusedPort();
    return emulator;
  }

  get nameNodePort(): number {
    return (this.nameNode.address() as AddressInfo).port;
  }

  get dataNodePort(): number {
    return (this.dataNode.address() as AddressInfo).port;
  }

  /** http://127.0.0.1:<port> of the NameNode (what a mount URI points at). */
  get nameNodeUrl(): string {
    return `http://127.0.0.1:${this.nameNodePort}`;
  }

  get dataNodeUrl(): string {
    return `http://127.0.0.1:${this.dataNodePort}`;
  }

  /** Requests received by `node` for `op` since the last reset. */
  count(op: string, node: NodeKind = 'namenode'): number {
    return this.requests.filter((r) => r.node === node && r.op === op.toUpperCase()).length;
  }

  /** Requests per "node:OP". */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.requests) out[`${r.node}:${r.op}`] = (out[`${r.node}:${r.op}`] ?? 0) + 1;
    return out;
  }

  resetCounts(): void {
    this.requests.length = 0;
  }

  injectFault(fault: InjectedFault): void {
    const node = fault.node ?? (fault.stallBodyAfter !== undefined || fault.stallReplyAfter !== undefined ? 'datanode' : 'namenode');
    this.faults.push({ times: 1, ...fault, node, op: fault.op.toUpperCase() });
  }

  /** Drops the injected faults not used up yet. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** A request whose body `onData` reads until it pauses it; it is never answered. */
  private stallBody(req: http.IncomingMessage, record: RecordedRequest, onData: (chunk: Buffer) => void): void {
    record.stalled = true;
    this.pausedBodies.push(req);
    req.on('data', onData);
  }

  /**
   * Reads (and drops) what stalled uploads send from now on, still without answering: a paused
   * socket never notices that its client closed it, a read one does at once (`closedUnanswered`).
   */
  drainStalledUploads(): void {
    for (const req of this.pausedBodies.splice(0)) {
      req.on('data', () => undefined);
      req.resume();
    }
  }

  /** Backing file of an HDFS path (to inspect or tamper with in tests). */
  localPath(hdfsPath: string): string {
    return this.namespace.local(pathComponents(hdfsPath));
  }

  /** Writes a file as another HDFS client would (no xattrs), creating parents. */
  async writeFile(hdfsPath: string, data: Buffer | string, user = 'someone'): Promise<void> {
    const { handle, ino } = await this.namespace.run(() => this.namespace.createFile(pathComponents(hdfsPath, true), true, true, user));
    try {
      await handle.writeFile(data);
    } finally {
      await handle.close();
      this.namespace.finishWrite(ino);
    }
  }

  /** Appends to a file as another HDFS client would (the inode and its xattrs stay). */
  async appendFile(hdfsPath: string, data: Buffer | string): Promise<void> {
    const { handle, ino } = await this.namespace.run(() => this.namespace.appendFile(pathComponents(hdfsPath)));
    try {
      await handle.write(typeof data === 'string' ? Buffer.from(data) : data);
    } finally {
      await handle.close();
      this.namespace.finishWrite(ino);
    }
  }

  async mkdirs(hdfsPath: string, user = 'someone'): Promise<void> {
    await this.namespace.run(() => this.namespace.mkdirs(pathComponents(hdfsPath, true), user));
  }

  async fileStatus(hdfsPath: string): Promise<FileStatusJson | undefined> {
    return this.namespace.run(() => this.namespace.getFileStatus(pathComponents(hdfsPath))).catch(() => undefined);
  }

  /** Names in a directory (empty when missing). */
  async list(hdfsPath: string): Promise<string[]> {
    return this.namespace
      .run(() => this.namespace.listing(pathComponents(hdfsPath), undefined, undefined))
      .then((l) => l.statuses.map((s) => s.pathSuffix))
      .catch(() => []);
  }

  async close(): Promise<void> {
    for (const server of [this.nameNode, this.dataNode]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await rm(this.baseDir, { recursive: true, force: true });
  }

  // ---- request handling ----

  private async handle(node: NodeKind, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    // ParamFilter: parameter names are case-insensitive (lower-cased before parsing).
    const params = new URLSearchParams();
    for (const [name, value] of url.searchParams) params.append(name.toLowerCase(), value);
    const op = (params.get('op') ?? '').toUpperCase();
    const record: RecordedRequest = { node, method, op, path: '', params: Object.fromEntries(url.searchParams), url: req.url ?? '', bodyBytes: 0 };
    this.requests.push(record);
    res.on('close', () => {
      if (!res.writableFinished) record.closedUnanswered = true;
    });
    // The NameNode never reads bodies (drained); the DataNode counts what it stores.
    if (node === 'namenode') {
      req.on('data', (chunk: Buffer) => {
        record.bodyBytes += chunk.length;
      });
    }
    try {
      if (!url.pathname.startsWith(WEBHDFS_PREFIX)) {
        req.resume();
        sendText(res, 404, 'Not Found');
        return;
      }
      record.path = decodeUrlPath(url.pathname);
      const user = this.authenticate(params);
      this.checkOp(node, method, op);
      const fault = this.takeFault(node, record);
      if (fault?.network) {
        req.socket.destroy();
        return;
      }
      if (fault?.stallReplyAfter !== undefined || fault?.stallBodyAfter !== undefined || fault?.deadDataNode) {
        record.fault = fault;
      } else if (fault) {
        req.resume();
        throw new RemoteError(fault.exception ?? 'IOException', fault.javaClassName ?? 'java.io.IOException', fault.message ?? 'injected', fault.status ?? 403);
      }
      if (node === 'namenode') await this.nameNodeOp(req, res, method, op, record.path, params, user, record.fault?.deadDataNode === true);
      else await this.dataNodeOp(req, res, op, record.path, params, user, record);
    } catch (err) {
      req.resume();
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof AuthenticationRequired) {
        const page = `<html>\n<head><title>Error 401 Authentication required</title></head>\n<body><h2>HTTP ERROR 401</h2>\n<p>Problem accessing ${url.pathname}. Reason:\n<pre>    Authentication required</pre></p>\n</body>\n</html>\n`;
        res.writeHead(401, { 'content-type': 'text/html;charset=iso-8859-1', 'www-authenticate': err.challenge, 'content-length': Buffer.byteLength(page) });
        res.end(page);
        return;
      }
      const remote = err instanceof RemoteError ? err : runtimeException(String((err as Error)?.message ?? err));
      sendJson(res, remote.status, remote.toJson());
    }
  }

  private authenticate(params: URLSearchParams): string {
    const token = params.get('delegation');
    if (token) {
      const user = this.options.delegationTokens[token];
      if (!user) throw invalidToken(`token (${token.slice(0, 12)}...) can't be found in cache`);
      return user;
    }
    const user = params.get('user.name');
    if (this.options.requireDelegationToken) throw new AuthenticationRequired('Negotiate');
    if (user) {
      if (!USER_PATTERN.test(user)) throw invalidParam('user.name', `Invalid value: "${user}" does not belong to the domain ${USER_PATTERN.source}`);
      return user;
    }
    if (!this.options.allowAnonymous) throw new AuthenticationRequired('PseudoAuth');
    return 'dr.who';
  }

  private checkOp(node: NodeKind, method: string, op: string): void {
    const known = KNOWN_OPS[method];
    if (!known) throw unsupportedOperation(`${method} is not supported`);
    const dataNodeOps: Record<string, string[]> = { GET: ['OPEN'], PUT: ['CREATE'], POST: ['APPEND'] };
    const valid = node === 'namenode' ? known.ops : (dataNodeOps[method] ?? []);
    if (op === '' || op === 'NULL') throw unsupportedOperation('NULL is not supported');
    if (!valid.includes(op) || (op === 'LISTSTATUS_BATCH' && !this.options.listStatusBatch)) {
      if (!known.ops.includes(op) || op === 'LISTSTATUS_BATCH') this.unknownOps.push(`${node} ${method} ${op}`);
      throw invalidParam('op', `No enum constant org.apache.hadoop.hdfs.web.resources.${known.enumClass}.Op.${op}`);
    }
  }

  private takeFault(node: NodeKind, request: RecordedRequest): InjectedFault | undefined {
    const index = this.faults.findIndex((f) => f.node === node && f.op === request.op && (f.path === undefined || f.path === request.path));
    if (index < 0) return undefined;
    const fault = this.faults[index];
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) this.faults.splice(index, 1);
    return fault;
  }

  /** Location of the DataNode for a redirected op, carrying the caller's credentials (redirectURI). */
  private dataNodeLocation(op: string, hdfsPath: string, params: URLSearchParams, names: string[], dead = false): string {
    const encoded = hdfsPath
      .split('/')
      .filter((s) => s !== '')
      .map((s) => encodeURIComponent(s))
      .join('/');
    const query = new URLSearchParams({ op });
    const token = params.get('delegation');
    if (token) query.set('delegation', token);
    else if (params.get('user.name')) query.set('user.name', params.get('user.name') as string);
    query.set('namenoderpcaddress', `127.0.0.1:${this.nameNodePort}`);
    for (const name of [...names].sort()) {
      const value = params.get(name);
      if (value !== null) query.set(name, value);
    }
    return `${dead ? `http://127.0.0.1:${this.deadPort}` : this.dataNodeUrl}${WEBHDFS_PREFIX}/${encoded}?${query.toString()}`;
  }

  private redirect(res: http.ServerResponse, params: URLSearchParams, location: string): void {
    if (parseBoolean(params, 'noredirect', false)) {
      sendJson(res, 200, JSON.stringify({ Location: location }));
      return;
    }
    res.writeHead(307, { location, 'content-type': 'application/octet-stream', 'content-length': '0' });
    res.end();
  }

  private async nameNodeOp(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    method: string,
    op: string,
    hdfsPath: string,
    params: URLSearchParams,
    user: string,
    dead: boolean,
  ): Promise<void> {
    const ns = this.namespace;
    const components = pathComponents(hdfsPath);
    // The NameNode never reads a body: "the two-step create/append is for preventing clients
    // to send out data before the redirect" (WebHDFS.md). A client that sends some anyway is
    // refused, so that the adapter's first step is checked to carry no data.
    if ((op === 'CREATE' || op === 'APPEND') && Number(req.headers['content-length'] ?? 0) > 0) {
      req.resume();
      this.violations.push(`${op} ${hdfsPath}: ${req.headers['content-length']} bytes sent to the NameNode before the redirect`);
      throw illegalArgument(`${op}: data must be sent to the DataNode named by the redirect, not to the NameNode`);
    }
    req.resume();
    switch (op) {
      case 'GETFILESTATUS': {
        const status = await ns.run(() => ns.getFileStatus(components));
        return sendJson(res, 200, JSON.stringify({ FileStatus: status }));
      }
      case 'LISTSTATUS': {
        const { statuses } = await ns.run(() => ns.listing(components, undefined, undefined));
        return sendJson(res, 200, JSON.stringify({ FileStatuses: { FileStatus: statuses } }));
      }
      case 'LISTSTATUS_BATCH': {
        const startAfter = params.get('startafter');
        const listing = await ns.run(() => ns.listing(components, startAfter ? Buffer.from(startAfter, 'utf8') : undefined, this.options.lsLimit));
        return sendJson(
          res,
          200,
          JSON.stringify({ DirectoryListing: { partialListing: { FileStatuses: { FileStatus: listing.statuses } }, remainingEntries: listing.remaining } }),
        );
      }
      case 'OPEN': {
        const offset = parseLong(params, 'offset') ?? 0;
        const length = parseLong(params, 'length');
        if (offset < 0) throw invalidParam('offset', `Invalid parameter range: offset = ${offset} < 0`);
        if (length !== undefined && length < 0) throw invalidParam('length', `Invalid parameter range: length = ${length} < 0`);
        await ns.run(async () => {
          const status = await ns.getFileStatus(components).catch((err: unknown) => {
            if (err instanceof RemoteError && err.status === 404) throw new RemoteError(err.exception, err.javaClassName, `File ${hdfsPath} not found.`, 404);
            throw err;
          });
          if (offset >= status.length && status.length > 0) {
            throw new RemoteError('IOException', 'java.io.IOException', `Offset=${offset} out of the range [0, ${status.length}); OPEN, path=${hdfsPath}`, 403);
          }
        });
        return this.redirect(res, params, this.dataNodeLocation('OPEN', hdfsPath, params, ['offset', 'length', 'buffersize'], dead));
      }
      case 'CREATE': {
        pathComponents(hdfsPath, true);
        parseBoolean(params, 'overwrite', false);
        parseBoolean(params, 'createparent', true);
        const names = ['overwrite', 'blocksize', 'replication', 'permission', 'buffersize', 'createflag'];
        if (this.options.createParentParam) names.push('createparent');
        return this.redirect(res, params, this.dataNodeLocation('CREATE', hdfsPath, params, names, dead));
      }
      case 'APPEND': {
        await ns.run(() => ns.getFileStatus(components));
        return this.redirect(res, params, this.dataNodeLocation('APPEND', hdfsPath, params, ['buffersize'], dead));
      }
      case 'MKDIRS': {
        pathComponents(hdfsPath, true);
        const created = await ns.run(() => ns.mkdirs(components, user));
        return sendJson(res, 200, JSON.stringify({ boolean: created }));
      }
      case 'RENAME': {
        const destination = params.get('destination');
        if (!destination || !destination.startsWith('/')) {
          throw invalidParam('destination', `Invalid parameter value: destination = "${destination}" is not an absolute path.`);
        }
        const target = pathComponents(destination, true);
        const options = this.options.renameOptions ? parseRenameOptions(params.get('renameoptions')) : new Set<string>();
        if (options.size === 0) {
          const renamed = await ns.run(() => ns.renameV1(components, target));
          return sendJson(res, 200, JSON.stringify({ boolean: renamed }));
        }
        await ns.run(() => ns.rename2(components, target, options.has('OVERWRITE')));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '0' });
        res.end();
        return;
      }
      case 'DELETE': {
        const recursive = parseBoolean(params, 'recursive', false);
        const deleted = await ns.run(() => ns.delete(components, recursive));
        return sendJson(res, 200, JSON.stringify({ boolean: deleted }));
      }
      case 'CONCAT': {
        const sources = (params.get('sources') ?? '')
          .split(',')
          .filter((s) => s !== '')
          .map((s) => {
            if (!s.startsWith('/')) throw invalidParam('sources', `Invalid parameter value: sources = "${s}" is not an absolute path.`);
            return pathComponents(s);
          });
        await ns.run(() => ns.concat(components, sources));
        return sendEmpty(res, 200);
      }
      case 'SETXATTR': {
        const name = params.get('xattr.name');
        if (!name) throw illegalArgument('XAttr name cannot be null.');
        const flags = new Set(
          (params.get('flag') ?? '')
            .split(',')
            .map((f) => f.trim().toUpperCase())
            .filter((f) => f !== ''),
        );
        for (const flag of flags) if (flag !== 'CREATE' && flag !== 'REPLACE') throw invalidParam('flag', `No enum constant org.apache.hadoop.fs.XAttrSetFlag.${flag}`);
        await ns.run(() => ns.setXAttr(components, name, decodeXAttrValue(params.get('xattr.value')), flags, user));
        return sendEmpty(res, 200);
      }
      case 'REMOVEXATTR': {
        const name = params.get('xattr.name');
        if (!name) throw illegalArgument('XAttr name cannot be null.');
        await ns.run(() => ns.removeXAttr(components, name, user));
        return sendEmpty(res, 200);
      }
      case 'GETXATTRS': {
        const encoding = (params.get('encoding') ?? 'TEXT').toUpperCase();
        if (!['TEXT', 'HEX', 'BASE64'].includes(encoding)) throw invalidParam('encoding', `No enum constant org.apache.hadoop.fs.XAttrCodec.${encoding}`);
        const attrs = await ns.run(() => ns.getXAttrs(components, params.getAll('xattr.name'), user));
        return sendJson(res, 200, JSON.stringify({ XAttrs: attrs.map((a) => ({ name: a.name, value: encodeXAttrValue(a.value, encoding) })) }));
      }
      case 'LISTXATTRS': {
        const attrs = await ns.run(() => ns.getXAttrs(components, [], user));
        return sendJson(res, 200, JSON.stringify({ XAttrNames: JSON.stringify(attrs.map((a) => a.name)) }));
      }
      case 'SETTIMES': {
        const mtime = parseLong(params, 'modificationtime') ?? -1;
        const atime = parseLong(params, 'accesstime') ?? -1;
        await ns.run(() => ns.setTimes(components, mtime, atime));
        return sendEmpty(res, 200);
      }
      case 'GETHOMEDIRECTORY':
        return sendJson(res, 200, JSON.stringify({ Path: `/user/${user}` }));
      default:
        this.unknownOps.push(`namenode ${method} ${op} (not emulated)`);
        throw unsupportedOperation(`${op} is not supported by the WebHDFS emulator`);
    }
  }

  private async dataNodeOp(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    op: string,
    hdfsPath: string,
    params: URLSearchParams,
    user: string,
    record: RecordedRequest,
  ): Promise<void> {
    const ns = this.namespace;
    const components = pathComponents(hdfsPath);
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        record.bodyBytes += chunk.length;
        callback(null, chunk);
      },
    });
    if (!params.get('namenoderpcaddress')) {
      req.resume();
      throw illegalArgument('namenoderpcaddress is not specified.');
    }
    switch (op) {
      case 'OPEN': {
        req.resume();
        const offset = parseLong(params, 'offset') ?? 0;
        const length = parseLong(params, 'length');
        const { stream, length: count } = await ns.run(() => ns.openForRead(components, offset, length));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(count) });
        const stallAfter = record.fault?.stallReplyAfter;
        if (stallAfter !== undefined) {
          // Send `stallAfter` bytes, then nothing more; the connection stays open.
          record.stalled = true;
          let sent = 0;
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            const part = chunk.subarray(0, Math.max(0, stallAfter - sent));
            if (part.length > 0) res.write(part);
            sent += part.length;
            if (sent >= stallAfter) break;
          }
          (stream as { destroy?: () => void }).destroy?.();
          return;
        }
        await pipeline(stream, res).catch(() => res.destroy());
        return;
      }
      case 'CREATE': {
        const overwrite = parseBoolean(params, 'overwrite', false);
        const createParent = this.options.createParentParam ? parseBoolean(params, 'createparent', true) : true;
        const { handle, ino } = await ns.run(() => ns.createFile(components, overwrite, createParent, user));
        const stallAfter = record.fault?.stallBodyAfter;
        if (stallAfter !== undefined) {
          // A DataNode that hangs mid-write: what arrived up to the limit is in the file (a
          // partial file, as HDFS shows it), then nothing is read and nothing answered.
          let written = 0;
          let writes: Promise<unknown> = Promise.resolve();
          const onData = (chunk: Buffer): void => {
            const part = chunk.subarray(0, Math.max(0, stallAfter - written));
            written += part.length;
            record.bodyBytes += chunk.length;
            writes = writes.then(() => handle.write(part));
            if (written >= stallAfter) {
              req.pause();
              req.removeListener('data', onData);
              void writes.finally(() => handle.close()).catch(() => undefined).finally(() => ns.finishWrite(ino));
            }
          };
          this.stallBody(req, record, onData);
          return;
        }
        try {
          await pipeline(req, counter, handle.createWriteStream());
        } finally {
          // The output stream is closed whatever happened: what was received stays (HdfsWriter).
          await handle.close().catch(() => undefined);
          ns.finishWrite(ino);
        }
        res.writeHead(201, { location: `hdfs://127.0.0.1:${this.nameNodePort}${toHdfsPath(components)}`, 'content-length': '0' });
        res.end();
        return;
      }
      case 'APPEND': {
        const { handle, ino } = await ns.run(() => ns.appendFile(components));
        try {
          await pipeline(req, counter, handle.createWriteStream());
        } finally {
          await handle.close().catch(() => undefined);
          ns.finishWrite(ino);
        }
        return sendEmpty(res, 200);
      }
      default:
        req.resume();
        throw invalidParam('op', `No enum constant org.apache.hadoop.hdfs.web.resources.GetOpParam.Op.${op}`);
    }
  }
}

function parseRenameOptions(value: string | null): Set<string> {
  const out = new Set<string>();
  for (const raw of (value ?? '').split(',')) {
    const option = raw.trim().toUpperCase();
    if (option === '') continue;
    if (!['NONE', 'OVERWRITE', 'TO_TRASH'].includes(option)) throw invalidParam('renameoptions', `No enum constant org.apache.hadoop.fs.Options.Rename.${option}`);
    out.add(option);
  }
  return out;
}

function sendJson(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendEmpty(res: http.ServerResponse, status: number): void {
  res.writeHead(status, { 'content-length': '0' });
  res.end();
}

function sendText(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** A port that was free a moment ago (bound, then closed): connections to it are refused. */
async function unusedPort(): Promise<number> {
  const probe = http.createServer();
  await listen(probe);
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function listen(server: http.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
}

/** Starts a NameNode + DataNode pair on 127.0.0.1 (random ports) over a fresh temp directory. */
export const startWebHdfsEmulator = (options?: WebHdfsEmulatorOptions): Promise<WebHdfsEmulator> => WebHdfsEmulator.start(options);
