import { createHash } from 'node:crypto';
import { bodyMatchesMarker, checkPeer, peerHeaders, ReplayGuard, MAX_SKEW_MS } from '../../src/cluster/peer-auth';

const SECRET = 'a-cluster-secret-of-some-length';
const request = { method: 'GET', rawUrl: '/bucket/some%20key?partNumber=1' };
const sha256 = (body: string): string => createHash('sha256').update(body).digest('hex');

describe('hop marker (HMAC between nodes)', () => {
  it('verifies a marker made with the same secret and request', () => {
    const headers = peerHeaders(SECRET, 'node-a', request);
    expect(checkPeer(SECRET, { ...request, headers })).toMatchObject({ kind: 'peer', from: 'node-a' });
  });

  it('reports requests without a marker as such', () => {
    expect(checkPeer(SECRET, { ...request, headers: {} })).toEqual({ kind: 'none' });
  });

  it.each([
    ['another secret', (h: Record<string, string>) => h, 'another-secret-entirely-xx', request],
    ['another URL', (h: Record<string, string>) => h, SECRET, { ...request, rawUrl: '/bucket/other' }],
    ['another method', (h: Record<string, string>) => h, SECRET, { ...request, method: 'DELETE' }],
    ['another sender', (h: Record<string, string>) => ({ ...h, 'x-ringcache-hop': 'node-b' }), SECRET, request],
    ['a truncated signature', (h: Record<string, string>) => ({ ...h, 'x-ringcache-hop-signature': h['x-ringcache-hop-signature'].slice(2) }), SECRET, request],
    ['a missing date', (h: Record<string, string>) => ({ 'x-ringcache-hop': h['x-ringcache-hop'], 'x-ringcache-hop-signature': h['x-ringcache-hop-signature'] }), SECRET, request],
  ])('refuses a marker with %s', (_what, mutate, secret, checked) => {
    const headers = mutate(peerHeaders(SECRET, 'node-a', request));
    expect(checkPeer(secret, { ...checked, headers }).kind).toBe('invalid');
  });

  it('refuses markers more than five minutes old or ahead', () => {
    const now = Date.now();
    const old = peerHeaders(SECRET, 'node-a', request, now - 6 * 60_000);
    const ahead = peerHeaders(SECRET, 'node-a', request, now + 6 * 60_000);
    expect(checkPeer(SECRET, { ...request, headers: old }, now).kind).toBe('invalid');
    expect(checkPeer(SECRET, { ...request, headers: ahead }, now).kind).toBe('invalid');
    expect(checkPeer(SECRET, { ...request, headers: peerHeaders(SECRET, 'node-a', request, now - 60_000) }, now).kind).toBe('peer');
  });

  it('a node without a secret refuses every marker', () => {
    expect(checkPeer(undefined, { ...request, headers: peerHeaders(SECRET, 'node-a', request) }).kind).toBe('invalid');
  });
});

describe('hop marker of an internal call with a body', () => {
  const call = { method: 'POST', rawUrl: '/_ringcache/cluster/invalidate' };
  const body = JSON.stringify({ keys: { bkt: ['a'] } });
  const signed = (b = body) => peerHeaders(SECRET, 'node-a', { ...call, bodySha256: sha256(b) });

  it('signs the body hash and sends it in x-ringcache-hop-body-sha256', () => {
    const headers = signed();
    expect(headers['x-ringcache-hop-body-sha256']).toBe(sha256(body));
    expect(checkPeer(SECRET, { ...call, headers, signsBody: true })).toMatchObject({ kind: 'peer', from: 'node-a' });
    expect(bodyMatchesMarker(headers, Buffer.from(body))).toBe(true);
  });

  it('a marker cannot be moved to another body: the hash does not match it, and another hash breaks the signature', () => {
    const headers = signed();
    const other = JSON.stringify({ keys: { bkt: ['b'] }, all: true });
    expect(bodyMatchesMarker(headers, Buffer.from(other))).toBe(false);
    expect(checkPeer(SECRET, { ...call, headers: { ...headers, 'x-ringcache-hop-body-sha256': sha256(other) }, signsBody: true }).kind).toBe('invalid');
  });

  it('an endpoint that takes a body refuses a marker without a signed body hash', () => {
    const unsigned = peerHeaders(SECRET, 'node-a', call);
    expect(checkPeer(SECRET, { ...call, headers: unsigned, signsBody: true })).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/body hash/) });
    // Nor can a hash be added to a marker made without one.
    expect(checkPeer(SECRET, { ...call, headers: { ...unsigned, 'x-ringcache-hop-body-sha256': sha256(body) }, signsBody: true }).kind).toBe('invalid');
    // Or removed from one made with it.
    const { 'x-ringcache-hop-body-sha256': _hash, ...stripped } = signed();
    expect(checkPeer(SECRET, { ...call, headers: { ...stripped, 'x-ringcache-hop-body-sha256': '' }, signsBody: true }).kind).toBe('invalid');
  });

  it('forwarded S3 requests keep the unsigned form: a body hash header there is not part of the marker', () => {
    const forwarded = { method: 'PUT', rawUrl: '/bucket/key' };
    const headers = { ...peerHeaders(SECRET, 'node-a', forwarded), 'x-ringcache-hop-body-sha256': sha256('whatever a client sent') };
    expect(checkPeer(SECRET, { ...forwarded, headers }).kind).toBe('peer');
  });

  it('bodyMatchesMarker refuses a missing or malformed hash', () => {
    expect(bodyMatchesMarker({}, Buffer.from(body))).toBe(false);
    expect(bodyMatchesMarker({ 'x-ringcache-hop-body-sha256': 'zz' }, Buffer.from(body))).toBe(false);
    expect(bodyMatchesMarker({ 'x-ringcache-hop-body-sha256': sha256(body).toUpperCase() }, Buffer.from(body))).toBe(false);
  });
});

describe('ReplayGuard', () => {
  it('accepts a marker once, and forgets it once it is too old to verify anyway', () => {
    let now = 1_000_000;
    const guard = new ReplayGuard(1000, () => now);
    const marker = { signature: 'ab'.repeat(32), sentAt: now };
    expect(guard.has(marker)).toBe(false);
    expect(guard.claim(marker)).toBe(true);
    expect(guard.has(marker)).toBe(true);
    expect(guard.claim(marker)).toBe(false);
    now += MAX_SKEW_MS - 1000;
    expect(guard.claim(marker)).toBe(false);
    now += 5000; // checkPeer refuses the marker from here on
    expect(guard.has(marker)).toBe(false);
  });

  it('is bounded', () => {
    const guard = new ReplayGuard(10);
    for (let i = 0; i < 100; i++) expect(guard.claim({ signature: String(i), sentAt: Date.now() })).toBe(true);
    expect(guard.has({ signature: '99' })).toBe(true);
    expect(guard.has({ signature: '0' })).toBe(false);
  });
});
