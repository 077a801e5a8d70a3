/**
 * The emulated HDFS namespace, backed by a directory on the local disk: an HDFS path
 * "/a/b" is `<dir>/a/b`. It applies the NameNode's rules (FSDirMkdirOp, FSDirRenameOp,
 * FSDirDeleteOp, FSDirConcatOp, FSDirXAttrOp) and answers in WebHDFS JSON shapes.
 *
 * - fileId is the backing inode number (stable across renames, like an HDFS inode id).
 * - Extended attributes live in memory keyed by inode, so they move with RENAME, vanish with
 *   DELETE and with CREATE overwrite=true (a new inode), exactly as on HDFS.
 * - Children are ordered like INodeDirectory: by the *signed* bytes of their UTF-8 names
 *   (Guava SignedBytes), so names with non-ASCII characters sort before ASCII ones.
 * - Namespace operations are serialised by one lock, as the FSNamesystem write lock does;
 *   data streaming (DataNode) happens outside it.
 */
import { createReadStream, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, rmdir, unlink, utimes, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  accessControl,
  fileAlreadyExists,
  fileNotFound,
  hadoopIllegalArgument,
  illegalArgument,
  invalidPath,
  ioException,
  parentNotDirectory,
  pathComponentTooLong,
  pathIsNotEmptyDirectory,
} from './remote-exception';

export interface FileStatusJson {
  accessTime: number;
  blockSize: number;
  childrenNum: number;
  fileId: number;
  group: string;
  length: number;
  modificationTime: number;
  owner: string;
  pathSuffix: string;
  permission: string;
  replication: number;
  storagePolicy: number;
  type: 'FILE' | 'DIRECTORY' | 'SYMLINK';
}

interface NamespaceOptions {
  /** Block size reported for files (and used by the legacy CONCAT check). */
  blockSize: number;
  replication: number;
  /** Pre-2.7 CONCAT: every file but the last source must consist of full blocks. */
  legacyConcat: boolean;
  /** dfs.namenode.xattrs.enabled */
  xattrsEnabled: boolean;
  /** dfs.namenode.fs-limits.max-xattr-size (name without namespace + value, bytes). */
  maxXAttrSize: number;
  /** dfs.namenode.fs-limits.max-xattrs-per-inode */
  maxXAttrsPerInode: number;
  superuser: string;
}

const MAX_COMPONENT_BYTES = 255;
const XATTR_NAMESPACES = ['user', 'trusted', 'system', 'security', 'raw'];

/** Guava SignedBytes.lexicographicalComparator over two byte arrays. */
function compareSignedBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = (a[i] << 24) >> 24;
    const y = (b[i] << 24) >> 24;
    if (x !== y) return x - y;
  }
  return a.length - b.length;
}

class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

const errnoCode = (err: unknown): string | undefined => (err as { code?: string } | null)?.code;

export const toHdfsPath = (components: string[]): string => `/${components.join('/')}`;

/**
 * Splits an absolute HDFS path into components, applying DFSUtil.isValidName (no ".", "..",
 * ":" components) when `forCreate` (the NameNode checks names of what it creates).
 */
export function pathComponents(hdfsPath: string, forCreate = false): string[] {
  if (!hdfsPath.startsWith('/')) throw invalidPath(`Invalid path name ${hdfsPath}`);
  const components = hdfsPath.split('/').filter((c) => c !== '');
  for (const c of components) {
    if (c === '.' || c === '..' || (forCreate && c.includes(':'))) throw invalidPath(`Invalid path name ${hdfsPath}`);
  }
  return components;
}

export class Namespace {
  private readonly lock = new Mutex();
  private readonly xattrs = new Map<number, Map<string, Buffer>>();
  private readonly owners = new Map<number, string>();
  private readonly underConstruction = new Set<number>();

  constructor(
    readonly dir: string,
    private readonly options: NamespaceOptions,
  ) {}

  run<T>(task: () => Promise<T>): Promise<T> {
    return this.lock.run(task);
  }

  local(components: string[]): string {
    return path.join(this.dir, ...components);
  }

  /** Stats of the inode at `components`; undefined when missing; a file inside the path is ParentNotDirectory. */
  async resolve(components: string[]): Promise<Stats | undefined> {
    try {
      return await lstat(this.local(components));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      if (errnoCode(err) === 'ENOTDIR') {
        for (let i = 1; i < components.length; i++) {
          const st = await lstat(this.local(components.slice(0, i))).catch(() => undefined);
          if (st && !st.isDirectory()) throw parentNotDirectory(`${toHdfsPath(components.slice(0, i))} (is not a directory)`);
        }
        return undefined;
      }
      throw err;
    }
  }

