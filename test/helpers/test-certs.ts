/**
 * Test certificates made at test time with Debian's openssl (nothing downloaded, nothing kept):
 * a CA, and certificates it signs for 127.0.0.1 / localhost usable as server and client
 * certificates. Called again with another name, `makeCerts` makes a second, unrelated CA (a
 * certificate the cluster must refuse).
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** Whether openssl can be run (CI installs it; elsewhere the tests that need it say so). */
export async function haveOpenssl(): Promise<boolean> {
  try {
    await run('openssl', ['version']);
    return true;
  } catch {
    return false;
  }
}

async function ca(dir: string, name: string): Promise<{ caFile: string; caKey: string }> {
  const caKey = path.join(dir, `${name}-ca.key`);
  const caFile = path.join(dir, `${name}-ca.crt`);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', `/CN=${name} test CA`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { caFile, caKey };
}

/** A CA and one certificate it signed for 127.0.0.1 and localhost (server and client use). */
export async function makeCerts(dir: string, name = 'cluster'): Promise<CertFiles> {
  const { caFile, caKey } = await ca(dir, name);
  const keyFile = path.join(dir, `${name}-node.key`);
  const csr = path.join(dir, `${name}-node.csr`);
  const certFile = path.join(dir, `${name}-node.crt`);
  const ext = path.join(dir, `${name}-node.ext`);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name} node`]);
  await writeFile(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n');
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext]);
  return { caFile, certFile, keyFile, ca: await readFile(caFile), cert: await readFile(certFile), key: await readFile(keyFile) };
}
