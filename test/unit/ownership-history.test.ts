/**
 * The pure parts of ownership by agreement: the lease (lapses counted), the history of rings a
 * node held (continuity per key, the start of a run of ownership), and the acceptor rules and
 * quorum arithmetic of the static peers' agreement.
 */
import { Lease } from '../../src/cluster/lease';
import { OwnershipHistory } from '../../src/cluster/ownership-history';
import { buildRing } from '../../src/cluster/ring';
import { Acceptor, isGrant, isQuorum, leaseStart, majority } from '../../src/cluster/view-agreement';

const m = (id: string) => ({ id, url: `http://${id}` });

describe('Lease', () => {
  it('holds from the send time of a confirmation, counts each gap as a lapse, and can be revoked', () => {
    let now = 0;
    const lease = new Lease(() => now);
    expect(lease.valid()).toBe(false);
    lease.extend(10, 100);
    expect(lease.lapses).toBe(1); // the first grant starts a run
    now = 50;
    expect(lease.valid()).toBe(true);
    lease.extend(60, 100); // renewed before it ended: same run
    expect(lease.lapses).toBe(1);
    expect(lease.expiresAt).toBe(160);
    lease.extend(40, 100); // an older confirmation never shortens nor lengthens
    expect(lease.expiresAt).toBe(160);
    now = 170;
    expect(lease.valid()).toBe(false);
    lease.extend(165, 100); // sent after it ended: a gap
    expect(lease.lapses).toBe(2);
    lease.revoke();
    expect(lease.valid()).toBe(false);
  });
});

describe('OwnershipHistory', () => {
  const abc = buildRing(['a', 'b', 'c']);
  const ab = buildRing(['a', 'b']);
  // Keys a owns in both rings, keys c owned that a gained, keys a never owns.
  const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
  const kept = keys.find((k) => abc.owner(k) === 'a' && ab.owner(k) === 'a') as string;
  const gained = keys.find((k) => abc.owner(k) === 'c' && ab.owner(k) === 'a') as string;
  const other = keys.find((k) => abc.owner(k) === 'b' && ab.owner(k) === 'b') as string;

  it('keeps a key whose owner never changed, across ring changes', () => {
    const h = new OwnershipHistory('a', 1000, 0);
    const first = h.install(1, abc, 10);
    h.install(2, ab, 20);
    h.install(3, abc, 30);
    expect(h.continuous(kept, first.seq)).toBe(true);
    expect(h.continuous(other, first.seq)).toBe(false);
  });

  it('forgets a key that moved away and back, and everything across a break', () => {
    const h = new OwnershipHistory('a', 1000, 0);
    const first = h.install(1, ab, 10);
    expect(h.continuous(gained, first.seq)).toBe(true);
    h.install(2, abc, 20); // c owns it here
    h.install(3, ab, 30);
    expect(h.continuous(gained, first.seq)).toBe(false);
    const later = h.current.seq;
    expect(h.continuous(gained, later)).toBe(true);
    h.interrupt(40); // the lease lapsed
    h.install(3, ab, 50);
    expect(h.continuous(kept, later)).toBe(false);
    expect(h.continuous(kept, h.current.seq)).toBe(true);
  });

  it('dates a run of ownership from its first ring, and refuses records it no longer holds', () => {
    const h = new OwnershipHistory('a', 1000, 0, 4);
    h.install(1, abc, 10);
    h.install(2, ab, 20);
    expect(h.ownedSince(kept)).toBe(10);
    expect(h.ownedSince(gained)).toBe(20);
    expect(h.ownedSince(other)).toBeUndefined();
    for (let e = 3; e < 10; e++) h.install(e, ab, e * 10);
    expect(h.continuous(kept, 1001)).toBe(false); // trimmed: too old to vouch for
    expect(h.oldest.seq).toBeGreaterThan(1001);
  });

  it('starts every process above the sequence numbers of the ones before', () => {
    const earlier = new OwnershipHistory('a', 1_000 * 1024, 0);
    const later = new OwnershipHistory('a', 2_000 * 1024, 0);
    const seq = earlier.install(1, ab, 1).seq;
    later.install(1, ab, 1);
    expect(later.continuous(kept, seq)).toBe(false);
  });
});

describe('static agreement rules', () => {
  it('an acceptor takes one member set per epoch, repeats of it, and only higher epochs after', () => {
    const acceptor = new Acceptor();
    expect(acceptor.propose({ epoch: 1, members: [m('a'), m('b')] }).accepted).toBe(true);
    expect(acceptor.propose({ epoch: 1, members: [m('b'), m('a')] }).accepted).toBe(true); // the same view again
    expect(acceptor.propose({ epoch: 1, members: [m('a')] }).accepted).toBe(false);
    expect(acceptor.propose({ epoch: 2, members: [m('a')] }).accepted).toBe(true);
    expect(acceptor.propose({ epoch: 1, members: [m('a'), m('b')] }).accepted).toBe(false);
    expect(acceptor.install({ epoch: 2, members: [m('a')] })).toBe(true);
    expect(acceptor.install({ epoch: 1, members: [m('a'), m('b')] })).toBe(false);
    expect(acceptor.grants()).toBe(true);
    acceptor.propose({ epoch: 3, members: [m('a'), m('c')] });
    expect(acceptor.grants()).toBe(false); // promised a newer view: no grant for the installed one
  });

  it('a grant is an answer on the same view with no newer promise', () => {
    const installed = { epoch: 4, members: [m('a')] };
    expect(isGrant({ id: 'b', ready: true, installed, promised: 4 }, 4)).toBe(true);
    expect(isGrant({ id: 'b', ready: true, installed, promised: 5 }, 4)).toBe(false);
    expect(isGrant({ id: 'b', ready: true, installed, promised: 4 }, 3)).toBe(false);
    expect(isGrant({ id: 'b', ready: true, installed: { epoch: 0, members: [] }, promised: 0 }, 0)).toBe(false);
  });

  it('a lease counts from the majority-th most recent grant; a quorum is a majority of the view before', () => {
    expect(majority(1)).toBe(1);
    expect(majority(2)).toBe(2);
    expect(majority(3)).toBe(2);
    expect(majority(4)).toBe(3);
    const grants = new Map([
      ['a', 100],
      ['b', 90],
      ['c', 20],
    ]);
    expect(leaseStart(['a', 'b', 'c'], grants)).toBe(90);
    expect(leaseStart(['a', 'b', 'c', 'd', 'e'], grants)).toBe(20);
    expect(leaseStart(['a', 'd', 'e'], grants)).toBeUndefined();
    const view = { epoch: 3, members: [m('a'), m('b'), m('c')] };
    expect(isQuorum(view, new Set(['a', 'b']), 99)).toBe(true);
    expect(isQuorum(view, new Set(['a', 'x', 'y']), 99)).toBe(false); // nodes outside the view do not count
    expect(isQuorum({ epoch: 0, members: [] }, new Set(['a', 'b']), 2)).toBe(true);
    expect(isQuorum({ epoch: 0, members: [] }, new Set(['a']), 2)).toBe(false);
  });
});