  async status(components: string[], st: Stats, pathSuffix: string): Promise<FileStatusJson> {
    const isDir = st.isDirectory();
    const childrenNum = isDir ? (await readdir(this.local(components)).catch(() => [])).length : 0;
    return {
      accessTime: isDir ? 0 : Math.trunc(st.atimeMs),
      blockSize: isDir ? 0 : this.options.blockSize,
      childrenNum,
      fileId: st.ino,
      group: 'supergroup',
      length: isDir ? 0 : st.size,
      modificationTime: Math.trunc(st.mtimeMs),
      owner: this.owners.get(st.ino) ?? this.options.superuser,
      pathSuffix,
      permission: isDir ? '755' : '644',
      replication: isDir ? 0 : this.options.replication,
      storagePolicy: 0,
      type: isDir ? 'DIRECTORY' : st.isSymbolicLink() ? 'SYMLINK' : 'FILE',
    };
  }

  async getFileStatus(components: string[]): Promise<FileStatusJson> {
    const st = await this.resolve(components);
    if (!st) throw fileNotFound(`File does not exist: ${toHdfsPath(components)}`);
    return this.status(components, st, '');
  }

  /** getListing: children after `startAfter` (signed byte order), at most `limit`; a file lists itself. */
  async listing(components: string[], startAfter: Buffer | undefined, limit: number | undefined): Promise<{ statuses: FileStatusJson[]; remaining: number }> {
    const st = await this.resolve(components);
    if (!st) throw fileNotFound(`File ${toHdfsPath(components)} does not exist.`);
    if (!st.isDirectory()) return { statuses: [await this.status(components, st, '')], remaining: 0 };
    const names = (await readdir(this.local(components)))
      .map((name) => ({ name, bytes: Buffer.from(name, 'utf8') }))
      .filter((n) => startAfter === undefined || compareSignedBytes(n.bytes, startAfter) > 0)
      .sort((a, b) => compareSignedBytes(a.bytes, b.bytes));
    const page = limit === undefined ? names : names.slice(0, limit);
    const statuses: FileStatusJson[] = [];
    for (const { name } of page) {
      const child = [...components, name];
      const childStats = await lstat(this.local(child)).catch(() => undefined);
      if (childStats) statuses.push(await this.status(child, childStats, name));
    }
    return { statuses, remaining: names.length - page.length };
  }

  private checkComponentLength(components: string[]): void {
    components.forEach((c, i) => {
      const length = Buffer.byteLength(c, 'utf8');
      if (length > MAX_COMPONENT_BYTES) {
        throw pathComponentTooLong(
          `The maximum path component name limit of ${c} in directory ${toHdfsPath(components.slice(0, i))} is exceeded: limit=${MAX_COMPONENT_BYTES} length=${length}`,
        );
      }
      if (c === '.snapshot' || (i === 0 && c === '.reserved')) throw hadoopIllegalArgument(`"${c}" is a reserved name.`);
    });
  }

  /** FSDirMkdirOp.mkdirs: creates missing directories; files in the way are errors. */
  async mkdirs(components: string[], user: string): Promise<boolean> {
    this.checkComponentLength(components);
    for (let i = 1; i <= components.length; i++) {
      const prefix = components.slice(0, i);
      let st = await lstat(this.local(prefix)).catch(() => undefined);
      if (!st) {
        await mkdir(this.local(prefix)).catch((err: unknown) => {
          if (errnoCode(err) !== 'EEXIST') throw err;
        });
        st = await lstat(this.local(prefix));
        if (!this.owners.has(st.ino)) this.owners.set(st.ino, user);
      }
      if (!st.isDirectory()) {
        if (i === components.length) throw fileAlreadyExists(`Path is not a directory: ${toHdfsPath(components)}`);
        throw parentNotDirectory(`${toHdfsPath(prefix)} (is not a directory)`);
      }
    }
    return true;
  }

  private async inodesBelow(local: string, st: Stats): Promise<number[]> {
    const ids = [st.ino];
    if (st.isDirectory()) {
      for (const name of await readdir(local).catch(() => [] as string[])) {
        const child = path.join(local, name);
        const childStats = await lstat(child).catch(() => undefined);
        if (childStats) ids.push(...(await this.inodesBelow(child, childStats)));
      }
    }
    return ids;
  }

