/**
 * The part list of a multipart object as stores keep it in text metadata (GCS custom metadata,
 * S3 user metadata): part sizes run-length encoded, part checksums (base64) comma-separated.
 * Decoders take untrusted text and answer undefined for anything malformed.
 */
import { MAX_PART_NUMBER } from './types';

/** "5242880*3,1000" for [5242880, 5242880, 5242880, 1000]. */
export function encodePartSizes(sizes: readonly number[]): string {
  const runs: string[] = [];
  for (let i = 0; i < sizes.length; ) {
    let j = i;
    while (j < sizes.length && sizes[j] === sizes[i]) j++;
    runs.push(j - i > 1 ? `${sizes[i]}*${j - i}` : String(sizes[i]));
    i = j;
  }
  return runs.join(',');
}

export function decodePartSizes(text: unknown): number[] | undefined {
  if (typeof text !== 'string' || !/^\d+(\*\d+)?(,\d+(\*\d+)?)*$/.test(text)) return undefined;
  const sizes: number[] = [];
  for (const run of text.split(',')) {
    const [size, count = '1'] = run.split('*');
    if (Number(count) > MAX_PART_NUMBER || sizes.length + Number(count) > MAX_PART_NUMBER) return undefined;
    for (let i = 0; i < Number(count); i++) sizes.push(Number(size));
  }
  return sizes;
}

const BASE64 = /^[A-Za-z0-9+/]{4,}={0,2}$/;

/** The part checksums from untrusted JSON: an array of base64 strings, or undefined. */
export function validPartChecksums(value: unknown): string[] | undefined {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_PART_NUMBER) return undefined;
  return value.every((v) => typeof v === 'string' && BASE64.test(v)) ? [...(value as string[])] : undefined;
}

export const encodePartChecksums = (sums: readonly string[]): string => sums.join(',');

export const decodePartChecksums = (text: unknown): string[] | undefined => (typeof text === 'string' ? validPartChecksums(text.split(',')) : undefined);
