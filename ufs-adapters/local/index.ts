export { LocalAdapter, type LocalAdapterOptions } from './local-adapter';
export { cleanupAbandonedUploads } from './abandoned-cleanup';
export { compareUtf8 } from '../utf8-order';
