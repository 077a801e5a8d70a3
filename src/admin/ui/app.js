// The Ringcache dashboard: log in with an admin key, then every 2 s read the ring, every
// node's last minutes, the jobs and the buckets from this node's admin API, each call signed
// with SigV4 in the page (sigv4.js). See docs/dashboard.md.
import { fillBar, lineChart } from './charts.js';
import { bytes, duration, fill, h, number, percent, span } from './format.js';
import { amzDates, canonicalQuery, cryptoSource, fromHex, signedHeaders, signingKey, toHex, uriEncode } from './sigv4.js';

const API = '/_ringcache';
const REGION = 'us-east-1';
const SESSION = 'ringcache.dashboard.session';
const REFRESH_MS = 2000;
const COLORS = { memory: '#4e79a7', disk: '#f28e2b', peer: '#59a14f', store: '#e15759', calls: '#76b7b2', latency: '#b07aa1', errors: '#e15759', client: '#edc948' };

/** The session: the access key id and one day's signing key (the secret itself is kept only in `secret`, in memory). */
let session = null;
let secret = null;
/** Server time minus this browser's time, from the Date header of the last answer. */
let skewMs = 0;
let timer = null;
let refreshing = false;
let ticks = 0;
let buckets = [];

class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

const now = () => new Date(Date.now() + skewMs);

function loadSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION) || 'null');
    if (saved && saved.accessKeyId && saved.day && saved.key) return saved;
  } catch {
    // a damaged entry: log in again
  }
  return null;
}

async function startSession(accessKeyId, secretAccessKey) {
  const { day } = amzDates(now());
  const key = await signingKey(secretAccessKey, day, REGION);
  session = { accessKeyId, day, key: toHex(key) };
  secret = secretAccessKey;
  sessionStorage.setItem(SESSION, JSON.stringify(session));
}

/** The signing key for today; at midnight UTC a new one from the secret, if this page still holds it. */
async function currentKey() {
  const { day } = amzDates(now());
  if (session.day !== day) {
    if (!secret) throw new ApiError(401, 'SessionExpired', 'The day changed (UTC): log in again.');
    await startSession(session.accessKeyId, secret);
  }
  return fromHex(session.key);
}

