export { startWebHdfsEmulator, WebHdfsEmulator } from './webhdfs-emulator';
export type { InjectedFault, NodeKind, RecordedRequest, WebHdfsEmulatorOptions } from './webhdfs-emulator';
export { compareSignedBytes } from './namespace';
export type { FileStatusJson } from './namespace';