  private forget(ids: number[]): void {
    for (const id of ids) {
      this.xattrs.delete(id);
      this.owners.delete(id);
      this.underConstruction.delete(id);
    }
  }

  /** FSDirDeleteOp: false when missing (or the root); non-empty directories need recursive. */
  async delete(components: string[], recursive: boolean): Promise<boolean> {
    if (components.length === 0) return false;
    const st = await this.resolve(components);
    if (!st) return false;
    const local = this.local(components);
    if (st.isDirectory() && !recursive && (await readdir(local)).length > 0) {
      throw pathIsNotEmptyDirectory(`\`${toHdfsPath(components)} is non empty': Directory is not empty`);
    }
    this.forget(await this.inodesBelow(local, st));
    await rm(local, { recursive: true, force: true });
    return true;
  }

  /** The deprecated rename (ClientProtocol.rename): false instead of errors; into a directory when the destination is one. */
  async renameV1(src: string[], dst: string[]): Promise<boolean> {
    const srcStats = await this.resolve(src).catch(() => undefined);
    if (!srcStats || src.length === 0) return false;
    if (toHdfsPath(src) === toHdfsPath(dst)) return srcStats.isFile();
    if (toHdfsPath(dst).startsWith(`${toHdfsPath(src)}/`)) return false;
    let target = dst;
    const dstStats = await this.resolve(dst).catch(() => undefined);
    if (dstStats?.isDirectory()) {
      target = [...dst, src[src.length - 1]];
      if (await this.resolve(target).catch(() => undefined)) return false;
    } else if (dstStats) {
      return false;
    }
    const parent = await this.resolve(target.slice(0, -1)).catch(() => undefined);
    if (!parent?.isDirectory()) return false;
    this.checkComponentLength(target);
    await rename(this.local(src), this.local(target));
    return true;
  }

  /** ClientProtocol.rename2 (FSDirRenameOp.unprotectedRenameTo with options). */
  async rename2(src: string[], dst: string[], overwrite: boolean): Promise<void> {
    const s = toHdfsPath(src);
    const d = toHdfsPath(dst);
    const srcStats = await this.resolve(src);
    if (!srcStats) throw fileNotFound(`rename source ${s} is not found.`);
    if (src.length === 0) throw ioException(`Rename source ${s} is a root`);
    if (s === d) throw fileAlreadyExists(`The source ${s} and destination ${d} are the same`);
    if (d.startsWith(`${s}/`)) throw ioException(`Rename destination ${d} is a directory or file under source ${s}`);
    if (dst.length === 0) throw ioException(`rename destination cannot be the root`);
    this.checkComponentLength(dst);
    const dstStats = await this.resolve(dst);
    if (dstStats) {
      if (dstStats.isDirectory() !== srcStats.isDirectory()) throw ioException(`Source ${s} and destination ${d} must both be directories`);
      if (!overwrite) throw fileAlreadyExists(`rename destination ${d} already exists`);
      if (dstStats.isDirectory() && (await readdir(this.local(dst))).length > 0) {
        throw ioException(`rename destination directory is not empty: ${d}`);
      }
    }
    const parentStats = await this.resolve(dst.slice(0, -1)).catch(() => undefined);
    if (!parentStats) throw fileNotFound(`rename destination parent ${d} not found.`);
    if (!parentStats.isDirectory()) throw parentNotDirectory(`rename destination parent ${d} is a file.`);
    if (dstStats) {
      this.forget([dstStats.ino]);
      if (dstStats.isDirectory()) await rmdir(this.local(dst));
    }
    await rename(this.local(src), this.local(dst));
  }

  private async fileInode(components: string[]): Promise<Stats> {
    const st = await this.resolve(components);
    const p = toHdfsPath(components);
    if (!st) throw fileNotFound(`File does not exist: ${p}`);
    if (!st.isFile()) throw fileNotFound(`Path is not a file: ${p}`);
    return st;
  }

