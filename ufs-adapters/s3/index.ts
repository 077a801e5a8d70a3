export { S3Adapter, createS3AdapterFromUri, parseS3Uri } from './s3-adapter';
export { S3ConfigError, resolveS3Config, type S3AdapterConfig, type S3AdapterOptions, type S3Credentials, type ResolvedS3Config } from './s3-config';
export { mapS3Error } from './s3-errors';