/** A signed call of the admin API: JSON in, JSON out; throws ApiError. */
async function api(method, path, { query = [], body } = {}, retried = false) {
  const text = body === undefined ? '' : JSON.stringify(body);
  const encodedPath = uriEncode(path, true);
  const qs = canonicalQuery(query);
  const headers = await signedHeaders({ method, host: location.host, path: encodedPath, query: qs, body: text, accessKeyId: session.accessKeyId, key: await currentKey(), region: REGION, date: now() });
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${encodedPath}${qs ? `?${qs}` : ''}`, { method, headers, body: body === undefined ? undefined : text, cache: 'no-store' });
  const serverDate = Date.parse(response.headers.get('date') || '');
  if (Number.isFinite(serverDate)) skewMs = serverDate - Date.now();
  const answer = await response.json().catch(() => ({}));
  if (response.ok) return answer;
  // This browser's clock is off: sign again with the server's time (learnt above).
  if (answer.error === 'RequestTimeTooSkewed' && !retried) return api(method, path, { query, body }, true);
  throw new ApiError(response.status, answer.error, answer.message || answer.error);
}

// ---- login ----

function showLogin(message) {
  stopRefresh();
  document.body.dataset.view = 'login';
  fill('login-error', message ? h('p', { class: 'error', role: 'alert' }, message) : null);
  document.getElementById('secret-key').value = '';
}

async function login(event) {
  event.preventDefault();
  const accessKeyId = document.getElementById('access-key').value.trim();
  const secretAccessKey = document.getElementById('secret-key').value;
  if (!accessKeyId || !secretAccessKey) return showLogin('Give an access key id and its secret.');
  await startSession(accessKeyId, secretAccessKey);
  try {
    await api('GET', `${API}/stats`);
  } catch (err) {
    logout();
    return showLogin(loginProblem(err));
  }
  showDashboard();
}

function loginProblem(err) {
  if (err.code === 'InvalidAccessKeyId') return 'Unknown access key.';
  if (err.code === 'SignatureDoesNotMatch') return 'Wrong secret for this access key.';
  if (err.code === 'AccessDenied') return err.message;
  return `Cannot log in: ${err.message}`;
}

function logout() {
  session = null;
  secret = null;
  sessionStorage.removeItem(SESSION);
}

// ---- refresh ----

function showDashboard() {
  document.body.dataset.view = 'dashboard';
  fill('whoami', `${session.accessKeyId} · signing with ${cryptoSource === 'webcrypto' ? 'WebCrypto' : 'JavaScript SHA-256'}`);
  stopRefresh();
  ticks = 0;
  void refresh();
  timer = setInterval(() => void refresh(), REFRESH_MS);
}

function stopRefresh() {
  clearInterval(timer);
  timer = null;
}

async function refresh() {
  if (refreshing || !session) return;
  refreshing = true;
  try {
    const wantBuckets = ticks++ % 5 === 0;
    const [ring, stats, jobs, bucketList] = await Promise.allSettled([
      api('GET', `${API}/cluster/ring`),
      api('GET', `${API}/stats`),
      api('GET', `${API}/jobs`),
      wantBuckets ? api('GET', `${API}/buckets`) : Promise.resolve(null),
    ]);
    const denied = [ring, stats, jobs].find((r) => r.status === 'rejected' && [401, 403].includes(r.reason.status) && r.reason.code !== 'AccessDenied');
    if (denied) {
      logout();
      return showLogin(loginProblem(denied.reason));
    }
    if (bucketList.status === 'fulfilled' && bucketList.value) buckets = bucketList.value.buckets;
    renderRing(ring, stats);
    renderNodes(stats);
    renderJobs(jobs);
    renderBuckets(bucketList.status === 'rejected' ? bucketList : null);
    fill('updated', `updated ${now().toISOString().slice(11, 19)} UTC`);
  } finally {
    refreshing = false;
  }
}

const failed = (result) => h('p', { class: 'error' }, `Could not read: ${result.reason.message}`);

// ---- the ring ----

function renderRing(ring, stats) {
  if (ring.status === 'rejected') return fill('ring-body', failed(ring));
  const view = ring.value;
  const nodes = new Map(stats.status === 'fulfilled' ? stats.value.nodes.map((n) => [n.id, n]) : []);
  const suspects = view.members.filter((m) => m.suspect).length;
  fill(
    'ring-body',
    h(
      'p',
      { class: 'summary' },
      h('strong', {}, `${view.members.length} member${view.members.length === 1 ? '' : 's'}`),
      ` · ring version `,
      h('code', { dataset: { ringVersion: view.version } }, view.version),
      ` · changed ${view.changedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')} · seen from ${view.self}`,
      suspects ? h('span', { class: 'badge warn' }, `${suspects} suspect`) : null,
      view.detached ? h('span', { class: 'badge bad' }, 'this node is detached: it owns no keys') : null,
    ),
    h(
      'table',
      { class: 'ring' },
      h('thead', {}, h('tr', {}, ['member', 'URL', 'health', 'version', 'ring', 'share of keys', 'uptime'].map((t) => h('th', {}, t)))),
      h(
        'tbody',
        {},
        view.members.map((m) => {
          const n = nodes.get(m.id);
          const health = m.suspect ? ['suspect', 'warn'] : !n ? ['unknown', 'warn'] : !n.reachable ? ['unreachable', 'bad'] : n.ready === false ? ['starting', 'warn'] : ['up', 'good'];
          const otherRing = n && n.reachable && n.ringVersion !== view.version;
          return h(
            'tr',
            { dataset: { member: m.id, health: health[0] } },
            h('td', {}, m.id, m.self ? h('span', { class: 'badge' }, 'this node') : null),
            h('td', {}, h('code', {}, m.url)),
            h('td', {}, h('span', { class: `badge ${health[1]}`, title: n && n.error ? n.error : '' }, health[0])),
            h('td', {}, n && n.version ? n.version : '–'),
            h('td', {}, n && n.ringVersion ? h('code', { class: otherRing ? 'warn-text' : '' }, n.ringVersion) : '–'),
            h('td', {}, h('div', { class: 'share' }, h('div', { class: 'bar' }, h('div', { class: 'bar-used ok', style: { width: `${(m.share * 100).toFixed(1)}%` } })), percent(m.share))),
            h('td', {}, n && n.uptimeSeconds !== undefined ? duration(n.uptimeSeconds) : '–'),
          );
        }),
      ),
    ),
  );
}

