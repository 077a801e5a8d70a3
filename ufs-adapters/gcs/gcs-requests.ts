/**
 * objects.rewrite and objects.compose with a complete destination resource. The library's
 * `file.copy()` / `bucket.combine()` cannot send custom metadata, Cache-Control etc. for the
 * destination (combine only sends contentType and contentEncoding), so these go through the
 * library's authenticated `file.request()` (same auth, retries and endpoint as everything else).
 */
import type { FileMetadata } from '@google-cloud/storage';
import type { GcsContext } from './gcs-context';
import { throwIfAborted } from '../shared/abort';
import type { GcsResource } from './gcs-metadata';

interface RewriteResponse {
  done?: boolean;
  rewriteToken?: string;
  resource?: FileMetadata;
}

/**
 * Rewrites `sourceName` (pinned to `sourceGeneration` when given) to `destinationName`.
 * Without `resource` the destination keeps the source's metadata; with it, the destination
 * gets that metadata. Loops over rewrite tokens until GCS reports `done`.
 */
export async function rewriteObject(
  ctx: GcsContext,
  sourceName: string,
  destinationName: string,
  options: { sourceGeneration?: string; resource?: GcsResource; signal?: AbortSignal } = {},
): Promise<FileMetadata> {
  const source = ctx.bucket.file(sourceName);
  const uri = `/rewriteTo/b/${encodeURIComponent(ctx.bucket.name)}/o/${encodeURIComponent(destinationName)}`;
  let rewriteToken: string | undefined;
  for (;;) {
    throwIfAborted(options.signal);
    const qs: Record<string, string> = {};
    if (options.sourceGeneration !== undefined) qs.sourceGeneration = options.sourceGeneration;
    if (rewriteToken !== undefined) qs.rewriteToken = rewriteToken;
    // Calls that continue a rewrite may omit the body; the first one carries the resource.
    const [body] = await source.request({ method: 'POST', uri, qs, json: rewriteToken === undefined ? (options.resource ?? {}) : {} });
    const response = body as RewriteResponse;
    if (response.done && response.resource) return response.resource;
    if (!response.rewriteToken) throw new Error('objects.rewrite returned neither a resource nor a rewrite token');
    rewriteToken = response.rewriteToken;
  }
}

export interface ComposeSource {
  name: string;
  /** Pinned: the compose fails (404/412) if this source changed since it was validated. */
  generation: string;
}

/** One objects.compose call (1-32 sources, same bucket). Returns the destination's resource. */
export async function composeObjects(ctx: GcsContext, destinationName: string, sources: readonly ComposeSource[], resource: GcsResource): Promise<FileMetadata> {
  const [body] = await ctx.bucket.file(destinationName).request({
    method: 'POST',
    uri: '/compose',
    json: {
      kind: 'storage#composeRequest',
      sourceObjects: sources.map((source) => ({
        name: source.name,
        generation: source.generation,
        objectPreconditions: { ifGenerationMatch: source.generation },
      })),
      destination: resource,
    },
  });
  return body as FileMetadata;
}
