/**
 * ConsulMembership driven through the real `consul` package against the Consul emulator
 * (test/emulators/consul): registration and TTL heartbeats, blocking health queries, TTL
 * lapses, deregistration, agent outages. Short TTLs and waits keep the file fast.
 */
import Consul from 'consul';
import { ConsulMembership, type ConsulConfig } from '../../src/cluster/consul-membership';
import type { MemberInfo } from '../../src/cluster/membership';
import { ConsulEmulator, startConsulEmulator, type RecordedRequest } from '../emulators/consul/consul-emulator';
import { nativeErrorsAreErrors } from '../helpers/native-errors';
import { waitUntil } from '../helpers/wait-until';

interface LogLine {
  level: 'info' | 'warn';
  obj: object;
  msg: string;
}

nativeErrorsAreErrors();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const ids = (members: readonly MemberInfo[]): string[] => members.map((m) => m.id);
const urlOf = (id: string): string => `http://127.0.0.1:${9000 + id.charCodeAt(id.length - 1)}`;
/** The watch's health queries (the lease's consistent reads, `?consistent`, are counted apart). */
const healthRequests = (emulator: ConsulEmulator): RecordedRequest[] =>
  emulator.requests.filter((r) => r.method === 'GET' && r.path === '/v1/health/service/ringcache' && r.query.consistent === undefined);
const passRequests = (emulator: ConsulEmulator, id: string): RecordedRequest[] =>
  emulator.requests.filter((r) => r.path === `/v1/agent/check/pass/service:${id}`);

