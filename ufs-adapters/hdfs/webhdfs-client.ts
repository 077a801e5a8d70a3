/**
 * A small WebHDFS REST client (Hadoop's WebHDFS.md) over an undici keep-alive Agent.
 *
 * - Every call carries `user.name=<user>` (pseudo authentication), or `delegation=<token>`
 *   when a delegation token is configured. Kerberos/SPNEGO is not implemented.
 * - OPEN, CREATE and APPEND are two-step: the NameNode answers 307 with the DataNode URL
 *   (which already carries the credentials and `namenoderpcaddress`), and the data goes
 *   to that URL. The first PUT of CREATE never carries data.
 * - Errors become WebHdfsError (RemoteException fields kept); transport failures are
 *   thrown as they are and mapped by the callers (hdfs-errors.ts).
 */
import type { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { WebHdfsError } from './hdfs-errors';

export type FileType = 'FILE' | 'DIRECTORY' | 'SYMLINK';

/** The FileStatus JSON object (only the fields the adapter uses are required). */
export interface FileStatus {
  accessTime?: number;
  blockSize?: number;
  childrenNum?: number;
  fileId?: number;
  group?: string;
  length: number;
  modificationTime: number;
  owner?: string;
  pathSuffix: string;
  permission?: string;
  replication?: number;
  storagePolicy?: number;
  type: FileType;
}

export interface DirectoryBatch {
  entries: FileStatus[];
  /** remainingEntries: 0 when this was the last batch. */
  remaining: number;
}

interface WebHdfsClientOptions {
  /** http(s)://namenode:port */
  nameNodeUrl: string;
  user?: string;
  delegationToken?: string;
  timeoutMs: number;
  maxSockets: number;
}

type ParamValue = string | number | boolean | undefined;
type Params = Record<string, ParamValue | readonly string[]>;

const PREFIX = '/webhdfs/v1';
const MAX_ERROR_BODY = 64 * 1024;

/** "/a/b c" -> "/webhdfs/v1/a/b%20c" */
function webHdfsPath(hdfsPath: string): string {
  const segments = hdfsPath.split('/').filter((s) => s !== '');
  return `${PREFIX}/${segments.map((s) => encodeURIComponent(s)).join('/')}`;
}

async function readErrorBody(res: Dispatcher.ResponseData): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    const buf = Buffer.from(chunk as Uint8Array);
    if (size < MAX_ERROR_BODY) chunks.push(buf);
    size += buf.length;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, MAX_ERROR_BODY);
}

/** Builds a WebHdfsError from an error answer (RemoteException JSON, or anything else). */
async function errorOf(op: string, res: Dispatcher.ResponseData): Promise<WebHdfsError> {
  const text = await readErrorBody(res).catch(() => '');
  try {
    const parsed = JSON.parse(text) as { RemoteException?: { exception?: unknown; javaClassName?: unknown; message?: unknown } };
    const remote = parsed.RemoteException;
    if (remote && typeof remote === 'object') {
      const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
      return new WebHdfsError(op, res.statusCode, str(remote.exception), str(remote.javaClassName), str(remote.message));
    }
  } catch {
    // not JSON: an authentication filter page, a proxy, ...
  }
  return new WebHdfsError(op, res.statusCode, undefined, undefined, text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200) || undefined);
}

const isJson = (res: Dispatcher.ResponseData): boolean => String(res.headers['content-type'] ?? '').includes('json');

export class WebHdfsClient {
  private readonly agent: Agent;
  private readonly base: URL;

  constructor(private readonly options: WebHdfsClientOptions) {
    this.base = new URL(options.nameNodeUrl);
    this.agent = new Agent({
      connections: options.maxSockets,
      keepAliveTimeout: 10_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: { timeout: options.timeoutMs },
    });
  }

