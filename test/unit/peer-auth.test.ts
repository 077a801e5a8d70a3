import { checkPeer, peerHeaders } from '../../src/cluster/peer-auth';

const SECRET = 'a-cluster-secret-of-some-length';
const request = { method: 'GET', rawUrl: '/bucket/some%20key?partNumber=1' };

describe('hop marker (HMAC between nodes)', () => {
  it('verifies a marker made with the same secret and request', () => {
    const headers = peerHeaders(SECRET, 'node-a', request);
    expect(checkPeer(SECRET, { ...request, headers })).toEqual({ kind: 'peer', from: 'node-a' });
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
