import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { createHdfsAdapterFromUri } from '../../ufs-adapters/hdfs/hdfs-adapter';
import { startWebHdfsEmulator } from '../emulators/webhdfs';

test('debug multipart', async () => {
  const emulator = await startWebHdfsEmulator({ lsLimit: 5 });
  const adapter = createHdfsAdapterFromUri(`hdfs://127.0.0.1:${emulator.nameNodePort}/data?user=alice`);
  const log = (m: string) => process.stderr.write(m + '\n');
  try {
    const upload = await adapter.createMultipartUpload('mp/object', { userMetadata: {} });
    const p1 = await adapter.uploadPart({ uploadId: upload.uploadId, key: 'mp/object', partNumber: 1, body: Readable.from([randomBytes(5*1024*1024)]) });
    log('p1');
    const p2 = await adapter.uploadPart({ uploadId: upload.uploadId, key: 'mp/object', partNumber: 2, body: Readable.from([Buffer.from('abc')]) });
    log('p2');
    log(JSON.stringify(await adapter.listParts('mp/object', upload.uploadId)));
    for await (const u of adapter.listMultipartUploads('mp/')) log(JSON.stringify(u));
    const done = await adapter.completeMultipartUpload('mp/object', upload.uploadId, [{ partNumber: 1, etag: p1.etag }, { partNumber: 2, etag: p2.etag }]);
    log(JSON.stringify(done));
  } finally {
    log(emulator.requests.map((r) => `${r.node} ${r.method} ${r.op} ${r.path}`).join('\n'));
    await adapter.close();
    await emulator.close();
  }
}, 10000);
