/**
 * The rings this node has held, in order, with the breaks between them: what lets the cache
 * keep what it knows of a key across ring changes that did not move the key, and forget only
 * what moved.
 *
 * A record is either a ring (an agreed view this node installed while holding its lease) or a
 * break (the lease lapsed, or the node had not joined yet): during a break the others may have
 * formed rings without this node and changed its keys unseen. Every record has a sequence
 * number, unique within the process and larger than any of an earlier process (they start
 * from the wall clock at start-up), and the monotonic time it began.
 *
 * Metadata fetched while record `s` was current may be served at record `t` only if this node
 * owned the key in every record from `s` to `t` (no break, no ring in which another node owned
 * it): then every write of the key since the fetch went through this node, which forgot the
 * key when it did. Otherwise the key is revalidated with the store, and only that key.
 */
import type { Ring } from './ring';

interface HistoryRecord {
  readonly seq: number;
  /** The agreed ring; undefined for a break (no lease, not joined). */
  readonly ring: Ring | undefined;
  readonly epoch: number;
  /** When it began (monotonic ms). */
  readonly at: number;
}

/** Records kept: an entry older than the oldest one is revalidated (it is also that old). */
const DEFAULT_MAX_RECORDS = 512;

export class OwnershipHistory {
  private readonly records: HistoryRecord[] = [];

  constructor(
    private readonly selfId: string,
    firstSeq: number,
    at: number,
    private readonly maxRecords = DEFAULT_MAX_RECORDS,
  ) {
    this.records.push({ seq: firstSeq, ring: undefined, epoch: 0, at });
  }

  get current(): HistoryRecord {
    return this.records[this.records.length - 1];
  }

  /** The oldest record still known: entries fetched before it are never trusted. */
  get oldest(): HistoryRecord {
    return this.records[0];
  }

  /** A new agreed ring, held from `at`. */
  install(epoch: number, ring: Ring, at: number): HistoryRecord {
    return this.push({ seq: this.current.seq + 1, ring, epoch, at });
  }

  /** A break: from `at` this node holds no lease (a record only if the current one is a ring). */
  interrupt(at: number): void {
    if (this.current.ring !== undefined) this.push({ seq: this.current.seq + 1, ring: undefined, epoch: this.current.epoch, at });
  }

  /** Whether this node owned `ringKey` in every record from `fromSeq` to the current one. */
  continuous(ringKey: string, fromSeq: number): boolean {
    const start = this.indexOf(fromSeq);
    if (start < 0) return false;
    for (let i = start; i < this.records.length; i++) {
      const ring = this.records[i].ring;
      if (ring === undefined || ring.owner(ringKey) !== this.selfId) return false;
    }
    return true;
  }

  /**
   * Since when (monotonic ms) this node has owned `ringKey` without a break: the start of the
   * oldest record of the current run. Undefined when it does not own it now.
   */
  ownedSince(ringKey: string): number | undefined {
    let since: number | undefined;
    for (let i = this.records.length - 1; i >= 0; i--) {
      const ring = this.records[i].ring;
      if (ring === undefined || ring.owner(ringKey) !== this.selfId) break;
      since = this.records[i].at;
    }
    return since;
  }

  private indexOf(seq: number): number {
    const first = this.records[0].seq;
    const index = seq - first;
    return index >= 0 && index < this.records.length ? index : -1;
  }

  private push(record: HistoryRecord): HistoryRecord {
    this.records.push(record);
    if (this.records.length > this.maxRecords) this.records.splice(0, this.records.length - this.maxRecords);
    return record;
  }
}