// ---- nodes ----

function renderNodes(stats) {
  if (stats.status === 'rejected') return fill('nodes-body', failed(stats));
  fill('nodes-body', stats.value.nodes.map(nodeCard));
}

function nodeCard(n) {
  if (!n.reachable) {
    return h('article', { class: 'node down', dataset: { node: n.id } }, h('h3', {}, n.id), h('p', { class: 'error' }, `unreachable from this node: ${n.error}`));
  }
  const s = n.samples;
  const per = (pick) => s.map((x) => (x.seconds > 0 ? pick(x) / x.seconds : null));
  const hitRatio = s.map((x) => {
    const lookups = x.lookups.memory + x.lookups.disk + x.lookups.miss;
    return lookups > 0 ? (x.lookups.memory + x.lookups.disk) / lookups : null;
  });
  const window = s.reduce(
    (w, x) => ({
      lookups: w.lookups + x.lookups.memory + x.lookups.disk + x.lookups.miss,
      hits: w.hits + x.lookups.memory + x.lookups.disk,
      clientErrors: w.clientErrors + x.clientErrors,
      serverErrors: w.serverErrors + x.serverErrors,
      storeErrors: w.storeErrors + x.storeErrors,
      storeCalls: w.storeCalls + x.storeCalls,
      cacheErrors: w.cacheErrors + x.cacheErrors,
      staleAnswers: w.staleAnswers + x.staleAnswers,
      seconds: w.seconds + x.seconds,
    }),
    { lookups: 0, hits: 0, clientErrors: 0, serverErrors: 0, storeErrors: 0, storeCalls: 0, cacheErrors: 0, staleAnswers: 0, seconds: 0 },
  );
  const t = n.totals;
  const totalLookups = t.lookups.memory + t.lookups.disk + t.lookups.miss;
  const minutes = window.seconds > 0 ? `last ${duration(window.seconds)}` : `sampled every ${n.intervalSeconds} s: the first sample is on its way`;
  return h(
    'article',
    { class: 'node', dataset: { node: n.id, samples: String(s.length) } },
    h(
      'header',
      {},
      h('h3', {}, n.id, n.self ? h('span', { class: 'badge' }, 'this node') : null),
      h('span', { class: 'muted' }, `${n.url} · v${n.version} · up ${duration(n.uptimeSeconds)} · ${minutes}`),
    ),
    h(
      'div',
      { class: 'kpis' },
      kpi('hit ratio', window.lookups > 0 ? percent(window.hits / window.lookups) : '–', `${window.lookups} page lookups; since start ${totalLookups > 0 ? percent((t.lookups.memory + t.lookups.disk) / totalLookups) : '–'}`, 'hit-ratio'),
      kpi('4xx / 5xx', `${window.clientErrors} / ${window.serverErrors}`, `since start ${t.clientErrors} / ${t.serverErrors}`, 'errors'),
      kpi('store failures', `${window.storeErrors}`, `of ${window.storeCalls} calls; since start ${t.storeErrors}`, 'store-errors'),
      kpi('cache errors · stale', `${window.cacheErrors} · ${window.staleAnswers}`, `since start ${t.cacheErrors} · ${t.staleAnswers}`, 'cache-errors'),
    ),
    h(
      'div',
      { class: 'charts' },
      lineChart({ title: 'hit ratio', series: [{ name: 'hits', color: COLORS.memory, values: hitRatio }], format: (v) => percent(v, 0), max: 1 }),
      lineChart({
        title: 'bytes served by tier',
        series: ['memory', 'disk', 'peer', 'store'].map((tier) => ({ name: tier, color: COLORS[tier], values: per((x) => x.served[tier]) })),
        format: (v) => `${bytes(v)}/s`,
      }),
      lineChart({
        title: 'store calls',
        series: [
          { name: 'calls', color: COLORS.calls, values: per((x) => x.storeCalls) },
          { name: 'failed', color: COLORS.errors, values: per((x) => x.storeErrors) },
        ],
        format: (v) => `${number(v, 1)}/s`,
      }),
      lineChart({
        title: 'store latency (mean)',
        series: [{ name: 'mean', color: COLORS.latency, values: s.map((x) => (x.storeCalls > 0 ? (x.storeSeconds / x.storeCalls) * 1000 : null)) }],
        format: (v) => `${number(v, v < 10 ? 1 : 0)} ms`,
      }),
      lineChart({
        title: 'error answers',
        series: [
          { name: '4xx', color: COLORS.client, values: per((x) => x.clientErrors) },
          { name: '5xx', color: COLORS.errors, values: per((x) => x.serverErrors) },
        ],
        format: (v) => `${number(v, 1)}/s`,
      }),
    ),
    n.cache
      ? h(
          'div',
          { class: 'fills' },
          ['memory', 'disk'].map((tier) => {
            const f = n.cache[tier];
            return fillBar({ label: tier, used: f.bytes, quota: f.quotaBytes, text: `${bytes(f.bytes)} of ${bytes(f.quotaBytes)} (${f.quotaBytes > 0 ? percent(f.bytes / f.quotaBytes) : '–'}) · ${f.pages} pages` });
          }),
        )
      : h('p', { class: 'muted' }, 'cache disabled on this node'),
  );
}