describe('ConsulMembership against the Consul emulator', () => {
  let emulator: ConsulEmulator;
  let running: ConsulMembership[];
  let clients: Consul[];

  beforeEach(async () => {
    emulator = await startConsulEmulator();
    running = [];
    clients = [];
  });

  afterEach(async () => {
    emulator.clearFaults();
    await Promise.all(running.map((m) => m.stop()));
    for (const client of clients) client.destroy();
    await emulator.close();
  });

  function node(id: string, overrides: Partial<ConsulConfig> = {}): { membership: ConsulMembership; logs: LogLine[] } {
    const logs: LogLine[] = [];
    const membership = new ConsulMembership({
      consul: {
        url: emulator.url,
        serviceName: 'ringcache',
        checkTtlSeconds: 1,
        deregisterCriticalAfterSeconds: 60,
        waitSeconds: 2,
        ...overrides,
      },
      self: { id, url: urlOf(id) },
      log: {
        info: (obj, msg) => logs.push({ level: 'info', obj, msg }),
        warn: (obj, msg) => logs.push({ level: 'warn', obj, msg }),
      },
    });
    running.push(membership);
    return { membership, logs };
  }

  async function startNodes(...names: string[]): Promise<ConsulMembership[]> {
    const memberships = names.map((id) => node(id).membership);
    for (const membership of memberships) await membership.start();
    return memberships;
  }

  /** A registration made with the bare client: a node that passes once, then crashes. */
  async function crashedNode(id: string, ttl: string, deregisterAfter = '60s'): Promise<void> {
    const client = new Consul({ host: '127.0.0.1', port: emulator.port });
    clients.push(client);
    await client.agent.service.register({
      id,
      name: 'ringcache',
      address: '127.0.0.1',
      port: 9999,
      meta: { url: urlOf(id) },
      check: { name: 'crash test', ttl, deregistercriticalserviceafter: deregisterAfter, timeout: '1s' },
    });
    await client.agent.check.pass({ id: `service:${id}` });
  }

  test('each node registers with a TTL check and its URL in Meta, and all see each other', async () => {
    const a = node('node-a', { token: 'secret-token-1234' }).membership;
    const [b, c] = [node('node-b').membership, node('node-c').membership];
    await a.start();
    expect(ids(a.members())).toEqual(['node-a']);
    await b.start();
    await c.start();
    const all = [
      { id: 'node-a', url: urlOf('node-a') },
      { id: 'node-b', url: urlOf('node-b') },
      { id: 'node-c', url: urlOf('node-c') },
    ];
    await waitUntil(() => [a, b, c].every((m) => m.members().length === 3), 'three members everywhere');
    for (const m of [a, b, c]) expect(m.members()).toEqual(all);

    const register = emulator.requests.find((r) => r.path === '/v1/agent/service/register' && r.body.includes('"node-a"'));
    expect(register?.method).toBe('PUT');
    expect(JSON.parse(register!.body)).toEqual({
      ID: 'node-a',
      Name: 'ringcache',
      Address: '127.0.0.1',
      Port: 9000 + 'a'.charCodeAt(0),
      Meta: { url: urlOf('node-a') },
      Check: { Name: 'ringcache heartbeat', TTL: '1s', DeregisterCriticalServiceAfter: '60s' },
    });
    expect(register!.headers['x-consul-token']).toBe('secret-token-1234');
    const registerB = emulator.requests.find((r) => r.path === '/v1/agent/service/register' && r.body.includes('"node-b"'));
    expect(registerB!.headers['x-consul-token']).toBeUndefined();
    expect(emulator.services().map((s) => [s.id, s.checks.map((ch) => [ch.checkId, ch.status, ch.ttlMs])])).toEqual([
      ['node-a', [['service:node-a', 'passing', 1000]]],
      ['node-b', [['service:node-b', 'passing', 1000]]],
      ['node-c', [['service:node-c', 'passing', 1000]]],
    ]);
    expect(emulator.unexpected).toEqual([]);
  });

  test('onChange fires when a node joins, not on heartbeats, and stops after unsubscribe', async () => {
    const [a] = await startNodes('node-a');
    const seen: string[][] = [];
    const unsubscribe = a.onChange((members) => seen.push(ids(members)));
    await node('node-b').membership.start();
    await waitUntil(() => seen.length === 1, 'the join event');
    expect(seen).toEqual([['node-a', 'node-b']]);

    const passesBefore = passRequests(emulator, 'node-a').length + passRequests(emulator, 'node-b').length;
    await sleep(800);
    expect(passRequests(emulator, 'node-a').length + passRequests(emulator, 'node-b').length).toBeGreaterThanOrEqual(
      passesBefore + 4,
    );
    expect(seen).toHaveLength(1);

    unsubscribe();
    await node('node-c').membership.start();
    await waitUntil(() => a.members().length === 3, 'node-c seen by node-a');
    expect(seen).toHaveLength(1);
  });

  test('a node that stops passing its TTL check leaves the others without deregistering', async () => {
    const [a] = await startNodes('node-a');
    await crashedNode('node-x', '1s');
    await waitUntil(() => ids(a.members()).includes('node-x'), 'node-x joining');
    const joined = Date.now();
    await waitUntil(() => !ids(a.members()).includes('node-x'), 'node-x leaving', 4000);
    expect(Date.now() - joined).toBeGreaterThanOrEqual(700);
    expect(ids(a.members())).toEqual(['node-a']);
    // Still registered, only critical: Consul removes it after DeregisterCriticalServiceAfter.
    const x = emulator.services().find((s) => s.id === 'node-x');
    expect(x?.checks).toEqual([expect.objectContaining({ status: 'critical', output: 'TTL expired' })]);
    expect(emulator.requests.some((r) => r.path.includes('deregister'))).toBe(false);
  });

  test('a failing check takes a member out of the ring until its next heartbeat passes', async () => {
    const [a, b] = await startNodes('node-a', 'node-b');
    await waitUntil(() => a.members().length === 2 && b.members().length === 2, 'both members');
    const seen: string[][] = [];
    a.onChange((members) => seen.push(ids(members)));
    await waitUntil(() => emulator.blockedQueries() === 2, 'both watches blocked');
    emulator.failCheck('service:node-b');
    await waitUntil(() => seen.length >= 2, 'the leave and the return', 3000);
    expect(seen.slice(0, 2)).toEqual([['node-a'], ['node-a', 'node-b']]);
    expect(ids(a.members())).toEqual(['node-a', 'node-b']);
  });

  test('stop() deregisters and the others see the node leave at once', async () => {
    const memberships = ['node-a', 'node-b', 'node-c'].map((id) => node(id, { checkTtlSeconds: 5 }).membership);
    for (const m of memberships) await m.start();
    const [a, b, c] = memberships;
    await waitUntil(() => memberships.every((m) => m.members().length === 3), 'three members');
    const stopping = Date.now();
    await c.stop();
    const deregister = emulator.requests.find((r) => r.path === '/v1/agent/service/deregister/node-c');
    expect(deregister).toMatchObject({ method: 'PUT', status: 200 });
    expect(emulator.services().map((s) => s.id)).toEqual(['node-a', 'node-b']);
    await waitUntil(() => a.members().length === 2 && b.members().length === 2, 'node-c gone');
    // Long before the 5 s TTL could have lapsed.
    expect(Date.now() - stopping).toBeLessThan(1000);
    expect(ids(a.members())).toEqual(['node-a', 'node-b']);
    // c's heartbeat and watch are gone: only a's and b's queries are held, nothing more from c.
    await waitUntil(() => emulator.blockedQueries() === 2, "a's and b's watches blocked again");
    const passes = passRequests(emulator, 'node-c').length;
    const healthCalls = healthRequests(emulator).length;
    await sleep(400);
    expect(passRequests(emulator, 'node-c')).toHaveLength(passes);
    expect(emulator.blockedQueries()).toBe(2);
    expect(healthRequests(emulator)).toHaveLength(healthCalls);
  });

  test('health queries block on X-Consul-Index and a change arrives long before the wait ends', async () => {
    const a = node('node-a', { waitSeconds: 5 }).membership;
    await a.start();
    await waitUntil(() => emulator.blockedQueries() === 1, "node-a's watch blocked");
    await sleep(300);
    const joining = Date.now();
    await node('node-b', { waitSeconds: 5 }).membership.start();
    await waitUntil(() => a.members().length === 2, 'node-b seen by node-a');
    expect(Date.now() - joining).toBeLessThan(1000);

    // node-a's query was sent before the join with the index of its first answer and was held until it.
    const held = healthRequests(emulator).find((r) => r.receivedAt < joining && Number(r.query.index) > 0);
    expect(held).toBeDefined();
    expect(held!.query).toMatchObject({ passing: 'true', wait: '5s' });
    expect(held!.status).toBe(200);
    expect(held!.respondedAt! - held!.receivedAt).toBeGreaterThanOrEqual(300);
    expect(held!.respondedAt!).toBeGreaterThanOrEqual(joining);

    // Idle cluster: heartbeats do not change the index, so nobody asks again (no polling).
    await sleep(200);
    const before = healthRequests(emulator).length;
    await sleep(1000);
    expect(healthRequests(emulator)).toHaveLength(before);
    expect(emulator.blockedQueries()).toBe(2);
  });

  test.each(['refuse', 'error'] as const)(
    'an agent outage (%s) keeps the last members, warns once, and the watch recovers',
    async (mode) => {
      const { membership: a, logs } = node('node-a');
      await a.start();
      await node('node-b').membership.start();
      await waitUntil(() => a.members().length === 2, 'two members');
      const seen: string[][] = [];
      a.onChange((members) => seen.push(ids(members)));

      await emulator.setDown(true, mode);
      await sleep(1200);
      expect(ids(a.members())).toEqual(['node-a', 'node-b']);
      expect(seen).toEqual([]);
      const warnings = logs.filter((l) => l.level === 'warn');
      expect(warnings).toHaveLength(1);
      expect(warnings[0].msg).toMatch(/keeping the last known members/);

      await emulator.setDown(false);
      await node('node-c').membership.start();
      await waitUntil(() => ids(a.members()).join() === 'node-a,node-b,node-c', 'node-c seen after the outage', 6000);
      await waitUntil(() => logs.some((l) => l.level === 'info' && l.msg === 'Consul answers again'), 'the recovery logged', 6000);
      expect(logs.filter((l) => l.level === 'warn')).toHaveLength(1);
    },
  );

  test('start() rejects with a clear error when the agent cannot be reached', async () => {
    await emulator.setDown(true);
    const { membership } = node('node-a');
    const error = await membership.start().then(
      () => undefined,
      (err: unknown) => err as Error & { cause?: { code?: string } },
    );
    expect(error?.message).toMatch(/^Consul agent at http:\/\/127\.0\.0\.1:\d+ could not be used to join the cluster: /);
    expect(error?.cause?.code).toBe('ECONNREFUSED');
    expect(membership.members()).toEqual([]);
  });

  describe('agent faults: each a bounded, clean failure', () => {
    const isHealth = (r: RecordedRequest): boolean => r.path === '/v1/health/service/ringcache';
    const isBlockingHealth = (r: RecordedRequest): boolean => isHealth(r) && Number(r.query.index ?? 0) > 0;

    test('a 5xx burst on every endpoint: members kept, one warning, then the node catches up', async () => {
      const { membership: a, logs } = node('node-a');
      await a.start();
      await node('node-b').membership.start();
      await waitUntil(() => a.members().length === 2, 'two members');
      await waitUntil(() => emulator.blockedQueries() === 2, 'both watches blocked');
      emulator.inject({ status: 500, times: 12 });
      emulator.failCheck('service:node-b'); // wakes the held queries: their next ones meet the burst
      await waitUntil(() => emulator.requests.filter((r) => r.fault === 'error').length >= 12, 'the burst to be spent', 15_000);
      await waitUntil(() => ids(a.members()).join() === 'node-a,node-b', 'node-b back after the burst', 15_000);
      const warnings = logs.filter((l) => l.level === 'warn');
      expect(warnings.length).toBeGreaterThanOrEqual(1);
      expect(warnings.every((w) => /keeping the last known members/.test(w.msg))).toBe(true);
      await node('node-c').membership.start();
      await waitUntil(() => a.members().length === 3, 'node-c seen by node-a', 10_000);
    }, 40_000);

    test('a blocking query that never returns is given up after wait + 10 %, and the next one sees the change', async () => {
      const { membership: a, logs } = node('node-a', { waitSeconds: 1 });
      await a.start();
      await waitUntil(() => emulator.blockedQueries() === 1, "node-a's watch blocked");
      // From now on the agent holds node-a's blocking queries forever, twice.
      emulator.inject({ hang: true, match: isBlockingHealth, times: 2 });
      await waitUntil(() => emulator.requests.filter((r) => r.fault === 'hang').length === 2, 'two hung queries', 15_000);
      const hung = emulator.requests.filter((r) => r.fault === 'hang');
      await waitUntil(() => hung[0].closedUnanswered === true, 'the first hung query to be abandoned', 5000);
      expect(ids(a.members())).toEqual(['node-a']);
      await node('node-b', { waitSeconds: 1 }).membership.start();
      await waitUntil(() => a.members().length === 2, 'node-b seen once the agent answers again', 15_000);
      // One warning for the outage of the watch, although heartbeats kept passing meanwhile
      // (they used to clear it, so every hung query warned again), then one recovery line.
      // (The lease's consistent reads may show node-b before the watch answers: wait for the watch.)
      await waitUntil(() => logs.some((l) => l.msg === 'Consul answers again'), 'the watch answering again', 15_000);
      expect(logs.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual(['Consul health watch failed; keeping the last known members']);
      expect(logs.filter((l) => l.msg === 'Consul answers again')).toHaveLength(1);
    }, 40_000);

    test('a health answer cut off mid-body is given up like a hung one; members are kept', async () => {
      const [a] = await startNodes('node-a');
      await waitUntil(() => emulator.blockedQueries() === 1, "node-a's watch blocked");
      emulator.inject({ stallAfter: 20, match: isBlockingHealth });
      await node('node-b').membership.start(); // answers node-a's held query: with 20 bytes, then nothing
      const stalled = await (async () => {
        await waitUntil(() => emulator.requests.some((r) => r.fault === 'stall'), 'the stalled answer', 10_000);
        return emulator.requests.find((r) => r.fault === 'stall') as RecordedRequest;
      })();
      await waitUntil(() => stalled.closedUnanswered === true, 'the stalled answer to be abandoned', 10_000);
      await waitUntil(() => a.members().length === 2, 'node-b seen by the next query', 15_000);
    }, 40_000);

    test('start() against an agent whose health query never returns fails within its bound and leaves nothing registered', async () => {
      emulator.inject({ hang: true, match: isHealth, times: Infinity });
      const { membership } = node('node-a', { waitSeconds: 30 });
      const started = Date.now();
      const error = await membership.start().then(
        () => undefined,
        (err: unknown) => err as Error,
      );
      expect(error?.message).toMatch(/could not be used to join the cluster: no answer within 5000 ms/);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(emulator.services()).toEqual([]);
      await waitUntil(() => emulator.requests.filter(isHealth).every((r) => r.closedUnanswered === true), 'the hung query to be closed');
    }, 30_000);

    test('stop() while a blocking query hangs returns at once and deregisters', async () => {
      const { membership: a } = node('node-a', { waitSeconds: 30 });
      await a.start();
      await waitUntil(() => emulator.blockedQueries() === 1, "node-a's watch blocked");
      emulator.inject({ hang: true, match: isBlockingHealth, times: Infinity });
      emulator.failCheck('service:node-a'); // answers the held query; the next one hangs
      await waitUntil(() => emulator.requests.some((r) => r.fault === 'hang'), 'a hung query');
      const stopping = Date.now();
      await a.stop();
      expect(Date.now() - stopping).toBeLessThan(5000);
      expect(emulator.services()).toEqual([]);
      const hung = emulator.requests.find((r) => r.fault === 'hang') as RecordedRequest;
      await waitUntil(() => hung.closedUnanswered === true, 'the hung query to be closed');
    }, 30_000);
  });

  describe('several agents over one catalog', () => {
    /** The indexes the watch queries sent through `agent` since `since` asked from (each the index of the previous answer). */
    const watchIndexes = (agent: string, since: number): number[] =>
      healthRequests(emulator)
        .filter((r) => r.agent === agent && r.receivedAt >= since)
        .map((r) => Number(r.query.index ?? 0));

    test('a node whose agent lags keeps the newest view: a late watch answer never brings an older member set back', async () => {
      const lagging = await emulator.addAgent('agent-2');
      const a = node('node-a').membership;
      await a.start();
      const { membership: b, logs } = node('node-b', { url: lagging.url });
      await b.start();
      await waitUntil(() => a.members().length === 2 && b.members().length === 2, 'two members everywhere');
      await waitUntil(() => emulator.blockedQueries() === 2, 'both watches held');
      const lagMs = 1500;
      emulator.setLag('agent-2', lagMs);
      const viewsOfB: string[][] = [];
      b.onView((view) => viewsOfB.push(ids(view.members)));

      // Two joins in quick succession, through the first agent. node-b's lease reads (?consistent)
      // reach the leader, so node-b learns of each join before its lagging watch does; the
      // watch then answers lagMs late with the states in between (node-c without node-d).
      const joining = Date.now();
      await node('node-c').membership.start();
      await waitUntil(() => ids(b.members()).includes('node-c'), "node-c in node-b's view", 5000);
      await node('node-d').membership.start();
      await waitUntil(() => ids(b.members()).includes('node-d'), "node-d in node-b's view", 5000);
      const all = ['node-a', 'node-b', 'node-c', 'node-d'];
      await waitUntil(() => a.members().length === 4, 'node-a seeing both');
      // Until node-b's watch has been answered with every state up to now (heartbeats do not move the index).
      const now = await fetch(`${emulator.url}/v1/health/service/ringcache?passing&consistent`);
      const latest = Number(now.headers.get('x-consul-index'));
      await waitUntil(() => watchIndexes('agent-2', joining).some((index) => index >= latest), "node-b's watch catching up", 10_000);
      const firstWithD = viewsOfB.findIndex((v) => v.includes('node-d'));
      expect(viewsOfB.slice(firstWithD)).toEqual(viewsOfB.slice(firstWithD).map(() => all));
      expect(ids(b.members())).toEqual(all);
      expect(logs.filter((l) => /index went back/.test(l.msg))).toEqual([]);
      expect(b.lease.valid()).toBe(true);
    }, 30_000);

    test('an index reset (a restored snapshot) is noticed: the views go on with newer epochs', async () => {
      const second = await emulator.addAgent('agent-2');
      const [a] = await startNodes('node-a');
      const { membership: b, logs } = node('node-b', { url: second.url, waitSeconds: 1 });
      await b.start();
      await waitUntil(() => a.members().length === 2 && b.members().length === 2, 'two members everywhere');
      const before = b.view().epoch;
      emulator.resetIndex(1);
      await node('node-c').membership.start();
      await waitUntil(() => [a, b].every((m) => m.members().length === 3), 'node-c seen after the reset', 10_000);
      expect(b.view().epoch).toBeGreaterThan(before);
      expect(logs.some((l) => /index went back/.test(l.msg))).toBe(true);
      expect(b.lease.valid()).toBe(true);
    }, 30_000);

    test("a failed node (serfHealth critical) leaves everyone's view, its own too, and comes back", async () => {
      const second = await emulator.addAgent('agent-2');
      const [a] = await startNodes('node-a');
      const { membership: b } = node('node-b', { url: second.url });
      await b.start();
      await waitUntil(() => a.members().length === 2 && b.members().length === 2, 'two members everywhere');
      emulator.failNode('agent-2');
      await waitUntil(() => ids(a.members()).join() === 'node-a' && ids(b.members()).join() === 'node-a', 'node-b gone everywhere');
      // node-b is not in the agreed view: no lease extension; the one it had runs out within a TTL.
      await waitUntil(() => !b.lease.valid(), "node-b's lease to run out", 3000);
      emulator.recoverNode('agent-2');
      await waitUntil(() => [a, b].every((m) => m.members().length === 2), 'node-b back', 5000);
      await waitUntil(() => b.lease.valid(), "node-b's lease again", 3000);
    }, 30_000);

    test('with ACLs, the configured token registers, passes and reads; a token without node:read sees nobody', async () => {
      await emulator.close();
      emulator = await startConsulEmulator({
        acl: { tokens: { 'ringcache-secret': { write: ['ringcache'], read: true }, 'write-only': { write: ['ringcache'] } } },
      });
      const a = node('node-a', { token: 'ringcache-secret' }).membership;
      await a.start();
      expect(ids(a.members())).toEqual(['node-a']);
      await waitUntil(() => a.lease.valid(), "node-a's lease");
      const { membership: w, logs } = node('node-w', { token: 'write-only' });
      await w.start(); // registered, but its reads come back empty (filtered)
      expect(w.members()).toEqual([]);
      await waitUntil(() => a.members().length === 2, 'node-w seen by node-a');
      expect(w.lease.valid()).toBe(false);
      expect(logs.filter((l) => l.level === 'warn')).toEqual([]);
      const anonymous = node('node-x').membership;
      const error = await anonymous.start().then(
        () => undefined,
        (err: unknown) => err as Error & { cause?: { statusCode?: number } },
      );
      expect(error?.message).toMatch(/could not be used to join the cluster: forbidden/);
      expect(error?.cause?.statusCode).toBe(403);
    }, 30_000);
  });

  test('a node the agent forgot registers again on its next heartbeat', async () => {
    const [a] = await startNodes('node-a');
    const { membership: b, logs } = node('node-b');
    await b.start();
    await waitUntil(() => a.members().length === 2, 'two members');
    const client = new Consul({ host: '127.0.0.1', port: emulator.port });
    clients.push(client);
    await client.agent.service.deregister('node-b'); // as after an agent restart that lost its state
    await waitUntil(() => a.members().length === 1, 'node-b gone');
    await waitUntil(() => a.members().length === 2, 'node-b back', 3000);
    expect(logs.some((l) => l.msg === 'Consul agent forgot this node; registering again')).toBe(true);
    expect(passRequests(emulator, 'node-b').some((r) => r.status === 404)).toBe(true);
  });
});

describe('Consul emulator', () => {
  let emulator: ConsulEmulator;
  let client: Consul;

  beforeEach(async () => {
    emulator = await startConsulEmulator({ deregisterIntervalMinMs: 0, reapIntervalMs: 50 });
    client = new Consul({ host: '127.0.0.1', port: emulator.port });
  });

  afterEach(async () => {
    client.destroy();
    await emulator.close();
  });

  async function put(path: string, body?: string): Promise<{ status: number; type: string | null; text: string }> {
    const response = await fetch(`${emulator.url}${path}`, { method: 'PUT', body });
    return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
  }

  test('rejects bad registrations and unknown checks with Consul\'s plain-text errors', async () => {
    expect(await put('/v1/agent/service/register', '{"Name":')).toMatchObject({
      status: 400,
      type: 'text/plain; charset=utf-8',
      text: expect.stringMatching(/^Request decode failed: /),
    });
    expect(await put('/v1/agent/service/register', '{"ID":"x"}')).toMatchObject({ status: 400, text: 'Missing service name' });
    expect(await put('/v1/agent/service/register', '{"Name":"s","Port":"80"}')).toMatchObject({
      status: 400,
      text: 'Request decode failed: json: cannot unmarshal string into Go struct field ServiceDefinition.Port of type int',
    });
    expect(await put('/v1/agent/service/register', '{"Name":"s","Meta":{"consul-x":"1"}}')).toMatchObject({
      status: 400,
      text: "Invalid Service Meta: Couldn't load metadata pair ('consul-x', '1'): Key prefix 'consul-' is reserved for internal use",
    });
    expect(await put('/v1/agent/service/register', '{"Name":"s","Check":{"TTL":"soon"}}')).toMatchObject({
      status: 400,
      text: 'Request decode failed: time: invalid duration "soon"',
    });
    expect(await put('/v1/agent/service/register', '{"Name":"s","Check":{"Notes":"n"}}')).toMatchObject({
      status: 400,
      text: 'Invalid check: TTL must be > 0 for TTL checks',
    });
    expect(await put('/v1/agent/check/pass/service:nope')).toMatchObject({
      status: 404,
      text: 'Unknown check ID "service:nope". Ensure that the check ID is passed, not the check name.',
    });
    expect(await put('/v1/agent/service/deregister/nope')).toMatchObject({ status: 404 });
    const badWait = await fetch(`${emulator.url}/v1/health/service/s?index=1&wait=forever`);
    expect([badWait.status, await badWait.text()]).toEqual([400, 'Invalid wait time']);
    expect(emulator.services()).toEqual([]);
    expect(emulator.unexpected).toEqual([]);
  });

  test('TTL checks start critical, pass, update, expire, and a long-critical service is reaped', async () => {
    await client.agent.service.register({
      id: 'svc-1',
      name: 'svc',
      port: 80,
      check: { name: 'ttl', ttl: '300ms', deregistercriticalserviceafter: '400ms', timeout: '1s' },
    });
    const status = (): string | undefined => emulator.services()[0]?.checks[0]?.status;
    expect(status()).toBe('critical');
    expect(await client.health.service({ service: 'svc', passing: true })).toEqual([]);
    await client.agent.check.pass({ id: 'service:svc-1', note: 'fine' });
    expect(status()).toBe('passing');
    const [entry] = (await client.health.service({ service: 'svc', passing: true })) as {
      Service: { ID: string; Address: string; Meta: unknown };
      Node: { Address: string };
      Checks: { CheckID: string; Status: string; Output: string }[];
    }[];
    expect(entry.Service).toMatchObject({ ID: 'svc-1', Address: '', Meta: null });
    expect(entry.Node.Address).toBe('127.0.0.1');
    expect(entry.Checks.map((c) => [c.CheckID, c.Status, c.Output])).toEqual([
      ['serfHealth', 'passing', 'Agent alive and reachable'],
      ['service:svc-1', 'passing', 'fine'],
    ]);
    expect(await put('/v1/agent/check/update/service:svc-1', '{"Status":"bogus"}')).toMatchObject({
      status: 400,
      text: "Invalid check status: 'bogus'",
    });
    expect(await put('/v1/agent/check/update/service:svc-1', '{"Status":"warning","Output":"slow"}')).toMatchObject({
      status: 200,
    });
    expect(status()).toBe('warning');
    await waitUntil(() => status() === 'critical', 'the TTL to lapse', 1000);
    expect(emulator.services()[0].checks[0].output).toBe('TTL expired (last output before timeout follows): slow');
    await waitUntil(() => emulator.services().length === 0, 'the reaper', 2000);
  });
});
