/**
 * A small, protocol-faithful Consul datacenter for tests (node:http, in memory, 127.0.0.1 only).
 * It implements the agent and health endpoints the `consul` npm package calls for Ringcache's
 * Consul membership: service register/deregister, TTL check pass/warn/fail/update, and
 * /v1/health/service/:name with real blocking-query semantics (X-Consul-Index, index, wait).
 * One catalog (the servers' state) and one or more agents, each a node of its own with its own
 * port: a service lives on the node of the agent that registered it. An agent may lag behind
 * the servers (its default-consistency answers show the catalog as it was `lagMs` ago; a
 * `?consistent` query reads the leader's current state), a node's serfHealth check can fail
 * (every service on it stops passing), ACL tokens can be enforced, and the index can be reset
 * (a restored snapshot). Anything else is recorded in `unexpected` and answered 501 so gaps are
 * visible. See README.md for what is reproduced.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

interface ConsulEmulatorOptions {
  /** The agent's node name (default "consul-emulator"). */
  nodeName?: string;
  /**
   * Consul's check_deregister_interval_min: a shorter DeregisterCriticalServiceAfter is raised
   * to it (Consul: 1 min).
   */
  deregisterIntervalMinMs?: number;
  /** Consul's check_reap_interval: how often services critical for too long are removed (Consul: 30 s). */
  reapIntervalMs?: number;
  /**
   * ACLs with default policy deny. Tokens are keyed by SecretID (what a client sends in
   * X-Consul-Token or ?token); `anonymous` holds the rules of requests without a token.
   * `write`: service:write on the names listed ("*" for all), which implies service:read on them;
   * `read: true`: service:read and node:read on everything. Health answers list only instances
   * whose service and node the token may read (Consul filters them, it does not refuse). Without
   * this option no token is checked.
   */
  acl?: { tokens: Record<string, AclRules> };
}

interface AclRules {
  write?: string[];
  read?: boolean;
  /** The AccessorID 403 texts name (a fixed UUID-like id derived from the secret when absent). */
  accessorId?: string;
}

/** An extra agent (a node of its own, on a port of its own). */
export interface AgentHandle {
  name: string;
  url: string;
  port: number;
}

export interface RecordedRequest {
  method: string;
  /** Percent-decoded, as Consul's handlers see it ("/v1/agent/check/pass/service:a"). */
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  /** The request body as text ('' when none). */
  body: string;
  receivedAt: number;
  /** Set once answered. */
  status?: number;
  respondedAt?: number;
  /** The client closed the connection before the answer was complete (it gave up). */
  closedUnanswered?: boolean;
  /** Which fault, if any, this request met. */
  fault?: 'error' | 'hang' | 'stall';
  /** The agent (node name) that received it. */
  agent: string;
}

/** A misbehaviour for the next requests that `match` (all when absent). */
interface ConsulFault {
  /** Answer this HTTP status (plain text) instead of handling the request. */
  status?: number;
  /** Never answer (a blocking query that never returns, an agent that hangs). */
  hang?: boolean;
  /** Answer normally, but send only this many bytes of the body, then nothing. */
  stallAfter?: number;
  match?: (request: RecordedRequest) => boolean;
  /** How many matching requests meet it (default 1; Infinity until clearFaults()). */
  times?: number;
}

type CheckStatus = 'passing' | 'warning' | 'critical';

interface ServiceSnapshot {
  id: string;
  /** The node (agent) it lives on. */
  node: string;
  name: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  checks: { checkId: string; name: string; status: CheckStatus; output: string; ttlMs: number }[];
}

interface Service {
  id: string;
  /** The node (agent) it was registered through. */
  node: string;
  name: string;
  tags: string[];
  address: string;
  port: number;
  meta: Record<string, string> | null;
  createIndex: number;
  modifyIndex: number;
}

interface Check {
  checkId: string;
  name: string;
  notes: string;
  serviceId: string;
  status: CheckStatus;
  output: string;
  /** The last output given by the application (quoted when the TTL expires). */
  lastOutput: string;
  ttlMs: number;
  deregisterAfterMs: number;
  criticalSince: number | undefined;
  timer: NodeJS.Timeout | undefined;
  createIndex: number;
  modifyIndex: number;
}

interface Blocked {
  service: string;
  minIndex: number;
  /** How far behind the catalog the answering agent is for this query (0: the leader's state). */
  lagMs: number;
  answer: () => void;
  /** Answers when the change is visible to it, or arranges to look again when it will be. */
  recheck: () => void;
}

/** The catalog as of one index: what a lagging agent answers from. */
interface Snapshot {
  index: number;
  at: number;
  services: Service[];
  checks: Omit<Check, 'timer'>[];
  failedNodes: string[];
  serviceIndexes: [string, number][];
}

interface Agent {
  name: string;
  lagMs: number;
  server: http.Server | undefined;
  port: number;
}