  /** FSDirConcatOp.concat: moves the sources' data to the end of the target and deletes them. */
  async concat(target: string[], sources: string[][]): Promise<void> {
    if (sources.length === 0) throw illegalArgument('No sources given');
    const t = toHdfsPath(target);
    const targetStats = await this.fileInode(target);
    if (this.underConstruction.has(targetStats.ino)) throw hadoopIllegalArgument(`concat: target file ${t} is under construction`);
    const seen = new Set<number>();
    const sourceStats: Stats[] = [];
    for (const source of sources) {
      const s = toHdfsPath(source);
      const st = await this.fileInode(source);
      if (toHdfsPath(source.slice(0, -1)) !== toHdfsPath(target.slice(0, -1))) {
        throw hadoopIllegalArgument(`Source file ${s} is not in the same directory with the target ${t}`);
      }
      if (st.ino === targetStats.ino) throw hadoopIllegalArgument(`concat: the src file ${s} is the same with the target file ${t}`);
      if (this.underConstruction.has(st.ino) || st.size === 0) {
        throw hadoopIllegalArgument(`concat: source file ${s} is invalid or empty or underConstruction`);
      }
      seen.add(st.ino);
      sourceStats.push(st);
    }
    if (seen.size < sources.length) throw hadoopIllegalArgument('concat: at least two of the source files are the same');
    if (this.options.legacyConcat) {
      const all = [{ p: t, size: targetStats.size }, ...sources.map((s, i) => ({ p: toHdfsPath(s), size: sourceStats[i].size }))];
      for (const file of all.slice(0, -1)) {
        if (file.size % this.options.blockSize !== 0) {
          throw hadoopIllegalArgument(`concat: the last block of ${file.p} is not full (blocksize=${this.options.blockSize}); only the last source may end in a partial block`);
        }
      }
    }
    const out = await open(this.local(target), 'a');
    try {
      for (const source of sources) {
        for await (const chunk of createReadStream(this.local(source))) await out.write(chunk as Buffer);
      }
    } finally {
      await out.close();
    }
    for (let i = 0; i < sources.length; i++) {
      this.forget([sourceStats[i].ino]);
      await unlink(this.local(sources[i]));
    }
    const now = new Date();
    await utimes(this.local(target), now, now);
  }

  async setTimes(components: string[], mtime: number, atime: number): Promise<void> {
    const st = await this.resolve(components);
    if (!st) throw fileNotFound(`File/Directory ${toHdfsPath(components)} does not exist.`);
    await utimes(this.local(components), atime < 0 ? st.atime : new Date(atime), mtime < 0 ? st.mtime : new Date(mtime));
  }

  // ---- extended attributes (FSDirXAttrOp) ----

  private checkXAttrsEnabled(): void {
    if (!this.options.xattrsEnabled) {
      throw ioException(
        'The XAttr operation has been rejected.  Support for XAttrs has been disabled by setting dfs.namenode.xattrs.enabled to false.',
      );
    }
  }

  /** XAttrHelper.buildXAttr: "<namespace>.<name>" with the namespace normalised to lower case. */
  normaliseXAttrName(name: string, user: string): { full: string; bare: string } {
    const dot = name.indexOf('.');
    const ns = dot > 0 ? name.slice(0, dot).toLowerCase() : '';
    const bare = dot > 0 ? name.slice(dot + 1) : '';
    if (!XATTR_NAMESPACES.includes(ns) || bare === '') {
      throw hadoopIllegalArgument("An XAttr name must be prefixed with user/trusted/security/system/raw, followed by a '.'");
    }
    if (ns !== 'user' && !(ns === 'trusted' && user === this.options.superuser)) {
      throw accessControl(`User doesn't have permission for xattr: ${ns}.${bare}`);
    }
    return { full: `${ns}.${bare}`, bare };
  }

  async setXAttr(components: string[], name: string, value: Buffer, flags: Set<string>, user: string): Promise<void> {
    this.checkXAttrsEnabled();
    const { full, bare } = this.normaliseXAttrName(name, user);
    const st = await this.resolve(components);
    if (!st) throw fileNotFound(`File does not exist: ${toHdfsPath(components)}`);
    const size = Buffer.byteLength(bare, 'utf8') + value.length;
    if (size > this.options.maxXAttrSize) {
      throw hadoopIllegalArgument(
        `The XAttr is too big. The maximum combined size of the name and value is ${this.options.maxXAttrSize}, but the total size is ${size}`,
      );
    }
    const attrs = this.xattrs.get(st.ino) ?? new Map<string, Buffer>();
    if (flags.size === 0) throw hadoopIllegalArgument('A flag must be specified.');
    if (attrs.has(full) && !flags.has('REPLACE')) throw ioException(`XAttr: ${full} already exists. The REPLACE flag must be specified.`);
    if (!attrs.has(full) && !flags.has('CREATE')) throw ioException(`XAttr: ${full} does not exist. The CREATE flag must be specified.`);
    if (!attrs.has(full) && attrs.size >= this.options.maxXAttrsPerInode) {
      throw ioException(`Cannot add additional XAttr to inode, would exceed limit of ${this.options.maxXAttrsPerInode}`);
    }
    attrs.set(full, Buffer.from(value));
    this.xattrs.set(st.ino, attrs);
  }

