export { startWebHdfsEmulator, WebHdfsEmulator } from './webhdfs-emulator';
export type { WebHdfsEmulatorOptions } from './webhdfs-emulator';
