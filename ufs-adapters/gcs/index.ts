export {
  GcsAdapter,
  createGcsAdapterFromUri,
  createStorageClient,
  parseGcsUri,
  GcsUriError,
  planComposeTree,
  MAX_COMPOSE_SOURCES,
  type GcsAdapterOptions,
  type GcsConnectionOptions,
  type GcsLocation,
} from './gcs-adapter';
