/**
 * GCS composes at most 32 source objects per call. More parts are composed in a tree: each
 * level concatenates runs of up to 32 consecutive objects into intermediate objects, until
 * at most 32 remain for the final compose. Order is preserved at every level. A run of one
 * object is passed up unchanged (no single-source compose).
 */
import type { FileMetadata } from '@google-cloud/storage';
import { mapLimit, type GcsContext } from './gcs-context';
import { DEFAULT_GCS_CONTENT_TYPE, type GcsResource } from './gcs-metadata';
import { composeObjects, type ComposeSource } from './gcs-requests';

export const MAX_COMPOSE_SOURCES = 32;

interface ComposeStep {
  destination: string;
  sources: string[];
}

/**
 * Levels of compose calls: the calls of one level are independent (may run in parallel);
 * the last level is the single call that writes `finalName`.
 */
export function planComposeTree(
  sources: readonly string[],
  finalName: string,
  intermediateName: (level: number, index: number) => string,
  maxSources = MAX_COMPOSE_SOURCES,
): ComposeStep[][] {
  if (sources.length === 0) throw new RangeError('nothing to compose');
  if (maxSources < 2) throw new RangeError('a compose takes at least two sources');
  const levels: ComposeStep[][] = [];
  let current = [...sources];
  for (let level = 1; current.length > maxSources; level++) {
    const steps: ComposeStep[] = [];
    const next: string[] = [];
    for (let start = 0; start < current.length; start += maxSources) {
      const run = current.slice(start, start + maxSources);
      if (run.length === 1) {
        next.push(run[0]);
        continue;
      }
      const destination = intermediateName(level, steps.length);
      steps.push({ destination, sources: run });
      next.push(destination);
    }
    levels.push(steps);
    current = next;
  }
  levels.push([{ destination: finalName, sources: current }]);
  return levels;
}

interface ComposeTreeResult {
  final: FileMetadata;
  /** Intermediate objects written (to be deleted by the caller). */
  intermediates: string[];
}

/**
 * Composes `sources` (each pinned to its generation) into `finalName` with `finalResource`.
 * Intermediates are plain objects; `intermediates` lists every name the plan may have
 * written, also when a call failed, so the caller can delete them.
 */
export async function composeTree(
  ctx: GcsContext,
  sources: readonly ComposeSource[],
  finalName: string,
  finalResource: GcsResource,
  intermediateName: (level: number, index: number) => string,
  onPlanned: (intermediates: string[]) => void = () => undefined,
): Promise<ComposeTreeResult> {
  const generations = new Map(sources.map((source) => [source.name, source.generation]));
  const plan = planComposeTree(
    sources.map((source) => source.name),
    finalName,
    intermediateName,
  );
  const intermediates = plan.slice(0, -1).flatMap((level) => level.map((step) => step.destination));
  onPlanned(intermediates);
  let final: FileMetadata | undefined;
  for (const level of plan) {
    await mapLimit(level, ctx.concurrency, async (step) => {
      const isFinal = step.destination === finalName;
      const inputs = step.sources.map((name) => ({ name, generation: generations.get(name) as string }));
      const resource = await composeObjects(ctx, step.destination, inputs, isFinal ? finalResource : { contentType: DEFAULT_GCS_CONTENT_TYPE });
      generations.set(step.destination, String(resource.generation));
      if (isFinal) final = resource;
    });
  }
  return { final: final as FileMetadata, intermediates };
}