  async getXAttrs(components: string[], names: string[], user: string): Promise<Array<{ name: string; value: Buffer }>> {
    this.checkXAttrsEnabled();
    const st = await this.resolve(components);
    if (!st) throw fileNotFound(`File does not exist: ${toHdfsPath(components)}`);
    const attrs = this.xattrs.get(st.ino) ?? new Map<string, Buffer>();
    const visible = [...attrs.entries()].filter(([n]) => n.startsWith('user.') || (n.startsWith('trusted.') && user === this.options.superuser));
    if (names.length === 0) return visible.map(([name, value]) => ({ name, value }));
    const out: Array<{ name: string; value: Buffer }> = [];
    for (const requested of names) {
      const { full } = this.normaliseXAttrName(requested, user);
      const value = attrs.get(full);
      if (!value) throw ioException('At least one of the attributes provided was not found.');
      out.push({ name: full, value });
    }
    return out;
  }

  async removeXAttr(components: string[], name: string, user: string): Promise<void> {
    this.checkXAttrsEnabled();
    const { full } = this.normaliseXAttrName(name, user);
    const st = await this.resolve(components);
    if (!st) throw fileNotFound(`File does not exist: ${toHdfsPath(components)}`);
    const attrs = this.xattrs.get(st.ino);
    if (!attrs?.delete(full)) throw ioException('No matching attributes found for remove operation');
  }

  // ---- data (DataNode side) ----

  /** Creates the file for a DataNode CREATE (the NameNode part of DFSClient.create). */
  async createFile(components: string[], overwrite: boolean, createParent: boolean, user: string): Promise<{ handle: FileHandle; ino: number }> {
    const p = toHdfsPath(components);
    pathComponents(p, true);
    if (components.length === 0) throw fileAlreadyExists('/ already exists as a directory');
    this.checkComponentLength(components);
    const existing = await this.resolve(components);
    if (existing?.isDirectory()) throw fileAlreadyExists(`${p} already exists as a directory`);
    if (existing && !overwrite) throw fileAlreadyExists(`${p} for client 127.0.0.1 already exists`);
    const parent = components.slice(0, -1);
    const parentStats = await this.resolve(parent);
    if (!parentStats) {
      if (!createParent) throw fileNotFound(`Parent directory doesn't exist: ${toHdfsPath(parent)}`);
      await this.mkdirs(parent, user);
    } else if (!parentStats.isDirectory()) {
      throw parentNotDirectory(`${toHdfsPath(parent)} (is not a directory)`);
    }
    if (existing) {
      this.forget([existing.ino]);
      await unlink(this.local(components));
    }
    const handle = await open(this.local(components), 'wx');
    const { ino } = await handle.stat();
    this.owners.set(ino, user);
    this.underConstruction.add(ino);
    return { handle, ino };
  }

  async appendFile(components: string[]): Promise<{ handle: FileHandle; ino: number }> {
    const st = await this.fileInode(components);
    if (this.underConstruction.has(st.ino)) {
      throw ioException(`Failed to APPEND_FILE ${toHdfsPath(components)} because this file lease is currently owned by another client`);
    }
    const handle = await open(this.local(components), 'a');
    this.underConstruction.add(st.ino);
    return { handle, ino: st.ino };
  }

  /** Closes a file written through the DataNode (completeFile: the lease is released). */
  finishWrite(ino: number): void {
    this.underConstruction.delete(ino);
  }

  async openForRead(components: string[], offset: number, length: number | undefined): Promise<{ stream: Readable; length: number }> {
    const st = await this.fileInode(components);
    if (offset < 0 || (offset >= st.size && st.size > 0)) {
      throw ioException(`Offset=${offset} out of the range [0, ${st.size}); OPEN, path=${toHdfsPath(components)}`);
    }
    const available = Math.max(0, st.size - offset);
    const count = length === undefined ? available : Math.min(length, available);
    if (count === 0) return { stream: Readable.from([]), length: 0 };
    return { stream: createReadStream(this.local(components), { start: offset, end: offset + count - 1 }), length: count };
  }
}