const kpi = (label, value, detail, name) => h('div', { class: 'kpi', dataset: { kpi: name } }, h('span', { class: 'kpi-label' }, label), h('span', { class: 'kpi-value' }, value), h('span', { class: 'kpi-detail' }, detail));

// ---- jobs ----

function fractionDone(job) {
  const p = job.progress;
  const filesTotal = p.filesTotal ?? (p.listingComplete ? p.filesListed : null);
  const bytesTotal = p.bytesTotal ?? (p.listingComplete ? p.bytesListed : null);
  if (job.state === 'completed') return 1;
  if (job.spec.options.metadataOnly || bytesTotal === 0) return filesTotal ? Math.min(1, p.filesDone / filesTotal) : filesTotal === 0 ? 1 : null;
  return bytesTotal ? Math.min(1, p.bytesDone / bytesTotal) : null;
}

function renderJobs(jobs) {
  if (jobs.status === 'rejected') return fill('jobs-body', failed(jobs));
  const list = jobs.value.jobs;
  if (list.length === 0) return fill('jobs-body', h('p', { class: 'muted' }, 'No jobs. Start one below, or with `ringcache load BUCKET/PREFIX`.'));
  fill(
    'jobs-body',
    h(
      'table',
      { class: 'jobs' },
      h('thead', {}, h('tr', {}, ['job', 'target', 'state', 'progress', 'files', 'bytes', 'rate', 'ETA', 'failures', ''].map((t) => h('th', {}, t)))),
      h(
        'tbody',
        {},
        list.map((job) => {
          const p = job.progress;
          const fraction = fractionDone(job);
          const more = p.filesTotal === null && !p.listingComplete ? '+' : '';
          const live = job.state === 'running' || job.state === 'queued';
          const failures = p.recentFailures.map((f) => `${f.key}: ${f.error} (${f.attempts} attempt${f.attempts === 1 ? '' : 's'})`).join('\n');
          return h(
            'tr',
            { dataset: { job: job.id, state: job.state, percent: fraction === null ? '' : String(Math.floor(fraction * 100)) } },
            h('td', {}, h('code', {}, job.id), h('div', { class: 'muted' }, `by ${job.submittedBy} on ${job.coordinator}`)),
            h('td', {}, h('code', {}, `${job.spec.bucket}/${job.spec.prefix}`)),
            h('td', {}, h('span', { class: `badge state-${job.state}`, title: job.reason || '' }, job.state)),
            h('td', { class: 'progress-cell' }, h('div', { class: 'bar' }, h('div', { class: `bar-used ${job.state === 'failed' ? 'full' : 'ok'}`, style: { width: `${((fraction ?? 0) * 100).toFixed(1)}%` } })), h('span', { class: 'progress-text' }, fraction === null ? '?%' : `${Math.floor(fraction * 100)}%`)),
            h('td', {}, `${p.filesDone} / ${p.filesTotal ?? p.filesListed}${more}`, h('div', { class: 'muted' }, `${p.filesSkipped} skipped`)),
            h('td', {}, `${bytes(p.bytesDone)} / ${bytes(p.bytesTotal ?? p.bytesListed)}${more}`, h('div', { class: 'muted' }, `${bytes(p.bytesLoaded)} loaded`)),
            h('td', {}, `${bytes(p.throughputBytesPerSecond)}/s`),
            h('td', {}, live ? (p.etaSeconds === null ? '–' : duration(p.etaSeconds)) : h('span', { class: 'muted' }, `took ${duration(p.elapsedSeconds)}`)),
            h('td', { class: p.filesFailed ? 'bad-text' : '' }, String(p.filesFailed), failures ? h('details', {}, h('summary', {}, 'last'), h('pre', {}, failures)) : null, job.reason ? h('div', { class: 'muted' }, job.reason) : null),
            h('td', {}, live ? h('button', { type: 'button', class: 'cancel', onclick: () => void cancelJob(job.id) }, 'Cancel') : null),
          );
        }),
      ),
    ),
  );
}

