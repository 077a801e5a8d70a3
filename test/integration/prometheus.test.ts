/**
 * The metrics as Prometheus itself takes them, on a 3-node cluster of gateway processes:
 *  - `promtool check metrics` (Debian's prometheus package) passes on every node's
 *    /_ringcache/metrics after reads, writes, forwarded requests and a preload job;
 *  - a real Prometheus server (/usr/bin/prometheus, temp dir, loopback, stopped by PID) scrapes
 *    the three nodes, and hit-ratio expressions queried through its HTTP API give what the
 *    nodes' own counters say.
 * Without the package the tests are skipped with the reason; in CI (CI=true) they fail.
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { JobsClient } from '../../src/cli/jobs-client';
import { isFinished } from '../../src/jobs/job-types';
import { ADMIN, bodyBytes } from '../helpers/gateway';
import { metricValue, startTestCluster, waitFor, waitForRings, type TestCluster } from '../helpers/cluster-processes';
import { prometheusMissing, promtoolCheckMetrics, startPrometheus, type PrometheusServer } from '../servers/prometheus';

const Bucket = 'scraped';
const OBJECTS = 12;
const LOOKUPS = 'ringcache_cache_page_lookups_total';
const HITS = `${LOOKUPS}{result=~"memory|disk"}`;

const missing = prometheusMissing();
const describeWithPrometheus = missing && process.env.CI !== 'true' ? describe.skip : describe;
if (missing && process.env.CI !== 'true') console.warn(`prometheus tests skipped: ${missing} (CI installs it)`);

describeWithPrometheus('metrics that lint, scraped by a real Prometheus', () => {
  let cluster: TestCluster;
  let prometheus: PrometheusServer | undefined;

  beforeAll(async () => {
    cluster = await startTestCluster(3);
    await waitForRings(cluster.nodes, 3);
    const s3 = cluster.client(cluster.nodes[0]);
    await s3.send(new CreateBucketCommand({ Bucket }));
    for (let i = 0; i < OBJECTS; i++) await s3.send(new PutObjectCommand({ Bucket, Key: `obj/${i}`, Body: Buffer.alloc(48 * 1024, i) }));
    // A preload job (job counters), then reads through every node (forwarded ones too).
    const jobs = new JobsClient(cluster.nodes[1].url, { ...ADMIN, region: 'us-east-1' });
    const job = await jobs.submit({ bucket: Bucket, prefix: 'obj/' });
    await waitFor(async () => isFinished((await jobs.get(job.id)).state), 60_000, 'the preload job to finish');
    for (let i = 0; i < OBJECTS; i++) await bodyBytes((await cluster.client(cluster.nodes[i % 3]).send(new GetObjectCommand({ Bucket, Key: `obj/${i}` }))).Body);
    // An error answer (status 404) among the request counters.
    await s3.send(new GetObjectCommand({ Bucket, Key: 'none' })).catch(() => undefined);
  }, 120_000);

  afterAll(async () => {
    await prometheus?.stop();
    await cluster?.stop();
  });

  test('promtool check metrics passes on every node', async () => {
    for (const node of cluster.nodes) {
      const text = await cluster.metrics(node);
      // The series this suite is about are there (so the lint ran on them).
      for (const name of ['ringcache_cache_resident_pages', 'ringcache_cache_resident_bytes', 'ringcache_cache_quota_bytes', 'ringcache_jobs_keys_total', 'ringcache_jobs_bytes_total', LOOKUPS]) {
        expect(text).toContain(`# TYPE ${name} `);
      }
      // Gone: a lifetime ratio gauge, a gauge mixing units, a gauge that dropped with expired jobs, gauges named _total.
      expect(text).not.toMatch(/^ringcache_cache_hit_ratio|^ringcache_cache_resident\{|^ringcache_jobs_bytes\{|^ringcache_nodejs_active_\w+_total/m);
      expect(promtoolCheckMetrics(text)).toEqual({ status: 0, output: '' });
    }
  });

  test('Prometheus scrapes the three nodes, and the hit ratio from its counters matches the nodes', async () => {
    prometheus = await startPrometheus({
      targets: cluster.nodes.map((n) => ({ address: `127.0.0.1:${n.port}`, labels: { node: n.id } })),
      metricsPath: '/_ringcache/metrics',
      scrapeIntervalSeconds: 1,
    });
    const p = prometheus;
    const scalar = async (expr: string, time?: number): Promise<{ at: number; value: number }> => {
      const result = await p.query(expr, time);
      if (result.length !== 1) throw new Error(`${expr}: ${result.length} series`);
      return { at: result[0].value[0], value: Number(result[0].value[1]) };
    };
    const direct = async (): Promise<{ hits: number; lookups: number }> => {
      let hits = 0;
      let lookups = 0;
      for (const node of cluster.nodes) {
        const text = await cluster.metrics(node);
        hits += metricValue(text, LOOKUPS, { result: 'memory' }) + metricValue(text, LOOKUPS, { result: 'disk' });
        lookups += metricValue(text, LOOKUPS);
      }
      return { hits, lookups };
    };
    /** Waits until Prometheus's latest samples hold `lookups`; returns that evaluation time. */
    const scrapedAt = async (lookups: number): Promise<number> => {
      let at = 0;
      await waitFor(
        async () => {
          const got = await scalar(`sum(${LOOKUPS})`).catch(() => undefined);
          if (got?.value !== lookups) return false;
          at = got.at;
          return true;
        },
        30_000,
        `Prometheus to scrape ${lookups} lookups`,
      );
      return at;
    };

    await waitFor(async () => (await p.targets()).filter((t) => t.health === 'up').length === 3, 30_000, 'three healthy targets');
    expect((await p.query('up')).map((s) => [s.metric.node, s.value[1]]).sort()).toEqual([
      ['node-a', '1'],
      ['node-b', '1'],
      ['node-c', '1'],
    ]);

    const before = await direct();
    const t0 = await scrapedAt(before.lookups);
    // Each object read three more times, through each node in turn (owners count the lookups).
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < OBJECTS; i++) await bodyBytes((await cluster.client(cluster.nodes[(i + round) % 3]).send(new GetObjectCommand({ Bucket, Key: `obj/${i}` }))).Body);
    }
    const after = await direct();
    expect(after.lookups - before.lookups).toBeGreaterThanOrEqual(3 * OBJECTS);
    const t1 = await scrapedAt(after.lookups);
    const expected = (after.hits - before.hits) / (after.lookups - before.lookups);
    expect(expected).toBeGreaterThan(0.9); // every page was cached by the job

    // Exact: the counters' growth between the two scrapes.
    const exact = await scalar(`(sum(${HITS}) - sum(${HITS} @ ${t0})) / (sum(${LOOKUPS}) - sum(${LOOKUPS} @ ${t0}))`, t1);
    expect(exact.value).toBeCloseTo(expected, 9);
    // As the Helm chart's dashboard and alert compute it: rates over a window that covers the reads.
    const window = `${Math.ceil(t1 - t0) + 5}s`;
    const rated = await scalar(`sum(rate(${HITS}[${window}])) / sum(rate(${LOOKUPS}[${window}]))`, t1);
    expect(rated.value).toBeGreaterThan(0);
    expect(rated.value).toBeLessThanOrEqual(1);
    expect(Math.abs(rated.value - expected)).toBeLessThan(0.05);
    // Per node, from the same counters: each owner's own ratio is a number Prometheus can compute.
    const byNode = await p.query(`sum by (node) (increase(${HITS}[${window}])) / sum by (node) (increase(${LOOKUPS}[${window}]) > 0)`, t1);
    expect(byNode.length).toBeGreaterThanOrEqual(1);
    for (const s of byNode) expect(Number(s.value[1])).toBeGreaterThan(0.5);
  }, 120_000);
});
