/**
 * The Jepsen-style consistency check (test/jepsen/): clients PUT and GET random keys through
 * random nodes while a nemesis kills, restarts, partitions and adds nodes; every read must return
 * the latest acknowledged write at its start or one concurrent with it. Bounded here (CI); longer
 * with `npm run jepsen` (JEPSEN_SECONDS, JEPSEN_BACKENDS; see docs/cluster.md).
 */
import { formatReport, runJepsen, type Backend } from '../jepsen/jepsen-run';
import { createNetLab, netLabUnavailable, type NetLab } from '../helpers/net-lab';
import { etcdMissing, startEtcd, type EtcdCluster } from '../servers/etcd';

const SECONDS = Number(process.env.JEPSEN_SECONDS ?? 20);
const BACKENDS = (process.env.JEPSEN_BACKENDS ?? 'static,consul,etcd').split(',') as Backend[];

jest.setTimeout((SECONDS + 240) * 1000);

const report = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

describe('Jepsen-style consistency', () => {
  if (BACKENDS.includes('static')) {
    it('static peers: kills, restarts, partitions (network namespaces) and an added node; no stale read', async () => {
      const missing = netLabUnavailable();
      if (missing && process.env.CI === 'true') throw new Error(missing);
      let lab: NetLab | undefined;
      try {
        lab = missing ? undefined : await createNetLab();
        if (missing) report(`jepsen static: no partitions (${missing}); kills and additions only`);
        const result = await runJepsen({ backend: 'static', durationMs: SECONDS * 1000, net: lab, log: report });
        report(formatReport(result));
        expect(result.reads.ok).toBeGreaterThan(20);
        expect(result.writes.ok).toBeGreaterThan(20);
        expect(result.events.length).toBeGreaterThan(0);
        expect(result.violations).toEqual([]);
      } finally {
        await lab?.close();
      }
    });
  }

  if (BACKENDS.includes('consul')) {
    it('Consul (emulator): kills, restarts, a node cut from its own agent, an added node; no stale read', async () => {
      const result = await runJepsen({ backend: 'consul', durationMs: SECONDS * 1000, log: report });
      report(formatReport(result));
      expect(result.reads.ok).toBeGreaterThan(20);
      expect(result.writes.ok).toBeGreaterThan(20);
      expect(result.violations).toEqual([]);
    });
  }

  if (BACKENDS.includes('etcd')) {
    const missing = etcdMissing();
    const run = missing && process.env.CI !== 'true' ? it.skip : it;
    run(`etcd (a real server): kills, restarts, a node cut from etcd, an added node; no stale read${missing ? ` (skipped: ${missing})` : ''}`, async () => {
      let etcd: EtcdCluster | undefined;
      try {
        etcd = await startEtcd({ members: 1 });
        const result = await runJepsen({ backend: 'etcd', durationMs: SECONDS * 1000, etcdEndpoints: etcd.clientUrls, log: report });
        report(formatReport(result));
        expect(result.reads.ok).toBeGreaterThan(20);
        expect(result.writes.ok).toBeGreaterThan(20);
        expect(result.violations).toEqual([]);
      } finally {
        await etcd?.stop();
      }
    });
  }
});
