/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core, against a
 * 3-node cluster of gateway processes. It logs in (a wrong secret first), sees the ring of
 * three healthy members and each node's charts, starts a load job from the page and watches
 * its progress reach 100%, reads the buckets, and saves a screenshot (its path is printed).
 * The page's own SHA-256 and HMAC (for pages that are not a secure context) are checked
 * against WebCrypto in the same browser. Without chromium the test is skipped with the
 * reason; in CI (CI=true) it fails instead.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ADMIN, bodyBytes } from '../helpers/gateway';
import { startTestCluster, waitFor, waitForRings, type TestCluster } from '../helpers/cluster-processes';

const until = waitFor;

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'];
const Bucket = 'dash';
const FILES = 48;

const missing = existsSync(CHROMIUM) ? undefined : `no ${CHROMIUM}: apt-get install chromium`;
const describeWithBrowser = missing && process.env.CI !== 'true' ? describe.skip : describe;
if (missing && process.env.CI !== 'true') console.warn(`dashboard browser test skipped: ${missing} (CI installs it)`);

describeWithBrowser('the dashboard in chromium', () => {
  let cluster: TestCluster;
  let profile: string;
  let context: BrowserContext | undefined;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    cluster = await startTestCluster(3);
    await waitForRings(cluster.nodes, 3);
    const s3 = cluster.client(cluster.nodes[0]);
    await s3.send(new CreateBucketCommand({ Bucket }));
    for (let i = 0; i < FILES; i++) await s3.send(new PutObjectCommand({ Bucket, Key: `data/part-${String(i).padStart(3, '0')}`, Body: Buffer.alloc(256 * 1024 + i * 4096, i) }));
    // Reads through every node, twice: misses then hits, forwarded and local.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 12; i++) await bodyBytes((await cluster.client(cluster.nodes[(i + round) % 3]).send(new GetObjectCommand({ Bucket, Key: `data/part-${String(i).padStart(3, '0')}` }))).Body);
    }
    profile = await mkdtemp(path.join(os.tmpdir(), 'ringcache-chromium-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1440, height: 900 } });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
    await cluster?.stop();
  });

  test('log in, the ring of three, a load job to 100%, the buckets, a screenshot', async () => {
    const node = cluster.nodes[0];
    await page.goto(`${node.url}/_ringcache/ui`);
    expect(new URL(page.url()).pathname).toBe('/_ringcache/ui/');
    await page.locator('#login-form').waitFor({ state: 'visible', timeout: 10_000 });

    // A wrong secret is refused with a clear message, and nothing is kept.
    await page.fill('#access-key', ADMIN.accessKeyId);
    await page.fill('#secret-key', 'not-the-secret');
    await page.click('#login-button');
    await page.locator('#login-error', { hasText: 'Wrong secret for this access key.' }).waitFor({ timeout: 10_000 });
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    // The refused login's 403 was expected; from here on, the console stays clean.
    problems.length = 0;

    await page.fill('#access-key', ADMIN.accessKeyId);
    await page.fill('#secret-key', ADMIN.secretAccessKey);
    await page.click('#login-button');

    // The ring: three members, each up, with its share and version.
    await until(async () => (await page.locator('#ring tr[data-member][data-health="up"]').count()) === 3, 20_000, 'three members up');
    const members = await Promise.all((await page.locator('#ring tr[data-member]').all()).map((row) => row.getAttribute('data-member')));
    expect(members).toEqual(['node-a', 'node-b', 'node-c']);
    const ringText = await page.textContent('#ring');
    expect(ringText).toContain('3 members');
    expect(ringText).toMatch(/\d+\.\d%/);
    // The secret is not kept by the page's storage: only the day's signing key.
    const stored = (await page.evaluate('JSON.stringify({ ...sessionStorage, ...localStorage })')) as string;
    expect(stored).not.toContain(ADMIN.secretAccessKey);
    expect(stored).toContain(ADMIN.accessKeyId);

    // Every node has a card with its charts and its cache fill against its quota.
    await until(async () => (await page.locator('#nodes article[data-node]').count()) === 3, 10_000, 'three node cards');
    const fills = await page.locator('#nodes .fill').allTextContents();
    expect(fills.filter((t) => t.includes('of 64.0 MiB'))).toHaveLength(3);
    expect(fills.filter((t) => t.includes('of 256 MiB'))).toHaveLength(3);

    // A load job from the page; its progress reaches 100%.
    await page.locator(`#buckets tr[data-bucket="${Bucket}"]`).waitFor({ timeout: 15_000 });
    await page.fill('#load-bucket', Bucket);
    await page.fill('#load-prefix', 'data/');
    await page.click('#load-submit');
    const seen = new Set<string>();
    const deadline = Date.now() + 60_000;
    for (;;) {
      const rows = await Promise.all((await page.locator('#jobs tr[data-job]').all()).map(async (row) => ({ state: await row.getAttribute('data-state'), percent: await row.getAttribute('data-percent') })));
      for (const r of rows) seen.add(`${r.state}:${r.percent}`);
      if (rows.some((r) => r.state === 'completed' && r.percent === '100')) break;
      if (rows.some((r) => r.state === 'failed' || r.state === 'cancelled') || Date.now() > deadline) throw new Error(`the job did not complete: ${[...seen].join(', ')}`);
      await page.waitForTimeout(100);
    }
    const jobRow = await page.textContent('#jobs tr[data-job]');
    expect(jobRow).toContain(`${Bucket}/data/`);
    expect(jobRow).toContain(`${FILES} / ${FILES}`);

    // Buckets: the mount, its TTL and serve-stale state.
    const bucketRow = await page.textContent(`#buckets tr[data-bucket="${Bucket}"]`);
    expect(bucketRow).toContain('file:///');
    expect(bucketRow).toContain('up to 24 h old');
    expect(bucketRow).toContain('60 s');

    // After a sampling interval, each node's charts have points (the page refreshes every 2 s).
    await until(async () => (await Promise.all((await page.locator('#nodes article[data-node]').all()).map((a) => a.getAttribute('data-samples')))).every((n) => Number(n) >= 1), 30_000, 'a sample on every node');
    expect(await page.locator('#nodes figure[data-chart]').count()).toBe(15);

    const dir = await mkdtemp(path.join(os.tmpdir(), 'ringcache-dashboard-'));
    const screenshot = path.join(dir, 'dashboard.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    process.stdout.write(`dashboard screenshot: ${screenshot}\n`);
    expect(existsSync(screenshot)).toBe(true);
    expect(problems).toEqual([]);
  }, 180_000);

  test("the page's own SHA-256 and HMAC (for pages that are not a secure context) agree with WebCrypto", async () => {
    // A string, not a function: the test's compiler would turn import() into require().
    const results = (await page.evaluate(`(async () => {
      const own = await import('/_ringcache/ui/sha256.js');
      const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
      const out = [];
      for (const length of [0, 1, 55, 56, 63, 64, 65, 1000, 70000]) {
        const data = new Uint8Array(length).map((_, i) => (i * 31 + length) & 0xff);
        const key = new Uint8Array(1 + (length % 100)).map((_, i) => (i * 7 + 1) & 0xff);
        const sha = hex(new Uint8Array(await crypto.subtle.digest('SHA-256', data)));
        const imported = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
        const mac = hex(new Uint8Array(await crypto.subtle.sign('HMAC', imported, data)));
        out.push({ input: length, sha: hex(own.sha256(data)) === sha, hmac: hex(own.hmacSha256(key, data)) === mac });
      }
      return out;
    })()`)) as { input: number; sha: boolean; hmac: boolean }[];
    expect(results.every((r) => r.sha && r.hmac)).toBe(true);
    expect(results).toHaveLength(9);
  });
});
