/**
 * The few etcd v3 calls membership needs, over etcd's HTTP/JSON gateway (`/v3/...`, keys and
 * values base64, 64-bit numbers as strings), with undici: no gRPC stack. Every call has a
 * deadline; a call that cannot connect to one endpoint tries the next.
 */
import { request } from 'undici';

export interface EtcdKv {
  key: string;
  value: string;
  modRevision: number;
  createRevision: number;
  lease: string | undefined;
}

interface EtcdEvent {
  type: 'PUT' | 'DELETE';
  kv: EtcdKv;
}

class EtcdError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'EtcdError';
  }
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: string | undefined): string => (text === undefined ? '' : Buffer.from(text, 'base64').toString('utf8'));

/** The end of the range of keys starting with `prefix` (its last byte plus one). */
function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i]++;
      return end.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}

type RawKv = { key?: string; value?: string; mod_revision?: string; create_revision?: string; lease?: string };
const toKv = (raw: RawKv): EtcdKv => ({
  key: unb64(raw.key),
  value: unb64(raw.value),
  modRevision: Number(raw.mod_revision ?? 0),
  createRevision: Number(raw.create_revision ?? 0),
  lease: raw.lease === undefined || raw.lease === '0' ? undefined : raw.lease,
});

export class EtcdClient {
  private next = 0;

  constructor(
    private readonly endpoints: readonly string[],
    private readonly timeoutMs: number,
  ) {
    if (endpoints.length === 0) throw new EtcdError('no etcd endpoints');
  }

  async grant(ttlSeconds: number): Promise<{ id: string; ttl: number }> {
    const answer = await this.call<{ ID?: string; TTL?: string; error?: string }>('/v3/lease/grant', { TTL: ttlSeconds });
    if (!answer.ID) throw new EtcdError(`lease grant refused: ${answer.error ?? JSON.stringify(answer)}`);
    return { id: answer.ID, ttl: Number(answer.TTL) };
  }

  /** Renews a lease once; resolves with its new TTL (0: the lease is gone). */
  async keepAlive(id: string): Promise<number> {
    const answer = await this.call<{ result?: { TTL?: string } }>('/v3/lease/keepalive', { ID: id });
    return Number(answer.result?.TTL ?? 0);
  }

  async revoke(id: string): Promise<void> {
    await this.call('/v3/lease/revoke', { ID: id });
  }

  async put(key: string, value: string, lease?: string): Promise<number> {
    const answer = await this.call<{ header?: { revision?: string } }>('/v3/kv/put', { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) });
    return Number(answer.header?.revision ?? 0);
  }

  /** One key, or every key under `key` when `prefix`; linearizable (read through the leader). */
  async range(key: string, prefix = false): Promise<{ revision: number; kvs: EtcdKv[] }> {
    const answer = await this.call<{ header?: { revision?: string }; kvs?: RawKv[] }>('/v3/kv/range', { key: b64(key), ...(prefix ? { range_end: prefixEnd(key) } : {}) });
    return { revision: Number(answer.header?.revision ?? 0), kvs: (answer.kvs ?? []).map(toKv) };
  }

  /** Puts `value` at `key` if its mod revision is still `modRevision` (0: it does not exist). */
  async putIfUnchanged(key: string, modRevision: number, value: string): Promise<{ succeeded: boolean; revision: number }> {
    const answer = await this.call<{ succeeded?: boolean; header?: { revision?: string } }>('/v3/kv/txn', {
      compare: [{ key: b64(key), target: 'MOD', mod_revision: String(modRevision), result: 'EQUAL' }],
      success: [{ request_put: { key: b64(key), value: b64(value) } }],
    });
    return { succeeded: answer.succeeded === true, revision: Number(answer.header?.revision ?? 0) };
  }

  /**
   * Watches every key under `prefix` from `startRevision`, calling `onEvents` for each batch,
   * until `signal` aborts or the stream ends (resolves) or fails (rejects). `onCreated` is
   * called once etcd confirmed the watch.
   */
  async watch(prefix: string, startRevision: number, onEvents: (events: EtcdEvent[], revision: number) => void, signal: AbortSignal, onCreated?: () => void): Promise<void> {
    const endpoint = this.endpoints[this.next % this.endpoints.length];
    const response = await request(`${endpoint}/v3/watch`, {
      method: 'POST',
      body: JSON.stringify({ create_request: { key: b64(prefix), range_end: prefixEnd(prefix), start_revision: String(startRevision) } }),
      headers: { 'content-type': 'application/json' },
      signal,
      headersTimeout: this.timeoutMs,
      bodyTimeout: 0,
    }).catch((err: unknown) => {
      this.next++;
      throw err;
    });
    if (response.statusCode !== 200) {
      const text = await response.body.text();
      throw new EtcdError(`watch answered ${response.statusCode}: ${text.slice(0, 200)}`, response.statusCode);
    }
    let buffered = '';
    for await (const chunk of response.body) {
      buffered += (chunk as Buffer).toString('utf8');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line === '') continue;
        const message = JSON.parse(line) as { result?: { created?: boolean; canceled?: boolean; compact_revision?: string; header?: { revision?: string }; events?: { type?: string; kv?: RawKv }[] }; error?: { message?: string } };
        if (message.error) throw new EtcdError(`watch failed: ${message.error.message ?? JSON.stringify(message.error)}`);
        const result = message.result;
        if (!result) continue;
        if (result.canceled) throw new EtcdError(`watch canceled${result.compact_revision ? ` (compacted at ${result.compact_revision})` : ''}`);
        if (result.created) onCreated?.();
        const events = (result.events ?? []).map((e) => ({ type: e.type === 'DELETE' ? ('DELETE' as const) : ('PUT' as const), kv: toKv(e.kv ?? {}) }));
        if (events.length > 0) onEvents(events, Number(result.header?.revision ?? 0));
      }
    }
  }

  private async call<T>(path: string, body: unknown): Promise<T> {
    let lastError: unknown;
    for (let attempt = 0; attempt < this.endpoints.length; attempt++) {
      const endpoint = this.endpoints[this.next % this.endpoints.length];
      try {
        const response = await request(`${endpoint}${path}`, {
          method: 'POST',
          body: JSON.stringify(body),
          headers: { 'content-type': 'application/json' },
          signal: AbortSignal.timeout(this.timeoutMs),
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
        });
        const text = await response.body.text();
        if (response.statusCode !== 200) throw new EtcdError(`${path} answered ${response.statusCode}: ${text.slice(0, 200)}`, response.statusCode);
        return JSON.parse(text) as T;
      } catch (err) {
        lastError = err;
        // Another member may answer (a 5xx, a connection refused, a timeout).
        this.next++;
      }
    }
    throw lastError instanceof Error ? lastError : new EtcdError(String(lastError));
  }
}
