/**
 * The Consul emulator's datacenter modes, driven through the real `consul` package: several
 * agents (a node each) over one catalog, an agent that lags (blocking and ?stale answers from its
 * view, ?consistent from the leader), a node whose serfHealth fails, ACL tokens, and an index
 * reset that a blocking client must notice. Every wait is for a condition, with a bound.
 */
import { EventEmitter } from 'node:events';
import Consul from 'consul';
import { ConsulEmulator, startConsulEmulator, type AgentHandle } from '../emulators/consul/consul-emulator';
import { nativeErrorsAreErrors } from '../helpers/native-errors';
import { waitUntil } from '../helpers/wait-until';

nativeErrorsAreErrors();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Entry {
  Node: { Node: string };
  Service: { ID: string };
  Checks: { CheckID: string; Status: string; Output: string; Node: string }[];
}

interface Answer {
  index: number;
  headers: Record<string, string | undefined>;
  entries: Entry[];
}

type HealthOptions = { index?: number; wait?: string; consistent?: boolean; stale?: boolean; passing?: boolean; token?: string };

/** /v1/health/service/:name through the package, with the response headers. */
async function health(client: Consul, service: string, options: HealthOptions = {}): Promise<Answer> {
  const [res, data] = (await client.health.service({
    service,
    passing: options.passing ?? true,
    ...options,
    timeout: 10_000,
    ctx: Object.assign(new EventEmitter(), { includeResponse: true }),
  } as unknown as Parameters<Consul['health']['service']>[0])) as unknown as [{ headers: Record<string, string | undefined> }, Entry[]];
  return { index: Number(res.headers['x-consul-index']), headers: res.headers, entries: data };
}

const ids = (answer: Answer): string[] => answer.entries.map((e) => e.Service.ID);

