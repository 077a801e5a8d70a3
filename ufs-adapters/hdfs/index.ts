export { HdfsAdapter, createHdfsAdapterFromUri } from './hdfs-adapter';
export type { HdfsAdapterOptions } from './hdfs-adapter';
export { parseHdfsUri, type HdfsMount } from './hdfs-uri';
export { WebHdfsError } from './hdfs-errors';