/** A 4xx/5xx answered with a plain-text body, as Consul's HTTP handlers do. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const STATUSES: readonly string[] = ['passing', 'warning', 'critical'];
const DEFAULT_QUERY_MS = 5 * 60_000; // Consul's default wait
const MAX_QUERY_MS = 10 * 60_000; // and its cap
const CHECK_BUF_SIZE = 4096; // Consul truncates check output to this
const META_KEY = /^[a-zA-Z0-9_-]+$/;

export class ConsulEmulator {
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];
  /** "METHOD path: why" of requests outside the emulated API (answered 501). */
  readonly unexpected: string[] = [];
  private readonly nodeName: string;
  private readonly deregisterMinMs: number;
  private readonly reapIntervalMs: number;
  /** The Raft index: every state change takes the next one. */
  private index = 1;
  /** Last index that touched each service name (kept after deregistration, like Consul's index table). */
  private readonly serviceIndexes = new Map<string, number>();
  private readonly servicesById = new Map<string, Service>();
  private readonly checks = new Map<string, Check>();
  private readonly blocked = new Set<Blocked>();
  /** Nodes whose serfHealth check is critical. */
  private readonly failedNodes = new Set<string>();
  /** The catalog after each change, for lagging agents (the last few hundred). */
  private readonly snapshots: Snapshot[] = [];
  private readonly extraAgents = new Map<string, Agent>();
  private readonly mainAgent: Agent;
  private readonly acl: ConsulEmulatorOptions['acl'];
  private server: http.Server | undefined;
  private reaper: NodeJS.Timeout | undefined;
  private down: false | 'refuse' | 'error' = false;
  private listeningPort = 0;
  private readonly faults: ConsulFault[] = [];

  constructor(options: ConsulEmulatorOptions = {}) {
    this.nodeName = options.nodeName ?? 'consul-emulator';
    this.deregisterMinMs = options.deregisterIntervalMinMs ?? 60_000;
    this.reapIntervalMs = options.reapIntervalMs ?? 30_000;
    this.acl = options.acl;
    this.mainAgent = { name: this.nodeName, lagMs: 0, server: undefined, port: 0 };
  }

  /** http://127.0.0.1:<port>: the agent address to configure. */
  get url(): string {
    return `http://127.0.0.1:${this.listeningPort}`;
  }

  get port(): number {
    return this.listeningPort;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.handle(req, res, this.mainAgent));
    this.mainAgent.server = this.server;
    await this.listen(0);
    this.snapshot();
    this.reaper = setInterval(() => this.reap(), this.reapIntervalMs);
    this.reaper.unref();
    return this;
  }

  /**
   * Another agent: a node of its own (`name`), on a port of its own, whose default-consistency
   * health answers show the catalog as it was `lagMs` ago (anti-entropy and stale reads), while
   * `?consistent` reads the current state. Services registered through it live on its node.
   */
  async addAgent(name: string, options: { lagMs?: number } = {}): Promise<AgentHandle> {
    if (name === this.nodeName || this.extraAgents.has(name)) throw new Error(`agent ${name} exists`);
    const agent: Agent = { name, lagMs: options.lagMs ?? 0, server: undefined, port: 0 };
    const server = http.createServer((req, res) => this.handle(req, res, agent));
    agent.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    agent.port = (server.address() as AddressInfo).port;
    this.extraAgents.set(name, agent);
    return { name, url: `http://127.0.0.1:${agent.port}`, port: agent.port };
  }

  /** The node's serfHealth check turns critical: none of its services passes (as when its agent stops gossiping). */
  failNode(name: string): void {
    if (this.failedNodes.has(name)) return;
    this.failedNodes.add(name);
    this.touchNode(name);
  }

  recoverNode(name: string): void {
    if (!this.failedNodes.delete(name)) return;
    this.touchNode(name);
  }

  /**
   * The Raft index goes back to `to` (a snapshot restored on new servers, or a new cluster): every
   * service reports `to` from now on, and new changes count up from it. Held queries stay held
   * until their wait ends (Consul blocks while the index is not above `index`); a client must then
   * see that the index went backwards and start again from 0. Consul never reports an index
   * below 1.
   */
  resetIndex(to = 1): void {
    this.index = Math.max(1, to);
    this.serviceIndexes.clear();
    for (const service of this.servicesById.values()) {
      service.createIndex = Math.min(service.createIndex, this.index);
      service.modifyIndex = Math.min(service.modifyIndex, this.index);
    }
    for (const check of this.checks.values()) {
      check.createIndex = Math.min(check.createIndex, this.index);
      check.modifyIndex = Math.min(check.modifyIndex, this.index);
    }
    // A lagging agent's view restarts from the restored state too.
    this.snapshots.length = 0;
    this.snapshot();
  }

  /** How far behind the catalog an agent's blocking and ?stale answers are from now on. */
  setLag(agentName: string, lagMs: number): void {
    const agent = agentName === this.nodeName ? this.mainAgent : this.extraAgents.get(agentName);
    if (!agent) throw new Error(`no agent ${agentName}`);
    agent.lagMs = lagMs;
  }

  async close(): Promise<void> {
    for (const agent of this.extraAgents.values()) {
      const server = agent.server;
      agent.server = undefined;
      if (server?.listening) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    }
    clearInterval(this.reaper);
    for (const check of this.checks.values()) clearTimeout(check.timer);
    for (const blocked of this.blocked) blocked.answer();
    const server = this.server;
    this.server = undefined;
    if (!server?.listening) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Simulates an agent outage. "refuse" (default): the port stops accepting connections and
   * open ones are reset, as when the agent process is gone. "error": every request is answered
   * 500. TTL clocks keep running meanwhile.
   */
  async setDown(down: boolean, mode: 'refuse' | 'error' = 'refuse'): Promise<void> {
    const server = this.server;
    if (!server) throw new Error('emulator not started');
    if (!down) {
      this.down = false;
      if (!server.listening) await this.listen(this.port);
      return;
    }
    this.down = mode;
    if (mode === 'error') {
      for (const blocked of this.blocked) blocked.answer();
      return;
    }
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** The registered services with their checks, sorted by id. */
  services(): ServiceSnapshot[] {
    return [...this.servicesById.values()]
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((s) => ({
        id: s.id,
        node: s.node,
        name: s.name,
        address: s.address,
        port: s.port,
        tags: [...s.tags],
        meta: { ...s.meta },
        checks: this.checksOf(s.id).map((c) => ({
          checkId: c.checkId,
          name: c.name,
          status: c.status,
          output: c.output,
          ttlMs: c.ttlMs,
        })),
      }));
  }

  /** Marks a check critical now, as if its TTL had just lapsed. */
  failCheck(checkId: string): void {
    const check = this.checks.get(checkId);
    if (!check) throw new Error(`no check ${checkId}`);
    this.expire(check);
  }

  /** Health queries currently held by the blocking-query logic. */
  blockedQueries(): number {
    return this.blocked.size;
  }

  /** The next matching request(s) misbehave (see ConsulFault). */
  inject(fault: ConsulFault): void {
    this.faults.push({ times: 1, ...fault });
  }

  /** Drops the faults not used up (requests already hanging stay so until their client leaves). */
  clearFaults(): void {
    this.faults.length = 0;
  }

  private takeFault(request: RecordedRequest): ConsulFault | undefined {
    const index = this.faults.findIndex((f) => !f.match || f.match(request));
    if (index < 0) return undefined;
    const fault = this.faults[index];
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) this.faults.splice(index, 1);
    return fault;
  }

  private listen(port: number): Promise<void> {
    const server = this.server!;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        this.listeningPort = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  // ---- HTTP ----

  private handle(req: http.IncomingMessage, res: http.ServerResponse, agent: Agent): void {
    const url = new URL(req.url ?? '/', 'http://agent');
    let path = url.pathname;
    try {
      path = decodeURIComponent(path);
    } catch {
      // Go keeps an undecodable path as sent, so does this.
    }
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: '',
      receivedAt: Date.now(),
      agent: agent.name,
    };
    this.requests.push(recorded);
    res.on('finish', () => {
      recorded.status = res.statusCode;
      recorded.respondedAt = Date.now();
    });
    res.on('close', () => {
      if (!res.writableFinished) recorded.closedUnanswered = true;
    });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      recorded.body = Buffer.concat(chunks).toString('utf8');
      const fault = this.takeFault(recorded);
      if (fault?.hang) {
        recorded.fault = 'hang';
        return; // never answered
      }
      if (fault?.stallAfter !== undefined) {
        recorded.fault = 'stall';
        const limit = fault.stallAfter;
        res.end = ((chunk?: unknown) => {
          const bytes = Buffer.isBuffer(chunk) ? chunk : typeof chunk === 'string' ? Buffer.from(chunk) : undefined;
          if (bytes) res.write(bytes.subarray(0, limit));
          return res;
        }) as typeof res.end;
      }
      try {
        if (fault?.status !== undefined) {
          recorded.fault = 'error';
          throw new HttpError(fault.status, `emulator: injected ${fault.status}`);
        }
        if (this.down === 'error') throw new HttpError(500, 'emulator: agent unavailable');
        this.route(recorded, url.searchParams, recorded.body, res, agent);
      } catch (err) {
        const error = err instanceof HttpError ? err : new HttpError(500, String(err));
        if (error.status === 501) this.unexpected.push(`${recorded.method} ${recorded.path}: ${error.message}`);
        res.writeHead(error.status, { 'content-type': 'text/plain; charset=utf-8' }).end(error.message);
      }
    });
  }

  private route(
    request: RecordedRequest,
    query: URLSearchParams,
    body: string,
    res: http.ServerResponse,
    agent: Agent,
  ): void {
    const { method, path } = request;
    const token = (request.headers['x-consul-token'] as string | undefined) ?? query.get('token') ?? undefined;
    const param = (prefix: string): string | undefined =>
      path.startsWith(prefix) && path.length > prefix.length ? path.slice(prefix.length) : undefined;
    const only = (allowed: string): void => {
      if (method !== allowed) throw new HttpError(405, `method ${method} not allowed`);
    };
    let id: string | undefined;
    // An agent endpoint resolves the token, then looks the service or check up among its own
    // node's (unknown: 404), then checks service:write on that service's name.
    const vetCheck = (checkId: string): void => {
      this.resolveToken(token);
      const check = this.localCheck(agent, checkId);
      if (check) this.authorizeWrite(token, this.servicesById.get(check.serviceId)!.name);
      else unknownCheck(checkId);
    };
    if (path === '/v1/agent/service/register') {
      only('PUT');
      const parsed = parseBody(body);
      this.resolveToken(token);
      const name = fields(parsed, 'ServiceDefinition').string('Name');
      if (name !== '') this.authorizeWrite(token, name);
      this.register(parsed, ['', 'true'].includes(query.get('replace-existing-checks') ?? 'absent'), agent.name);
    } else if ((id = param('/v1/agent/service/deregister/')) !== undefined) {
      only('PUT');
      this.resolveToken(token);
      const service = this.localService(agent, id);
      if (service) this.authorizeWrite(token, service.name);
      this.deregister(service, id);
    } else if ((id = param('/v1/agent/check/pass/')) !== undefined) {
      only('PUT');
      vetCheck(id);
      this.updateTtl(id, 'passing', query.get('note') ?? '');
    } else if ((id = param('/v1/agent/check/warn/')) !== undefined) {
      only('PUT');
      vetCheck(id);
      this.updateTtl(id, 'warning', query.get('note') ?? '');
    } else if ((id = param('/v1/agent/check/fail/')) !== undefined) {
      only('PUT');
      vetCheck(id);
      this.updateTtl(id, 'critical', query.get('note') ?? '');
    } else if ((id = param('/v1/agent/check/update/')) !== undefined) {
      only('PUT');
      vetCheck(id);
      const update = fields(parseBody(body), 'checkUpdate');
      const status = update.string('Status');
      if (!STATUSES.includes(status)) throw new HttpError(400, `Invalid check status: '${status}'`);
      let output = update.string('Output');
      if (output.length > CHECK_BUF_SIZE) {
        output = `${output.slice(0, CHECK_BUF_SIZE)} ... (captured ${CHECK_BUF_SIZE} of ${output.length} bytes)`;
      }
      this.updateTtl(id, status as CheckStatus, output);
    } else if ((id = param('/v1/health/service/')) !== undefined) {
      only('GET');
      this.healthService(id, query, res, agent, this.hidesInstances(token));
      return;
    } else {
      throw new HttpError(501, `emulator: ${method} ${path} is not emulated`);
    }
    res.writeHead(200).end();
  }

  // ---- ACLs ----

  /** Default deny when ACLs are on: Consul's 403 texts for an unknown token and a missing permission. */
  /**
   * Resolves the request's token (Consul: an unknown secret is 403 "ACL not found"; no token is
   * the anonymous token). Undefined when ACLs are off.
   */
  private resolveToken(token: string | undefined): { rules: AclRules; accessor: string } | undefined {
    if (!this.acl) return undefined;
    if (token === undefined || token === '') return { rules: this.acl.tokens.anonymous ?? {}, accessor: 'anonymous' };
    const rules = this.acl.tokens[token];
    if (!rules) throw new HttpError(403, 'ACL not found');
    const accessor = rules.accessorId ?? `00000000-0000-4000-8000-${String(hash(token)).padStart(12, '0').slice(-12)}`;
    return { rules, accessor };
  }

  /** service:write on `service`, or Consul's 403 text (acl.PermissionDeniedError). */
  private authorizeWrite(token: string | undefined, service: string): void {
    const resolved = this.resolveToken(token);
    if (!resolved || (resolved.rules.write ?? []).some((w) => w === '*' || w === service)) return;
    const who = resolved.accessor === 'anonymous' ? 'anonymous token' : `token with AccessorID '${resolved.accessor}'`;
    const tail = resolved.accessor === 'anonymous' ? '. The anonymous token is used implicitly when a request does not specify a token.' : '';
    throw new HttpError(403, `Permission denied: ${who} lacks permission 'service:write' on "${service}"${tail}`);
  }

  /**
   * Whether ACLs hide every instance of a health answer from this token: an instance needs
   * service:read and node:read, and only `read: true` grants node:read (service:write alone
   * does not). Consul filters, it does not refuse.
   */
  private hidesInstances(token: string | undefined): boolean {
    const resolved = this.resolveToken(token);
    return resolved !== undefined && resolved.rules.read !== true;
  }

  /** A service registered through this agent (the agent endpoints only know their own node's). */
  private localService(agent: Agent, id: string): Service | undefined {
    const service = this.servicesById.get(id);
    return service?.node === agent.name ? service : undefined;
  }

  private localCheck(agent: Agent, checkId: string): Check | undefined {
    const check = this.checks.get(checkId);
    return check && this.localService(agent, check.serviceId) ? check : undefined;
  }

  // ---- agent endpoints ----

  private register(body: unknown, replaceExistingChecks: boolean, node: string): void {
    const def = fields(body, 'ServiceDefinition');
    const name = def.string('Name');
    if (name === '') throw new HttpError(400, 'Missing service name');
    const address = def.string('Address');
    if (['0.0.0.0', '::', '[::]'].includes(address)) throw new HttpError(400, 'Invalid service address');
    const meta = def.stringMap('Meta');
    const metaError = validateMeta(meta ?? {});
    if (metaError) throw new HttpError(400, `Invalid Service Meta: ${metaError}`);
    const checkDefs = [def.object('Check'), ...def.objects('Checks')]
      .filter((c): c is Fields => c !== undefined && !c.empty())
      .map((c) => checkType(c));
    const id = def.string('ID') || name;
    const previous = this.servicesById.get(id);
    if (previous && previous.node !== node) {
      // Consul keeps one instance per node; this emulator keys services by id alone.
      throw new HttpError(501, `emulator: service ID "${id}" already lives on node ${previous.node} (ids are unique across nodes here)`);
    }
    const index = this.next();
    this.servicesById.set(id, {
      id,
      node,
      name,
      tags: def.strings('Tags'),
      address,
      port: def.integer('Port'),
      meta,
      createIndex: previous?.createIndex ?? index,
      modifyIndex: index,
    });
    const kept = new Set<string>();
    checkDefs.forEach((c, i) => {
      const checkId = c.checkId || `service:${id}${checkDefs.length > 1 ? `:${i + 1}` : ''}`;
      kept.add(checkId);
      const prior = this.checks.get(checkId);
      clearTimeout(prior?.timer);
      // Like the agent, a re-registered check keeps its status and output.
      const status = prior?.status ?? c.status ?? 'critical';
      const check: Check = {
        checkId,
        name: c.name || `Service '${name}' check`,
        notes: c.notes,
        serviceId: id,
        status,
        output: prior?.output ?? '',
        lastOutput: prior?.lastOutput ?? '',
        ttlMs: c.ttlMs,
        deregisterAfterMs: c.deregisterAfterMs > 0 ? Math.max(c.deregisterAfterMs, this.deregisterMinMs) : 0,
        criticalSince: status === 'critical' ? (prior?.criticalSince ?? Date.now()) : undefined,
        timer: undefined,
        createIndex: prior?.createIndex ?? index,
        modifyIndex: index,
      };
      this.checks.set(checkId, check);
      this.armTtl(check);
    });
    if (replaceExistingChecks) {
      for (const check of this.checksOf(id)) if (!kept.has(check.checkId)) this.removeCheck(check);
    }
    this.touch(name, index);
    if (previous && previous.name !== name) this.touch(previous.name, index);
  }

  private deregister(service: Service | undefined, id: string): void {
    if (!service) {
      const hint = 'Ensure that the service ID is passed, not the service name.';
      throw new HttpError(404, `Unknown service ID "${id}". ${hint}`);
    }
    this.removeService(service);
  }

  /** Called after vetCheck: the check exists on this agent. */
  private updateTtl(checkId: string, status: CheckStatus, output: string): void {
    const check = this.checks.get(checkId)!;
    check.lastOutput = output;
    this.armTtl(check);
    this.setStatus(check, status, output);
  }

  // ---- health endpoint (blocking query) ----

  private healthService(
    name: string,
    query: URLSearchParams,
    res: http.ServerResponse,
    agent: Agent,
    hidden: boolean,
  ): void {
    if (query.has('stale') && query.has('consistent')) {
      throw new HttpError(400, 'Cannot specify ?stale with ?consistent, conflicting semantics.');
    }
    let waitMs = DEFAULT_QUERY_MS;
    if (query.get('wait')) {
      const parsed = parseGoDuration(query.get('wait')!);
      if (parsed === undefined) throw new HttpError(400, 'Invalid wait time');
      waitMs = Math.min(parsed, MAX_QUERY_MS);
    }
    let minIndex = 0;
    if (query.get('index')) {
      if (!/^\d+$/.test(query.get('index')!)) throw new HttpError(400, 'Invalid index');
      minIndex = Number(query.get('index'));
    }
    const passing = query.has('passing') ? parseGoBool(query.get('passing')!) : false;
    if (passing === undefined) throw new HttpError(400, 'Invalid value for ?passing');
    const tags = query.getAll('tag');
    const consistency = query.has('consistent') ? 'consistent' : query.has('stale') ? 'stale' : 'leader';
    // What a lagging agent serves from its own view (the streaming backend answers blocking
    // queries from the agent's materialized view; ?stale may be served by a follower); a
    // ?consistent query, and a default one without index, is answered by the leader as of now.
    const lagMs = consistency === 'consistent' || (consistency === 'leader' && minIndex === 0) ? 0 : agent.lagMs;
    const send = (): void => {
      const seen = this.visibleState(lagMs);
      const entries = this.healthEntries(name, passing, tags, seen);
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-consul-index': String(seen ? this.indexIn(seen, name) : this.indexOf(name)),
        'x-consul-knownleader': 'true',
        'x-consul-lastcontact': String(consistency === 'stale' ? lagMs : 0),
        'x-consul-effective-consistency': consistency,
        ...(hidden && entries.length > 0 ? { 'x-consul-results-filtered-by-acls': 'true' } : {}),
      });
      res.end(JSON.stringify(hidden ? [] : entries));
    };
    if (minIndex === 0 || this.visibleIndex(name, lagMs) > minIndex) return send();
    // Held until the service's index (as this agent sees it) passes minIndex, or the wait (plus up
    // to wait/16 of jitter) ends. Like Consul's blockingQuery, an index below minIndex (a reset)
    // also holds the query until the wait ends.
    let lagTimer: NodeJS.Timeout | undefined;
    const blocked: Blocked = {
      service: name,
      minIndex,
      lagMs,
      answer: () => {
        clearTimeout(timer);
        clearTimeout(lagTimer);
        this.blocked.delete(blocked);
        if (res.writableEnded || res.destroyed) return;
        if (this.down === 'error' || !this.server) {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('emulator: agent unavailable');
        } else send();
      },
      recheck: () => {
        clearTimeout(lagTimer);
        if (this.visibleIndex(name, lagMs) > minIndex) return blocked.answer();
        // A change the lagging agent has not seen yet: look again when it becomes visible.
        const at = this.nextVisibleAt(lagMs);
        if (at !== undefined) lagTimer = setTimeout(blocked.recheck, Math.max(1, at - Date.now()));
      },
    };
    const timer = setTimeout(blocked.answer, waitMs + Math.random() * (waitMs / 16));
    this.blocked.add(blocked);
    res.once('close', () => {
      clearTimeout(timer);
      clearTimeout(lagTimer);
      this.blocked.delete(blocked);
    });
    blocked.recheck();
  }

  private healthEntries(name: string, passing: boolean, tags: string[], seen?: Snapshot): unknown[] {
    const services = seen ? seen.services : [...this.servicesById.values()];
    const allChecks = seen ? seen.checks : [...this.checks.values()];
    const failed = new Set(seen ? seen.failedNodes : this.failedNodes);
    const checksOf = (serviceId: string): Omit<Check, 'timer'>[] => allChecks.filter((c) => c.serviceId === serviceId);
    const nodeOf = (nodeName: string): object => ({
      ID: `7e4a3c1e-0000-4000-8000-${String(hash(nodeName)).padStart(12, '0').slice(-12)}`,
      Node: nodeName,
      Address: '127.0.0.1',
      Datacenter: 'dc1',
      TaggedAddresses: { lan: '127.0.0.1', wan: '127.0.0.1' },
      Meta: { 'consul-network-segment': '' },
      CreateIndex: 1,
      ModifyIndex: 1,
    });
    const serfHealth = (nodeName: string): object => ({
      Node: nodeName,
      CheckID: 'serfHealth',
      Name: 'Serf Health Status',
      Status: failed.has(nodeName) ? 'critical' : 'passing',
      Notes: '',
      Output: failed.has(nodeName) ? 'Agent not live or unreachable' : 'Agent alive and reachable',
      ServiceID: '',
      ServiceName: '',
      ServiceTags: [],
      Type: '',
      Definition: {},
      CreateIndex: 1,
      ModifyIndex: 1,
    });
    return services
      .filter((s) => s.name === name && tags.every((t) => s.tags.includes(t)))
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((s) => ({ service: s, checks: checksOf(s.id) }))
      .filter(({ service, checks }) => !passing || (!failed.has(service.node) && checks.every((c) => c.status === 'passing')))
      .map(({ service: s, checks }) => ({
        Node: nodeOf(s.node),
        Service: {
          ID: s.id,
          Service: s.name,
          Tags: s.tags,
          Address: s.address,
          Meta: s.meta,
          Port: s.port,
          Weights: { Passing: 1, Warning: 1 },
          EnableTagOverride: false,
          CreateIndex: s.createIndex,
          ModifyIndex: s.modifyIndex,
        },
        Checks: [
          serfHealth(s.node),
          ...checks.map((c) => ({
            Node: s.node,
            CheckID: c.checkId,
            Name: c.name,
            Status: c.status,
            Notes: c.notes,
            Output: c.output,
            ServiceID: s.id,
            ServiceName: s.name,
            ServiceTags: s.tags,
            Type: 'ttl',
            Definition: {},
            CreateIndex: c.createIndex,
            ModifyIndex: c.modifyIndex,
          })),
        ],
      }));
  }

  // ---- state ----

  private next(): number {
    this.index += 1;
    return this.index;
  }

  private indexOf(service: string): number {
    // A name never registered answers with the catalog's index, as Consul does.
    return this.serviceIndexes.get(service) ?? this.index;
  }

  /** Records a change of `service` at `index` and answers the queries it unblocks (a lagging agent's, once it sees the change). */
  private touch(service: string, index: number): void {
    this.serviceIndexes.set(service, index);
    this.snapshot();
    for (const blocked of [...this.blocked]) blocked.recheck();
  }

  /** The catalog a reader `lagMs` behind sees (undefined: the current state). */
  private visibleState(lagMs: number): Snapshot | undefined {
    return lagMs > 0 ? this.snapshotAsOf(Date.now() - lagMs) : undefined;
  }

  private visibleIndex(service: string, lagMs: number): number {
    const seen = this.visibleState(lagMs);
    return seen ? this.indexIn(seen, service) : this.indexOf(service);
  }

  /** When the next snapshot not yet visible to a reader `lagMs` behind becomes visible to it. */
  private nextVisibleAt(lagMs: number): number | undefined {
    if (lagMs <= 0) return undefined;
    const now = Date.now();
    const next = this.snapshots.find((snap) => snap.at > now - lagMs);
    return next === undefined ? undefined : next.at + lagMs;
  }

  /** A change on a node (its serfHealth): every service on it changes. */
  private touchNode(node: string): void {
    const index = this.next();
    const names = new Set([...this.servicesById.values()].filter((s) => s.node === node).map((s) => s.name));
    if (names.size === 0) this.snapshot();
    for (const name of names) this.touch(name, index);
  }

  private snapshot(): void {
    this.snapshots.push({
      index: this.index,
      at: Date.now(),
      services: [...this.servicesById.values()].map((svc) => structuredClone(svc)),
      checks: [...this.checks.values()].map(({ timer: _timer, ...rest }) => structuredClone(rest)),
      failedNodes: [...this.failedNodes],
      serviceIndexes: [...this.serviceIndexes],
    });
    if (this.snapshots.length > 500) this.snapshots.splice(0, this.snapshots.length - 500);
  }

  /** The catalog as a lagging agent sees it at `time`: the last snapshot taken by then (the oldest kept, if none). */
  private snapshotAsOf(time: number): Snapshot | undefined {
    let seen: Snapshot | undefined = this.snapshots[0];
    for (const snap of this.snapshots) {
      if (snap.at > time) break;
      seen = snap;
    }
    return seen;
  }

  private indexIn(snap: Snapshot, service: string): number {
    return new Map(snap.serviceIndexes).get(service) ?? snap.index;
  }

  private checksOf(serviceId: string): Check[] {
    return [...this.checks.values()].filter((c) => c.serviceId === serviceId);
  }

  private setStatus(check: Check, status: CheckStatus, output: string): void {
    // The agent only syncs a check to the catalog when its status or output changed.
    if (check.status === status && check.output === output) return;
    if (status === 'critical') check.criticalSince ??= Date.now();
    else check.criticalSince = undefined;
    check.status = status;
    check.output = output;
    const index = this.next();
    check.modifyIndex = index;
    const service = this.servicesById.get(check.serviceId);
    if (service) this.touch(service.name, index);
  }

  private armTtl(check: Check): void {
    clearTimeout(check.timer);
    check.timer = setTimeout(() => this.expire(check), check.ttlMs);
    check.timer.unref();
  }

  private expire(check: Check): void {
    const last = check.lastOutput;
    this.setStatus(check, 'critical', last ? `TTL expired (last output before timeout follows): ${last}` : 'TTL expired');
  }

  private removeCheck(check: Check): void {
    clearTimeout(check.timer);
    this.checks.delete(check.checkId);
  }

  private removeService(service: Service): void {
    for (const check of this.checksOf(service.id)) this.removeCheck(check);
    this.servicesById.delete(service.id);
    this.touch(service.name, this.next());
  }

  /** The agent's reaper: services whose check stayed critical past DeregisterCriticalServiceAfter go away. */
  private reap(): void {
    const now = Date.now();
    for (const check of [...this.checks.values()]) {
      const service = this.servicesById.get(check.serviceId);
      if (!service || check.deregisterAfterMs <= 0 || check.criticalSince === undefined) continue;
      if (now - check.criticalSince > check.deregisterAfterMs) this.removeService(service);
    }
  }
}

