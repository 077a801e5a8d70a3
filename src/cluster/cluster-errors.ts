/**
 * Typed errors of the cluster layer. They know nothing of HTTP: the router turns them into a
 * retryable S3 503 (ServiceUnavailable), the admin routes into JSON.
 *   NoQuorum        this node holds no ownership lease (it cannot reach a quorum, or its session lapsed)
 *   NotOwner        the key moved to another node while the request waited
 *   StaleEpoch      a peer's request was stamped with an older ring version than this node's
 *   EpochUnknown    a peer's request was stamped with a newer ring version this node could not learn in time
 *   OwnerUnreachable a write whose owner cannot be reached, and no new ring came in time
 */
type ClusterErrorKind = 'NoQuorum' | 'NotOwner' | 'StaleEpoch' | 'EpochUnknown' | 'OwnerUnreachable';

export class ClusterError extends Error {
  constructor(
    readonly kind: ClusterErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'ClusterError';
  }
}

export const isClusterError = (err: unknown): err is ClusterError => err instanceof ClusterError;
