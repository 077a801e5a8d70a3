export { HdfsAdapter, createHdfsAdapterFromUri, parseHdfsUri } from './hdfs-adapter';
export type { HdfsAdapterOptions, HdfsMount } from './hdfs-adapter';
export { WebHdfsError } from './hdfs-errors';