/** A small stable number for a node name (its fake node ID). */
function hash(text: string): number {
  let h = 7;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) % 1_000_000_007;
  return h;
}

export async function startConsulEmulator(options: ConsulEmulatorOptions = {}): Promise<ConsulEmulator> {
  return new ConsulEmulator(options).start();
}

// ---- request decoding, as lenient and as strict as Consul's ----

interface CheckType {
  checkId: string;
  name: string;
  notes: string;
  status: CheckStatus | undefined;
  ttlMs: number;
  deregisterAfterMs: number;
}

function parseBody(body: string): unknown {
  try {
    return body.trim() === '' ? {} : JSON.parse(body);
  } catch (err) {
    throw new HttpError(400, `Request decode failed: ${(err as Error).message}`);
  }
}

function decodeError(struct: string, field: string, value: unknown, goType: string): HttpError {
  const jsonType = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  const target = `Go struct field ${struct}.${field} of type ${goType}`;
  return new HttpError(400, `Request decode failed: json: cannot unmarshal ${jsonType} into ${target}`);
}

/** Field access the way Go's encoding/json and Consul's snake_case aliases see a JSON object. */
class Fields {
  private readonly values = new Map<string, unknown>();

  constructor(
    raw: Record<string, unknown>,
    private readonly struct: string,
  ) {
    for (const [key, value] of Object.entries(raw)) this.values.set(key.replace(/_/g, '').toLowerCase(), value);
  }

