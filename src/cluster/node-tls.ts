/**
 * TLS of the gateway's port and of node-to-node connections, from `server.tls` and
 * `cluster.tls` (PEM files read once at start):
 *  - the server serves HTTPS with server.tls's certificate; with cluster.tls.mutual it also asks
 *    every client for a certificate, without requiring one (S3 clients have none), and verifies
 *    what it gets against cluster.tls.caFile: node-to-node requests are accepted only on a
 *    connection whose certificate verified (`peerTransportTrusted`);
 *  - a node connecting to a peer verifies the peer's certificate against cluster.tls.caFile (the
 *    system's CAs without it) and, with `mutual`, presents its own.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { ServerOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { ConfigError } from '../config/load-config';
import type { RingcacheConfig } from '../config/schema';

export interface PeerTlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export interface NodeTls {
  /** HTTPS options of the gateway's server; undefined: plain HTTP. */
  server: ServerOptions | undefined;
  /** Options of connections to peers (https:// URLs). */
  peers: PeerTlsOptions;
  /** Node-to-node requests must come over a connection with a verified client certificate. */
  mutual: boolean;
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${what}: cannot read ${file}: ${(err as Error).message}`);
  }
}

export function loadNodeTls(config: Pick<RingcacheConfig, 'server' | 'cluster'>): NodeTls {
  const serverTls = config.server.tls;
  const clusterTls = config.cluster.tls;
  if (clusterTls?.mutual && !serverTls) throw new ConfigError('cluster.tls.mutual needs server.tls (the nodes must serve HTTPS to check client certificates)');
  const certFile = clusterTls?.certFile ?? serverTls?.certFile;
  const keyFile = clusterTls?.keyFile ?? serverTls?.keyFile;
  if (clusterTls?.mutual && (!certFile || !keyFile)) throw new ConfigError('cluster.tls.mutual needs a client certificate and key (cluster.tls.certFile/keyFile, or server.tls)');
  const ca = clusterTls ? read(clusterTls.caFile, 'cluster.tls.caFile') : undefined;
  const server: ServerOptions | undefined = serverTls
    ? {
        cert: read(serverTls.certFile, 'server.tls.certFile'),
        key: read(serverTls.keyFile, 'server.tls.keyFile'),
        ...(clusterTls?.mutual ? { requestCert: true, rejectUnauthorized: false, ca } : {}),
      }
    : undefined;
  const peers: PeerTlsOptions = { ca };
  if (clusterTls?.mutual) {
    peers.cert = read(certFile as string, 'cluster.tls.certFile');
    peers.key = read(keyFile as string, 'cluster.tls.keyFile');
  }
  if (serverTls) {
    for (const peer of config.cluster.peers) {
      if (!peer.url.startsWith('https:')) throw new ConfigError(`cluster.peers: ${peer.id} has ${peer.url}; with server.tls every node serves HTTPS, give https:// URLs`);
    }
    if (config.cluster.advertiseUrl && !config.cluster.advertiseUrl.startsWith('https:')) throw new ConfigError('cluster.advertiseUrl must be an https:// URL with server.tls');
  }
  return { server, peers, mutual: clusterTls?.mutual === true };
}

/**
 * Whether a node-to-node request came over a connection the cluster trusts (always, without mutual
 * TLS): a client certificate was presented and verified against the cluster CA.
 *
 * `authorized` alone is not enough: on a resumed TLS 1.3 session Node reports `authorized: true`
 * when the client presented no certificate at all (it takes the resumption for PSK
 * authentication), so a client without a certificate could connect once, keep the session ticket
 * and come back "authorized". A session resumed from one made with a certificate keeps that
 * certificate, so requiring one present keeps resumption working for the nodes themselves.
 */
export function peerTransportTrusted(tls: Pick<NodeTls, 'mutual'>, request: IncomingMessage): boolean {
  if (!tls.mutual) return true;
  const socket = request.socket as Partial<TLSSocket>;
  if (socket.encrypted !== true || socket.authorized !== true || typeof socket.getPeerCertificate !== 'function') return false;
  const certificate = socket.getPeerCertificate();
  return certificate !== null && typeof certificate === 'object' && certificate.raw !== undefined && certificate.raw.length > 0;
}
