import { createHash } from 'node:crypto';
import { bodyMatchesMarker, HopSigner, HopVerifier, MAX_SKEW_MS, ReplayWindows, WINDOW } from '../../src/cluster/peer-auth';

const SECRET = 'a-cluster-secret-of-some-length';
const request = { method: 'GET', rawUrl: '/bucket/some%20key?partNumber=1', to: 'node-b' };
const sha256 = (body: string): string => createHash('sha256').update(body).digest('hex');

const signerA = (now?: () => number): HopSigner => new HopSigner('node-a', SECRET, now);
const verifierB = (secret: string | undefined = SECRET, now?: () => number): HopVerifier => new HopVerifier('node-b', secret, now);

describe('hop marker (HMAC between nodes)', () => {
  it('verifies a marker made with the same secret, purpose, receiver and request', () => {
    const headers = signerA().headers('forward', { ...request, requestId: 'ABC123' });
    expect(verifierB().check('forward', { ...request, headers })).toMatchObject({ kind: 'peer', from: 'node-a', requestId: 'ABC123' });
  });

  it('reports requests without a marker as such', () => {
    expect(verifierB().check('forward', { ...request, headers: {} })).toEqual({ kind: 'none' });
  });

  const h = (headers: Record<string, string>) => headers;
  it.each([
    ['another secret', h, 'another-secret-entirely-xx', request, 'forward'],
    ['another URL', h, SECRET, { ...request, rawUrl: '/bucket/other' }, 'forward'],
    ['another method', h, SECRET, { ...request, method: 'DELETE' }, 'forward'],
    ['another purpose (a forwarding marker on the page endpoint)', h, SECRET, request, 'page'],
    ['another sender', (m: Record<string, string>) => ({ ...m, 'x-ringcache-hop': 'node-c' }), SECRET, request, 'forward'],
    ['another receiver', (m: Record<string, string>) => ({ ...m, 'x-ringcache-hop-to': 'node-c' }), SECRET, request, 'forward'],
    ['another nonce', (m: Record<string, string>) => ({ ...m, 'x-ringcache-hop-nonce': m['x-ringcache-hop-nonce'].replace(/\d+$/, '999') }), SECRET, request, 'forward'],
    ['another request id', (m: Record<string, string>) => ({ ...m, 'x-ringcache-hop-request-id': 'SPOOFED' }), SECRET, request, 'forward'],
    ['a truncated signature', (m: Record<string, string>) => ({ ...m, 'x-ringcache-hop-signature': m['x-ringcache-hop-signature'].slice(2) }), SECRET, request, 'forward'],
    ['no nonce', (m: Record<string, string>) => ({ ...m, 'x-ringcache-hop-nonce': '' }), SECRET, request, 'forward'],
    ['a missing date', (m: Record<string, string>) => ({ 'x-ringcache-hop': m['x-ringcache-hop'], 'x-ringcache-hop-signature': m['x-ringcache-hop-signature'] }), SECRET, request, 'forward'],
  ] as const)('refuses a marker with %s', (_what, mutate, secret, checked, purpose) => {
    const headers = mutate(signerA().headers('forward', { ...request, requestId: 'ABC123' }));
    expect(verifierB(secret).check(purpose, { ...checked, headers }).kind).toBe('invalid');
  });

  it('a marker addressed to one node is refused by every other (a captured request cannot be sent elsewhere)', () => {
    const headers = signerA().headers('forward', request);
    const c = new HopVerifier('node-c', SECRET);
    expect(c.check('forward', { ...request, headers })).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/addressed to node-b/) });
  });

  it('refuses markers more than five minutes old or ahead', () => {
    const now = Date.now();
    const check = (at: number) => verifierB(SECRET, () => now).check('forward', { ...request, headers: signerA(() => at).headers('forward', request) }).kind;
    expect(check(now - 6 * 60_000)).toBe('invalid');
    expect(check(now + 6 * 60_000)).toBe('invalid');
    expect(check(now - 60_000)).toBe('peer');
  });

  it('a node without a secret refuses every marker', () => {
    expect(new HopVerifier('node-b', undefined).check('forward', { ...request, headers: signerA().headers('forward', request) }).kind).toBe('invalid');
  });

  it('accepts each marker once: a replayed hop is refused, a new marker of the same request is not', () => {
    const signer = signerA();
    const verifier = verifierB();
    const headers = signer.headers('forward', request);
    expect(verifier.verify('forward', { ...request, headers }).kind).toBe('peer');
    expect(verifier.verify('forward', { ...request, headers })).toMatchObject({ kind: 'invalid', reason: 'hop marker already used' });
    expect(verifier.verify('forward', { ...request, headers: signer.headers('forward', request) }).kind).toBe('peer');
  });

  it('signs answers: a page answer verifies for the request it answers only, with its bytes only', () => {
    const signer = signerA();
    const verifier = new HopVerifier('node-a', SECRET);
    const page = Buffer.from('page bytes');
    const signature = signer.answerSignature('page', 'aaaaaaaaaaaaaaaa.7', 'object/1', page);
    expect(verifier.answerMatches('page', 'aaaaaaaaaaaaaaaa.7', 'object/1', page, signature)).toBe(true);
    expect(verifier.answerMatches('page', 'aaaaaaaaaaaaaaaa.8', 'object/1', page, signature)).toBe(false);
    expect(verifier.answerMatches('page', 'aaaaaaaaaaaaaaaa.7', 'object/2', page, signature)).toBe(false);
    expect(verifier.answerMatches('page', 'aaaaaaaaaaaaaaaa.7', 'object/1', Buffer.from('page bytez'), signature)).toBe(false);
    expect(verifier.answerMatches('page', 'aaaaaaaaaaaaaaaa.7', 'object/1', page, undefined)).toBe(false);
    expect(new HopVerifier('node-a', 'another-secret-entirely-xx').answerMatches('page', 'aaaaaaaaaaaaaaaa.7', 'object/1', page, signature)).toBe(false);
  });
});