  empty(): boolean {
    return [...this.values.values()].every((v) => v === undefined || v === null || v === '');
  }

  raw(field: string): unknown {
    const value = this.values.get(field.toLowerCase());
    return value === null ? undefined : value;
  }

  string(field: string): string {
    const value = this.raw(field);
    if (value === undefined) return '';
    if (typeof value !== 'string') throw decodeError(this.struct, field, value, 'string');
    return value;
  }

  integer(field: string): number {
    const value = this.raw(field);
    if (value === undefined) return 0;
    if (typeof value !== 'number' || !Number.isInteger(value)) throw decodeError(this.struct, field, value, 'int');
    return value;
  }

  strings(field: string): string[] {
    const value = this.raw(field);
    if (value === undefined) return [];
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      throw decodeError(this.struct, field, value, '[]string');
    }
    return value as string[];
  }

  stringMap(field: string): Record<string, string> | null {
    const value = this.raw(field);
    if (value === undefined) return null;
    if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
      throw decodeError(this.struct, field, value, 'map[string]string');
    }
    return { ...(value as Record<string, string>) };
  }

  object(field: string): Fields | undefined {
    const value = this.raw(field);
    if (value === undefined) return undefined;
    if (!isObject(value)) throw decodeError(this.struct, field, value, 'structs.CheckType');
    return new Fields(value, 'CheckType');
  }

  objects(field: string): Fields[] {
    const value = this.raw(field);
    if (value === undefined) return [];
    if (!Array.isArray(value) || !value.every(isObject)) {
      throw decodeError(this.struct, field, value, 'structs.CheckTypes');
    }
    return value.map((v) => new Fields(v as Record<string, unknown>, 'CheckType'));
  }

  /** A duration given as a Go duration string or a number of nanoseconds; 0 when absent. */
  durationMs(field: string): number {
    const value = this.raw(field);
    if (value === undefined || value === '') return 0;
    if (typeof value === 'number') return value / 1e6;
    if (typeof value !== 'string') throw decodeError(this.struct, field, value, 'time.Duration');
    const ms = parseGoDuration(value);
    if (ms === undefined) throw new HttpError(400, `Request decode failed: time: invalid duration "${value}"`);
    return ms;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fields(body: unknown, struct: string): Fields {
  if (!isObject(body)) {
    const jsonType = Array.isArray(body) ? 'array' : typeof body;
    const target = `Go value of type structs.${struct}`;
    throw new HttpError(400, `Request decode failed: json: cannot unmarshal ${jsonType} into ${target}`);
  }
  return new Fields(body, struct);
}

/** CheckType.Validate(), then the status rule of the register handler. Only TTL checks run here. */
function checkType(c: Fields): CheckType {
  const ttlMs = c.durationMs('TTL');
  const intervalMs = c.durationMs('Interval');
  const intervalCheck = ['HTTP', 'TCP', 'UDP', 'GRPC', 'H2PING', 'Args', 'ScriptArgs'].some((f) => {
    const value = c.raw(f);
    return Array.isArray(value) ? value.length > 0 : Boolean(value);
  });
  if (intervalMs > 0 && ttlMs > 0) throw new HttpError(400, 'Invalid check: Interval and TTL cannot both be specified');
  if (intervalCheck && intervalMs <= 0) {
    throw new HttpError(400, 'Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or GRPC checks');
  }
  if (!intervalCheck && !c.raw('AliasService') && !c.raw('AliasNode') && ttlMs <= 0) {
    throw new HttpError(400, 'Invalid check: TTL must be > 0 for TTL checks');
  }
  const status = c.string('Status');
  if (status !== '' && !STATUSES.includes(status)) {
    throw new HttpError(400, "Status for checks must 'passing', 'warning', 'critical'");
  }
  if (ttlMs <= 0) throw new HttpError(501, 'emulator: only TTL checks are emulated');
  return {
    checkId: c.string('CheckID'),
    name: c.string('Name'),
    notes: c.string('Notes'),
    status: status === '' ? undefined : (status as CheckStatus),
    ttlMs,
    deregisterAfterMs: c.durationMs('DeregisterCriticalServiceAfter'),
  };
}

/** structs.ValidateServiceMetadata for a typical service. */
function validateMeta(meta: Record<string, string>): string | undefined {
  if (Object.keys(meta).length > 64) return 'Node metadata cannot contain more than 64 key/value pairs';
  for (const [key, value] of Object.entries(meta)) {
    const problem =
      key === ''
        ? 'Key cannot be blank'
        : !META_KEY.test(key)
          ? 'Key contains invalid characters'
          : key.length > 128
            ? 'Key is too long (limit: 128 characters)'
            : key.startsWith('consul-')
              ? "Key prefix 'consul-' is reserved for internal use"
              : value.length > 512
                ? 'Value is too long (limit: 512 characters)'
                : undefined;
    if (problem) return `Couldn't load metadata pair ('${key}', '${value}'): ${problem}`;
  }
  return undefined;
}

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1e3,
  m: 6e4,
  h: 3.6e6,
};

/** Go's time.ParseDuration, in milliseconds ("1m30s", "1.5s", "300ms", "0"); undefined when invalid. */
function parseGoDuration(text: string): number | undefined {
  const match = /^([-+]?)(0|(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/.exec(text);
  if (!match) return undefined;
  let total = 0;
  for (const [, amount, unit] of match[2].matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += parseFloat(amount) * DURATION_UNITS_MS[unit];
  }
  return match[1] === '-' ? -total : total;
}

/** Consul's boolean query parameters: present and empty is true, else strconv.ParseBool. */
function parseGoBool(text: string): boolean | undefined {
  if (text === '' || ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

function unknownCheck(checkId: string): never {
  const hint = 'Ensure that the check ID is passed, not the check name.';
  throw new HttpError(404, `Unknown check ID "${checkId}". ${hint}`);
}
