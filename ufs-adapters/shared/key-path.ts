/**
 * The key rules of the file-system adapters (local/NFS and HDFS). Keys are untrusted client
 * input: everything that could escape the mount root, or that a POSIX-like file system cannot
 * represent, is rejected as InvalidKey.
 */
import { ufsError } from '../errors';
import { utf8Length } from '../utf8-order';

/** The folder under a mount root where a file-system adapter keeps its own state. */
export const RESERVED_DIR = '.ringcache';

export const MAX_KEY_BYTES = 1024;
const MAX_SEGMENT_BYTES = 255;

/** "photos/" is a folder marker: an empty object stored as a directory. */
export const isFolderKey = (key: string): boolean => key.endsWith('/');

/** "a/b/" -> ["a", "b"]; "a/b" -> ["a", "b"]. Only a single trailing "/" is dropped. */
export const keySegments = (key: string): string[] => (isFolderKey(key) ? key.slice(0, -1) : key).split('/');

const LONE_SURROGATE = /\p{Cs}/u;

/** Why one path segment cannot be stored, or undefined when it can. */
export function segmentProblem(segment: string, isFirst: boolean): string | undefined {
  if (segment === '') return 'key must not contain empty path segments';
  if (segment === '.' || segment === '..') return "key must not contain '.' or '..' path segments";
  if (segment.includes('\\')) return 'key must not contain backslashes';
  if (segment.includes('\0')) return 'key must not contain NUL characters';
  if (utf8Length(segment) > MAX_SEGMENT_BYTES) return `key path segments must be at most ${MAX_SEGMENT_BYTES} bytes`;
  // Case-insensitive so that case-insensitive file systems cannot reach the reserved folder either.
  if (isFirst && segment.toLowerCase() === RESERVED_DIR) return `the ${RESERVED_DIR} folder is reserved`;
  return undefined;
}

function keyProblem(key: string): string | undefined {
  if (typeof key !== 'string' || key === '') return 'key must not be empty';
  if (utf8Length(key) > MAX_KEY_BYTES) return `key must be at most ${MAX_KEY_BYTES} bytes`;
  if (key.includes('\0')) return 'key must not contain NUL characters';
  if (key.includes('\\')) return 'key must not contain backslashes';
  if (LONE_SURROGATE.test(key)) return 'key must be valid UTF-8';
  if (key.startsWith('/')) return "key must not start with '/'";
  const segments = keySegments(key);
  for (let i = 0; i < segments.length; i++) {
    const problem = segmentProblem(segments[i], i === 0);
    if (problem) return problem;
  }
  return undefined;
}

const isValidKey = (key: string): boolean => keyProblem(key) === undefined;

export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem) throw ufsError('InvalidKey', problem);
}

/**
 * Splits a list prefix into the folder it lives in ("a/b/" or "" for the root) and the
 * start of the names inside that folder ("ph" for "a/b/ph"). Undefined when no valid key
 * can have this prefix.
 */
export function splitListPrefix(prefix: string): { dirKey: string; namePrefix: string } | undefined {
  const cut = prefix.lastIndexOf('/') + 1;
  const dirKey = prefix.slice(0, cut);
  if (dirKey !== '' && !isValidKey(dirKey)) return undefined;
  return { dirKey, namePrefix: prefix.slice(cut) };
}