async function cancelJob(id) {
  try {
    await api('DELETE', `${API}/jobs/${id}`);
  } catch (err) {
    fill('job-error', h('p', { class: 'error' }, `Cancel ${id}: ${err.message}`));
  }
  void refresh();
}

async function startJob(event) {
  event.preventDefault();
  const bucket = document.getElementById('load-bucket').value.trim();
  const prefix = document.getElementById('load-prefix').value;
  fill('job-error');
  if (!bucket) return fill('job-error', h('p', { class: 'error' }, 'Choose a bucket.'));
  try {
    const job = await api('POST', `${API}/jobs`, { body: { bucket, prefix } });
    fill('job-error', h('p', { class: 'muted' }, `Started ${job.id}.`));
  } catch (err) {
    fill('job-error', h('p', { class: 'error' }, `Could not start the job: ${err.message}`));
  }
  void refresh();
}

// ---- buckets ----

function renderBuckets(failure) {
  if (failure) return fill('buckets-body', failed(failure));
  const list = document.getElementById('bucket-names');
  list.replaceChildren(...buckets.map((b) => h('option', { value: b.name })));
  if (buckets.length === 0) return fill('buckets-body', h('p', { class: 'muted' }, 'No buckets.'));
  fill(
    'buckets-body',
    h(
      'table',
      { class: 'buckets' },
      h('thead', {}, h('tr', {}, ['bucket', 'mount', 'store', 'metadata TTL', 'serve stale', 'store state (this node)'].map((t) => h('th', {}, t)))),
      h(
        'tbody',
        {},
        buckets.map((b) => {
          const stale = b.serveStale;
          const state = b.health.state;
          return h(
            'tr',
            { dataset: { bucket: b.name } },
            h('td', {}, b.name, b.anonymousRead ? h('span', { class: 'badge' }, 'anonymous read') : null),
            h('td', {}, h('code', { class: 'uri' }, b.uri), h('div', { class: 'muted' }, b.origin === 'mount' ? 'configured mount' : 'dataDir folder')),
            h('td', {}, b.store, h('div', { class: 'muted' }, `${b.timeoutMs / 1000} s timeout · ${b.maxConcurrency} calls`)),
            h('td', {}, span(b.metadataTtlSeconds), h('div', { class: 'muted' }, `not found: ${span(b.negativeTtlSeconds)}`)),
            h('td', { dataset: { serveStale: stale.active ? 'active' : stale.enabled ? 'enabled' : 'off' } }, stale.active ? h('span', { class: 'badge warn' }, 'serving stale') : stale.enabled ? `up to ${span(stale.maxStalenessSeconds)} old` : 'off'),
            h('td', {}, h('span', { class: `badge ${state === 'failing' ? 'bad' : state === 'ok' ? 'good' : ''}` }, state), b.health.lastFailure ? h('div', { class: 'muted' }, `last failure ${b.health.lastFailure} at ${b.health.lastFailureAt.slice(11, 19)}`) : null),
          );
        }),
      ),
    ),
  );
}

// ---- start ----

document.getElementById('login-form').addEventListener('submit', (event) => void login(event));
document.getElementById('logout').addEventListener('click', () => {
  logout();
  showLogin('Logged out.');
});
document.getElementById('load-form').addEventListener('submit', (event) => void startJob(event));

session = loadSession();
if (session && session.day === amzDates(now()).day) showDashboard();
else {
  if (session) logout();
  showLogin(null);
}
