/**
 * `ringcache status`: one look at a running cluster from a terminal, read from the admin
 * endpoints of the node at --endpoint and of each ring member:
 *  - the ring (GET /_ringcache/cluster/ring): version, members, share of the keys, suspects;
 *  - each member's cache (GET <member>/_ringcache/metrics): page hit ratio since it started
 *    (ringcache_cache_page_lookups_total), pages and bytes held per tier against the tier's
 *    quota (ringcache_cache_resident_pages, _resident_bytes, ringcache_cache_quota_bytes);
 *  - the running and queued load jobs (GET /_ringcache/jobs, signed).
 * A member whose metrics cannot be read from here (its advertised address is not reachable
 * from this machine) is shown as such; the command still succeeds.
 */
import { formatBytes, progressLine } from '../jobs/job-format';
import { isFinished, type JobView } from '../jobs/job-types';
import { AdminClient } from './admin-client';
import type { ClientCredentials } from './client-settings';
import { JobsClient } from './jobs-client';
import { parsePrometheusText, sumOf, type Sample } from './prometheus-text';

interface RingMember {
  id: string;
  url: string;
  self: boolean;
  suspect: boolean;
  share: number;
}

interface RingAnswer {
  self: string;
  detached?: boolean;
  version: string;
  changedAt: string;
  members: RingMember[];
}

interface TierFill {
  pages: number;
  bytes: number;
  /** The tier's byte quota (ringcache_cache_quota_bytes); null when the node does not export it. */
  quotaBytes: number | null;
}

interface NodeCacheStatus {
  id: string;
  url: string;
  /** Undefined when this node's metrics could not be read (then `error` says why). */
  cache?: {
    lookups: number;
    hits: { memory: number; disk: number };
    /** Page hits / lookups since the node started; null before any lookup. */
    hitRatio: number | null;
    memory: TierFill;
    disk: TierFill;
  };
  error?: string;
}

interface ClusterStatus {
  endpoint: string;
  ring: RingAnswer;
  nodes: NodeCacheStatus[];
  jobs: JobView[];
}

async function readStatus(endpoint: string, credentials: ClientCredentials): Promise<ClusterStatus> {
  const admin = new AdminClient(endpoint, credentials);
  const ring = await admin.json<RingAnswer>({ path: '/_ringcache/cluster/ring' });
  const [nodes, jobs] = await Promise.all([
    Promise.all(ring.members.map((member) => nodeStatus(member, member.self ? admin : new AdminClient(member.url, credentials, 5000)))),
    new JobsClient(endpoint, credentials).list(),
  ]);
  return { endpoint, ring, nodes, jobs: jobs.filter((job) => !isFinished(job.state)) };
}

async function nodeStatus(member: RingMember, admin: AdminClient): Promise<NodeCacheStatus> {
  let samples: Sample[];
  try {
    samples = parsePrometheusText(await admin.text({ path: '/_ringcache/metrics' }));
  } catch (err) {
    return { id: member.id, url: member.url, error: (err as Error).message };
  }
  const lookups = 'ringcache_cache_page_lookups_total';
  const memory = sumOf(samples, lookups, { result: 'memory' });
  const disk = sumOf(samples, lookups, { result: 'disk' });
  const total = sumOf(samples, lookups);
  return {
    id: member.id,
    url: member.url,
    cache: {
      lookups: total,
      hits: { memory, disk },
      hitRatio: total > 0 ? (memory + disk) / total : null,
      memory: residency(samples, 'memory'),
      disk: residency(samples, 'disk'),
    },
  };
}

/** Pages and bytes held by a tier, and its quota. */
function residency(samples: readonly Sample[], tier: string): TierFill {
  const hasQuota = samples.some((s) => s.name === 'ringcache_cache_quota_bytes' && s.labels.tier === tier);
  return {
    pages: sumOf(samples, 'ringcache_cache_resident_pages', { tier }),
    bytes: sumOf(samples, 'ringcache_cache_resident_bytes', { tier }),
    quotaBytes: hasQuota ? sumOf(samples, 'ringcache_cache_quota_bytes', { tier }) : null,
  };
}

/** "12.0 MiB of 64.0 MiB (18.8%), 48 pages" */
function fill(tier: TierFill): string {
  const quota = tier.quotaBytes === null ? '' : ` of ${formatBytes(tier.quotaBytes)}${tier.quotaBytes > 0 ? ` (${percent(tier.bytes / tier.quotaBytes)})` : ''}`;
  return `${formatBytes(tier.bytes)}${quota}, ${tier.pages} pages`;
}

const percent = (fraction: number): string => `${(fraction * 100).toFixed(1)}%`;

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => `  ${r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')}`.trimEnd());
}

/** The status as lines for a terminal. */
function formatStatus(status: ClusterStatus): string {
  const { ring } = status;
  const lines: string[] = [];
  const suspects = ring.members.filter((m) => m.suspect).length;
  lines.push(`ring ${ring.version} (changed ${ring.changedAt}) seen from ${ring.self} at ${status.endpoint}: ${ring.members.length} member(s)${suspects ? `, ${suspects} suspect` : ''}`);
  if (ring.detached) lines.push('  this node is detached: membership does not list it, so it forwards everything and owns no keys');
  lines.push(
    ...table([
      ['MEMBER', 'URL', 'KEYS', 'STATE'],
      ...ring.members.map((m) => [m.id, m.url, percent(m.share), `${m.suspect ? 'suspect' : 'healthy'}${m.self ? ' (answered this)' : ''}`]),
    ]),
  );
  lines.push('');
  lines.push('cache (since each node started)');
  lines.push(
    ...table([
      ['NODE', 'HIT RATIO', 'LOOKUPS', 'MEMORY', 'DISK'],
      ...status.nodes.map((n) =>
        n.cache
          ? [
              n.id,
              n.cache.hitRatio === null ? '-' : percent(n.cache.hitRatio),
              String(n.cache.lookups),
              fill(n.cache.memory),
              fill(n.cache.disk),
            ]
          : [n.id, `unreadable: ${n.error ?? 'unknown'}`],
      ),
    ]),
  );
  const reachable = status.nodes.filter((n) => n.cache);
  const lookups = reachable.reduce((sum, n) => sum + (n.cache?.lookups ?? 0), 0);
  const hits = reachable.reduce((sum, n) => sum + (n.cache ? n.cache.hits.memory + n.cache.hits.disk : 0), 0);
  if (reachable.length > 1 && lookups > 0) lines.push(`  all ${reachable.length} nodes: ${percent(hits / lookups)} of ${lookups} page lookups were hits`);
  lines.push('');
  if (status.jobs.length === 0) lines.push('jobs: none running or queued');
  else {
    lines.push(`jobs: ${status.jobs.filter((j) => j.state === 'running').length} running, ${status.jobs.filter((j) => j.state === 'queued').length} queued`);
    for (const job of status.jobs) lines.push(`  ${progressLine(job)}  ${job.spec.bucket}/${job.spec.prefix}`);
  }
  return lines.join('\n');
}

export async function statusCommand(options: { endpoint: string; credentials: ClientCredentials; json: boolean }): Promise<string> {
  const status = await readStatus(options.endpoint, options.credentials);
  return options.json ? JSON.stringify(status, null, 2) : formatStatus(status);
}