  /** NameNode URL of `op` on `hdfsPath`, with the credentials. */
  url(hdfsPath: string, op: string, params: Params = {}): string {
    const url = new URL(webHdfsPath(hdfsPath), this.base);
    const query = new URLSearchParams({ op });
    if (this.options.delegationToken) query.set('delegation', this.options.delegationToken);
    else if (this.options.user) query.set('user.name', this.options.user);
    for (const [name, value] of Object.entries(params)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) query.append(name, v);
      else query.set(name, String(value));
    }
    url.search = query.toString();
    return url.toString();
  }

  private send(
    url: string,
    method: Dispatcher.HttpMethod,
    signal: AbortSignal | undefined,
    body?: Readable,
  ): Promise<Dispatcher.ResponseData> {
    return request(url, {
      method,
      dispatcher: this.agent,
      signal,
      body: body ?? (method === 'PUT' || method === 'POST' ? '' : undefined),
      headers: body ? { 'content-type': 'application/octet-stream' } : undefined,
    });
  }

  /** A call answered with JSON (200). */
  async json<T>(method: Dispatcher.HttpMethod, hdfsPath: string, op: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
    const res = await this.send(this.url(hdfsPath, op, params), method, signal);
    if (res.statusCode !== 200) throw await errorOf(op, res);
    return (await res.body.json()) as T;
  }

  /** A call answered 200 with an empty (or ignored) body. */
  async call(method: Dispatcher.HttpMethod, hdfsPath: string, op: string, params: Params = {}, signal?: AbortSignal): Promise<string> {
    const res = await this.send(this.url(hdfsPath, op, params), method, signal);
    if (res.statusCode !== 200) throw await errorOf(op, res);
    return res.body.text();
  }

  async getFileStatus(hdfsPath: string, signal?: AbortSignal): Promise<FileStatus> {
    const answer = await this.json<{ FileStatus: FileStatus }>('GET', hdfsPath, 'GETFILESTATUS', {}, signal);
    return answer.FileStatus;
  }

  /** One LISTSTATUS_BATCH page (names after `startAfter`, in the NameNode's order). */
  async listStatusBatch(hdfsPath: string, startAfter: string | undefined, signal?: AbortSignal): Promise<DirectoryBatch> {
    const answer = await this.json<{ DirectoryListing: { partialListing: { FileStatuses: { FileStatus: FileStatus[] } }; remainingEntries: number } }>(
      'GET',
      hdfsPath,
      'LISTSTATUS_BATCH',
      { startAfter },
      signal,
    );
    const listing = answer.DirectoryListing;
    return { entries: listing.partialListing?.FileStatuses?.FileStatus ?? [], remaining: Number(listing.remainingEntries ?? 0) };
  }

  async listStatus(hdfsPath: string, signal?: AbortSignal): Promise<FileStatus[]> {
    const answer = await this.json<{ FileStatuses: { FileStatus: FileStatus[] } }>('GET', hdfsPath, 'LISTSTATUS', {}, signal);
    return answer.FileStatuses?.FileStatus ?? [];
  }

  async mkdirs(hdfsPath: string, signal?: AbortSignal): Promise<boolean> {
    return (await this.json<{ boolean: boolean }>('PUT', hdfsPath, 'MKDIRS', {}, signal)).boolean;
  }

  async delete(hdfsPath: string, recursive: boolean, signal?: AbortSignal): Promise<boolean> {
    return (await this.json<{ boolean: boolean }>('DELETE', hdfsPath, 'DELETE', { recursive }, signal)).boolean;
  }

  /**
   * RENAME. With `options` ("OVERWRITE" or "NONE") the NameNode runs rename2 (FileSystem's
   * rename with Options.Rename): 200 with no body, failures as exceptions; the answer is
   * undefined. Without options it is the old rename, answered {"boolean": ...}; a server
   * that ignores `renameoptions` also answers that way.
   */
  async rename(src: string, dst: string, options?: 'OVERWRITE' | 'NONE', signal?: AbortSignal): Promise<boolean | undefined> {
    const text = await this.call('PUT', src, 'RENAME', { destination: dst, renameoptions: options }, signal);
    if (text.trim() === '') return undefined;
    const parsed = JSON.parse(text) as { boolean?: unknown };
    return parsed.boolean === true;
  }

  /** CONCAT: appends `sources` (same directory, in order) to `target` and deletes them. */
  async concat(target: string, sources: string[], signal?: AbortSignal): Promise<void> {
    await this.call('POST', target, 'CONCAT', { sources: sources.join(',') }, signal);
  }

  /** All extended attributes visible to the caller (values decoded from base64). */
  async getXAttrs(hdfsPath: string, signal?: AbortSignal): Promise<Map<string, Buffer>> {
    const answer = await this.json<{ XAttrs?: Array<{ name: string; value: string | null }> }>('GET', hdfsPath, 'GETXATTRS', { encoding: 'base64' }, signal);
    const out = new Map<string, Buffer>();
    for (const attr of answer.XAttrs ?? []) {
      const value = attr.value ?? '';
      out.set(attr.name, /^0s/i.test(value) ? Buffer.from(value.slice(2), 'base64') : Buffer.from(value, 'utf8'));
    }
    return out;
  }

  /** SETXATTR with a base64 ("0s") value; flag "CREATE,REPLACE" creates or replaces. */
  async setXAttr(hdfsPath: string, name: string, value: Buffer, flag: 'CREATE' | 'REPLACE' | 'CREATE,REPLACE', signal?: AbortSignal): Promise<void> {
    await this.call('PUT', hdfsPath, 'SETXATTR', { 'xattr.name': name, 'xattr.value': `0s${value.toString('base64')}`, flag }, signal);
  }

  async removeXAttr(hdfsPath: string, name: string, signal?: AbortSignal): Promise<void> {
    await this.call('PUT', hdfsPath, 'REMOVEXATTR', { 'xattr.name': name }, signal);
  }

  /**
   * Step one of OPEN/CREATE/APPEND: the NameNode's 307 Location (or the noredirect JSON).
   * HttpFS answers OPEN with the data itself (200, octet-stream): that answer is returned as is.
   */
  private async locate(method: Dispatcher.HttpMethod, hdfsPath: string, op: string, params: Params, signal?: AbortSignal): Promise<string | Dispatcher.ResponseData> {
    const nameNodeUrl = this.url(hdfsPath, op, params);
    const res = await this.send(nameNodeUrl, method, signal);
    if (res.statusCode === 307 || res.statusCode === 302 || res.statusCode === 303) {
      const location = res.headers.location;
      await res.body.dump();
      if (typeof location !== 'string' || location === '') throw new WebHdfsError(op, res.statusCode, undefined, undefined, 'redirect without Location');
      return new URL(location, nameNodeUrl).toString();
    }
    if (res.statusCode === 200 && isJson(res)) {
      const answer = (await res.body.json()) as { Location?: unknown };
      if (typeof answer.Location === 'string') return answer.Location;
      throw new WebHdfsError(op, 200, undefined, undefined, 'unexpected JSON answer');
    }
    if (res.statusCode === 200 && method === 'GET') return res;
    throw await errorOf(op, res);
  }

  /** OPEN, following the redirect to a DataNode; resolves once the DataNode answered 200. */
  async open(hdfsPath: string, range: { offset: number; length: number } | undefined, signal?: AbortSignal): Promise<Readable> {
    const params: Params = range ? { offset: range.offset, length: range.length, noredirect: false } : { noredirect: false };
    const located = await this.locate('GET', hdfsPath, 'OPEN', params, signal);
    const res = typeof located === 'string' ? await this.send(located, 'GET', signal) : located;
    if (res.statusCode !== 200) throw await errorOf('OPEN', res);
    return res.body;
  }

  /** CREATE: the NameNode names a DataNode (307), which receives `body` and answers 201. */
  async create(hdfsPath: string, body: Readable, params: { overwrite: boolean; createparent?: boolean }, signal?: AbortSignal): Promise<void> {
    const query: Params = { overwrite: params.overwrite, createparent: params.createparent, noredirect: false };
    const located = await this.locate('PUT', hdfsPath, 'CREATE', query, signal);
    if (typeof located !== 'string') throw new WebHdfsError('CREATE', located.statusCode, undefined, undefined, 'no DataNode redirect');
    const res = await this.send(located, 'PUT', signal, body);
    if (res.statusCode !== 201 && res.statusCode !== 200) throw await errorOf('CREATE', res);
    await res.body.dump();
  }

  /** Releases the sockets: waits a little for requests in flight, then cuts them. */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), 2000);
      timer.unref();
    });
    const result = await Promise.race([this.agent.close().then(() => 'closed' as const), timeout]);
    if (timer) clearTimeout(timer);
    if (result === 'timeout') await this.agent.destroy().catch(() => undefined);
  }
}