describe('Consul emulator: one catalog, several agents', () => {
  let emulator: ConsulEmulator;
  let clients: Consul[];

  beforeEach(() => {
    clients = [];
  });

  afterEach(async () => {
    for (const client of clients) client.destroy();
    await emulator?.close();
  });

  function clientOf(agent: { port: number }, token?: string): Consul {
    const client = new Consul({ host: '127.0.0.1', port: agent.port, ...(token ? { defaults: { token } } : {}) });
    clients.push(client);
    return client;
  }

  async function registerPassing(client: Consul, id: string, name = 'svc'): Promise<void> {
    // One change (one index): the check starts passing.
    await client.agent.service.register({ id, name, port: 80, check: { name: 'ttl', ttl: '30s', status: 'passing', timeout: '1s' } as never });
  }

  test('each agent is a node of its own; its agent endpoints only know its own services', async () => {
    emulator = await startConsulEmulator({ nodeName: 'node-1' });
    const agent2 = await emulator.addAgent('node-2');
    const [c1, c2] = [clientOf(emulator), clientOf(agent2)];
    await registerPassing(c1, 'a');
    await registerPassing(c2, 'b');

    for (const client of [c1, c2]) {
      const answer = await health(client, 'svc');
      expect(answer.entries.map((e) => [e.Service.ID, e.Node.Node, e.Checks.map((c) => `${c.Node}/${c.CheckID}`)])).toEqual([
        ['a', 'node-1', ['node-1/serfHealth', 'node-1/service:a']],
        ['b', 'node-2', ['node-2/serfHealth', 'node-2/service:b']],
      ]);
    }
    expect(emulator.services().map((s) => [s.id, s.node])).toEqual([
      ['a', 'node-1'],
      ['b', 'node-2'],
    ]);
    // node-1's agent does not hold b: its check and its registration are unknown there.
    await expect(c1.agent.check.pass({ id: 'service:b' })).rejects.toMatchObject({ statusCode: 404 });
    await expect(c1.agent.service.deregister('b')).rejects.toMatchObject({ statusCode: 404 });
    await c2.agent.service.deregister('b');
    expect(ids(await health(c1, 'svc'))).toEqual(['a']);
    expect(emulator.requests.filter((r) => r.path.startsWith('/v1/agent/')).map((r) => r.agent)).toContain('node-2');
    expect(emulator.unexpected).toEqual([]);
  });

  test('a lagging agent answers blocking and ?stale reads from the past; ?consistent reads the leader', async () => {
    const lagMs = 400;
    emulator = await startConsulEmulator({ nodeName: 'node-1' });
    const lagging = await emulator.addAgent('node-2', { lagMs });
    const [c1, c2] = [clientOf(emulator), clientOf(lagging)];
    await registerPassing(c1, 'a');
    const before = await health(c2, 'svc', { consistent: true });
    expect(ids(before)).toEqual(['a']);
    expect(before.headers['x-consul-effective-consistency']).toBe('consistent');
    await sleep(lagMs + 50); // let node-2's view catch up with a's registration (a lower bound, safe when busy)

    // A blocking query on node-2, from the index it knows: held until node-2 sees the change.
    const blocking = health(c2, 'svc', { index: before.index, wait: '10s' });
    await waitUntil(() => emulator.blockedQueries() === 1, 'the query to be held');
    const changedAt = Date.now();
    await registerPassing(c1, 'b');
    const consistent = await health(c2, 'svc', { consistent: true });
    expect(ids(consistent)).toEqual(['a', 'b']);
    const stale = await health(c2, 'svc', { stale: true });
    expect(ids(stale)).toEqual(['a']);
    expect(stale.index).toBeLessThan(consistent.index);
    expect(stale.headers['x-consul-effective-consistency']).toBe('stale');
    // A default read without index goes to the leader (the agent's view serves only blocking ones).
    expect(ids(await health(c2, 'svc'))).toEqual(['a', 'b']);
    // The leader's agent sees it at once.
    expect(ids(await health(c1, 'svc', { stale: true }))).toEqual(['a', 'b']);

    const seen = await blocking;
    expect(Date.now() - changedAt).toBeGreaterThanOrEqual(lagMs - 20);
    expect(ids(seen)).toEqual(['a', 'b']);
    expect(seen.index).toBe(consistent.index);
    expect(emulator.blockedQueries()).toBe(0);

    const conflicting = await fetch(`${lagging.url}/v1/health/service/svc?stale&consistent`);
    expect([conflicting.status, await conflicting.text()]).toEqual([400, 'Cannot specify ?stale with ?consistent, conflicting semantics.']);
  });

  test('a watch on a lagging agent sees every change, each lagMs late', async () => {
    const lagMs = 250;
    emulator = await startConsulEmulator({ nodeName: 'node-1' });
    const lagging: AgentHandle = await emulator.addAgent('node-2', { lagMs });
    const [c1, c2] = [clientOf(emulator), clientOf(lagging)];
    const watch = c2.watch({ method: c2.health.service, options: { service: 'svc', passing: 'true', wait: '5s' } as never });
    const seen: { at: number; ids: string[] }[] = [];
    watch.on('change', (data: Entry[]) => seen.push({ at: Date.now(), ids: data.map((e) => e.Service.ID) }));
    watch.on('error', (err: unknown) => seen.push({ at: Date.now(), ids: [`error: ${String(err)}`] }));
    try {
      await waitUntil(() => seen.length === 1 && emulator.blockedQueries() === 1, 'the first answer and a held query');
      const registered = Date.now();
      await registerPassing(c1, 'a');
      await waitUntil(() => seen.some((s) => s.ids.join() === 'a'), 'a seen through node-2', 5000);
      expect(seen.find((s) => s.ids.join() === 'a')!.at - registered).toBeGreaterThanOrEqual(lagMs - 20);
      emulator.setLag('node-2', 0);
      await waitUntil(() => emulator.blockedQueries() === 1, 'the watch held again');
      await registerPassing(c1, 'b');
      await waitUntil(() => seen.some((s) => s.ids.join() === 'a,b'), 'a and b seen', 5000);
      expect(seen.every((s) => !s.ids[0]?.startsWith('error'))).toBe(true);
    } finally {
      watch.end();
    }
  });

  test("a node whose serfHealth fails drops out of passing answers, and wakes the watchers", async () => {
    emulator = await startConsulEmulator({ nodeName: 'node-1' });
    const agent2 = await emulator.addAgent('node-2');
    const [c1, c2] = [clientOf(emulator), clientOf(agent2)];
    await registerPassing(c1, 'a');
    await registerPassing(c2, 'b');
    const start = await health(c1, 'svc');
    expect(ids(start)).toEqual(['a', 'b']);

    const blocking = health(c1, 'svc', { index: start.index, wait: '10s' });
    await waitUntil(() => emulator.blockedQueries() === 1, 'the query to be held');
    emulator.failNode('node-2');
    const after = await blocking;
    expect(ids(after)).toEqual(['a']);
    expect(after.index).toBeGreaterThan(start.index);
    const all = await health(c1, 'svc', { passing: false });
    const b = all.entries.find((e) => e.Service.ID === 'b')!;
    expect(b.Checks.map((c) => [c.CheckID, c.Status, c.Output])).toEqual([
      ['serfHealth', 'critical', 'Agent not live or unreachable'],
      ['service:b', 'passing', ''],
    ]);

    emulator.recoverNode('node-2');
    const back = await health(c1, 'svc');
    expect(ids(back)).toEqual(['a', 'b']);
    expect(back.index).toBeGreaterThan(after.index);
  });

  describe('ACLs', () => {
    const tokens = {
      'secret-writer': { write: ['svc'], accessorId: '11111111-2222-4333-8444-555555555555' },
      'secret-reader': { read: true },
      'secret-both': { write: ['svc'], read: true },
    };

    test('agent writes need service:write; Consul\'s 403 texts', async () => {
      emulator = await startConsulEmulator({ acl: { tokens } });
      const put = async (path: string, body: string, token?: string): Promise<[number, string]> => {
        const response = await fetch(`${emulator.url}${path}`, { method: 'PUT', body, headers: token ? { 'x-consul-token': token } : {} });
        return [response.status, await response.text()];
      };
      const registration = JSON.stringify({ ID: 'other-1', Name: 'other', Check: { TTL: '10s' } });
      expect(await put('/v1/agent/service/register', registration)).toEqual([
        403,
        'Permission denied: anonymous token lacks permission \'service:write\' on "other". The anonymous token is used implicitly when a request does not specify a token.',
      ]);
      expect(await put('/v1/agent/service/register', registration, 'no-such-secret')).toEqual([403, 'ACL not found']);
      expect(await put('/v1/agent/service/register', registration, 'secret-writer')).toEqual([
        403,
        'Permission denied: token with AccessorID \'11111111-2222-4333-8444-555555555555\' lacks permission \'service:write\' on "other"',
      ]);
      expect(emulator.services()).toEqual([]);

      // Through the package: the token in X-Consul-Token (or ?token) is what counts.
      const writer = clientOf(emulator, 'secret-writer');
      await registerPassing(writer, 'svc-1');
      const anonymous = clientOf(emulator);
      await expect(anonymous.agent.check.pass({ id: 'service:svc-1' })).rejects.toMatchObject({ statusCode: 403 });
      await expect(anonymous.agent.service.deregister('svc-1')).rejects.toMatchObject({ statusCode: 403 });
      await expect(anonymous.agent.check.pass({ id: 'service:svc-1', token: 'no-such-secret' } as never)).rejects.toMatchObject({
        statusCode: 403,
        message: 'ACL not found',
      });
      // An unknown check is 404 once the token resolves, whatever its rules.
      await expect(writer.agent.check.pass({ id: 'service:nope' })).rejects.toMatchObject({ statusCode: 404 });
      const viaQuery = await fetch(`${emulator.url}/v1/agent/check/fail/service:svc-1?token=secret-writer`, { method: 'PUT' });
      expect(viaQuery.status).toBe(200);
      expect(emulator.services()[0].checks[0].status).toBe('critical');
      await writer.agent.service.deregister('svc-1');
      expect(emulator.services()).toEqual([]);
      expect(emulator.unexpected).toEqual([]);
    });

    test('health answers are filtered, not refused: instances need service:read and node:read', async () => {
      emulator = await startConsulEmulator({ acl: { tokens } });
      await registerPassing(clientOf(emulator, 'secret-writer'), 'svc-1');
      const anonymous = await health(clientOf(emulator), 'svc');
      expect(anonymous.entries).toEqual([]);
      expect(anonymous.headers['x-consul-results-filtered-by-acls']).toBe('true');
      expect(anonymous.index).toBeGreaterThan(1);
      // service:write implies service:read, not node:read.
      expect((await health(clientOf(emulator, 'secret-writer'), 'svc')).entries).toEqual([]);
      const reader = await health(clientOf(emulator, 'secret-reader'), 'svc');
      expect(ids(reader)).toEqual(['svc-1']);
      expect(reader.headers['x-consul-results-filtered-by-acls']).toBeUndefined();
      expect(ids(await health(clientOf(emulator, 'secret-both'), 'svc'))).toEqual(['svc-1']);
      await expect(health(clientOf(emulator, 'no-such-secret'), 'svc')).rejects.toMatchObject({ statusCode: 403, message: 'ACL not found' });
    });
  });

  describe('index reset (a restored snapshot)', () => {
    test('a held query stays held until its wait ends, then reports the lower index; never below 1', async () => {
      emulator = await startConsulEmulator();
      const client = clientOf(emulator);
      await registerPassing(client, 'a');
      const high = await health(client, 'svc');
      expect(high.index).toBeGreaterThanOrEqual(2);
      const held = health(client, 'svc', { index: high.index, wait: '300ms' });
      await waitUntil(() => emulator.blockedQueries() === 1, 'the query to be held');
      emulator.resetIndex(0);
      expect(emulator.blockedQueries()).toBe(1);
      const answer = await held;
      expect(answer.index).toBe(1);
      expect(ids(answer)).toEqual(['a']);
      // Changes count up from the restored index.
      await client.agent.check.fail({ id: 'service:a' });
      expect((await health(client, 'svc', { passing: false })).index).toBe(2);
    });

    test("the package's watch resets to index 0 when the index goes back, and sees the changes after it", async () => {
      emulator = await startConsulEmulator();
      const client = clientOf(emulator);
      await registerPassing(client, 'a');
      // Two more changes, so that the index after the reset stays below the one before.
      await client.agent.check.warn({ id: 'service:a' });
      await client.agent.check.pass({ id: 'service:a' });
      const watch = client.watch({ method: client.health.service, options: { service: 'svc', passing: 'true', wait: '1s' } as never });
      const seen: { index: number; ids: string[] }[] = [];
      watch.on('change', (data: Entry[], res: { headers: Record<string, string> }) =>
        seen.push({ index: Number(res.headers['x-consul-index']), ids: data.map((e) => e.Service.ID) }),
      );
      try {
        await waitUntil(() => seen.length === 1 && emulator.blockedQueries() === 1, 'the first answer and a held query');
        const highIndex = seen[0].index;
        const resetAt = Date.now();
        emulator.resetIndex(1);
        // The held query ends with its wait; the lower index makes the watch start again from 0
        // (the package emits that answer, and the next, index-0 one).
        await waitUntil(() => seen.length >= 2, 'the answer after the reset', 5000);
        expect(seen[1]).toEqual({ index: 1, ids: ['a'] });
        await waitUntil(() => emulator.blockedQueries() === 1 && seen.length === 3, 'the watch held again');
        const queriesAfter = emulator.requests.filter((r) => r.path === '/v1/health/service/svc' && (r.respondedAt ?? Infinity) >= resetAt);
        expect(queriesAfter.map((r) => r.query.index)).toEqual([String(highIndex), '0', '1']);
        await registerPassing(client, 'b');
        await waitUntil(() => seen.some((s) => s.ids.join() === 'a,b'), 'b seen after the reset', 5000);
        expect(seen[seen.length - 1].index).toBe(2);
        expect(highIndex).toBe(4);
      } finally {
        watch.end();
      }
    });
  });
});