describe('hop marker of an internal call with a body', () => {
  const call = { method: 'POST', rawUrl: '/_ringcache/cluster/invalidate', to: 'node-b' };
  const body = JSON.stringify({ keys: { bkt: ['a'] } });
  const signed = (b = body) => signerA().headers('invalidate', { ...call, bodySha256: sha256(b) });

  it('signs the body hash and sends it in x-ringcache-hop-body-sha256', () => {
    const headers = signed();
    expect(headers['x-ringcache-hop-body-sha256']).toBe(sha256(body));
    expect(verifierB().check('invalidate', { ...call, headers, signsBody: true })).toMatchObject({ kind: 'peer', from: 'node-a' });
    expect(bodyMatchesMarker(headers, Buffer.from(body))).toBe(true);
  });

  it('a marker cannot be moved to another body: the hash does not match it, and another hash breaks the signature', () => {
    const headers = signed();
    const other = JSON.stringify({ keys: { bkt: ['b'] }, all: true });
    expect(bodyMatchesMarker(headers, Buffer.from(other))).toBe(false);
    expect(verifierB().check('invalidate', { ...call, headers: { ...headers, 'x-ringcache-hop-body-sha256': sha256(other) }, signsBody: true }).kind).toBe('invalid');
  });

  it('an endpoint that takes a body refuses a marker without a signed body hash', () => {
    const unsigned = signerA().headers('invalidate', call);
    expect(verifierB().check('invalidate', { ...call, headers: unsigned, signsBody: true })).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/body hash/) });
    expect(verifierB().check('invalidate', { ...call, headers: { ...unsigned, 'x-ringcache-hop-body-sha256': sha256(body) }, signsBody: true }).kind).toBe('invalid');
  });

  it('forwarded S3 requests do not sign their body: a body hash header there is not part of the marker', () => {
    const forwarded = { method: 'PUT', rawUrl: '/bucket/key', to: 'node-b' };
    const headers = { ...signerA().headers('forward', forwarded), 'x-ringcache-hop-body-sha256': sha256('whatever a client sent') };
    expect(verifierB().check('forward', { ...forwarded, headers }).kind).toBe('peer');
  });

  it('bodyMatchesMarker refuses a missing or malformed hash', () => {
    expect(bodyMatchesMarker({}, Buffer.from(body))).toBe(false);
    expect(bodyMatchesMarker({ 'x-ringcache-hop-body-sha256': 'zz' }, Buffer.from(body))).toBe(false);
    expect(bodyMatchesMarker({ 'x-ringcache-hop-body-sha256': sha256(body).toUpperCase() }, Buffer.from(body))).toBe(false);
  });
});

describe('ReplayWindows', () => {
  const boot = '0123456789abcdef';
  const nonce = (seq: number, b = boot) => `${b}.${seq}`;

  it('accepts each counter of a process once, in any order within the window', () => {
    const windows = new ReplayWindows();
    const now = Date.now();
    for (const seq of [5, 3, 9, 4, 1000, 6]) expect(windows.accept(nonce(seq), now)).toBe(true);
    for (const seq of [5, 3, 9, 4, 1000, 6]) expect(windows.accept(nonce(seq), now)).toBe(false);
    expect(windows.accept(nonce(7), now)).toBe(true);
    // Another process (another boot id) has its own counters.
    expect(windows.accept(nonce(5, 'fedcba9876543210'), now)).toBe(true);
  });

  it('refuses a counter that fell out of the window (it cannot tell it from a replay)', () => {
    const windows = new ReplayWindows();
    const now = Date.now();
    expect(windows.accept(nonce(1), now)).toBe(true);
    expect(windows.accept(nonce(2 + WINDOW), now)).toBe(true);
    expect(windows.accept(nonce(2), now)).toBe(false);
    expect(windows.accept(nonce(3 + WINDOW / 2), now)).toBe(true);
    // Slots reused by newer counters were cleared: they are not mistaken for replays.
    expect(windows.accept(nonce(1 + WINDOW + WINDOW), now)).toBe(true);
    expect(windows.accept(nonce(3 + WINDOW / 2 + WINDOW), now)).toBe(true);
  });

  it('is bounded by processes, and a dropped process stays refused (its markers are older than the drop)', () => {
    let now = 1_000_000;
    const windows = new ReplayWindows(() => now, 8);
    const boots = Array.from({ length: 20 }, (_, i) => i.toString(16).padStart(16, '0'));
    for (const b of boots) {
      expect(windows.accept(nonce(1, b), now)).toBe(true);
      now += 10;
    }
    expect(windows.size).toBe(8);
    // The first processes were dropped: their old markers are refused, not taken as new.
    expect(windows.accept(nonce(1, boots[0]), now - 200)).toBe(false);
    // A marker made after the drop by a process without a window is accepted.
    expect(windows.accept(nonce(2, boots[0]), now + 1)).toBe(true);
  });

  it('forgets a process once none of its markers could verify any more', () => {
    let now = 1_000_000;
    const windows = new ReplayWindows(() => now);
    expect(windows.accept(nonce(1), now)).toBe(true);
    now += 2 * MAX_SKEW_MS + 120_000;
    expect(windows.seen(nonce(1), now)).toBe(false); // the date check refuses such a marker first
  });
});
