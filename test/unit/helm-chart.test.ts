/**
 * The Helm chart in helm/ringcache, rendered by the engine Helm uses and checked as Kubernetes
 * would check it. Debian packages no `helm`, and nothing can be downloaded, so (test/helpers/helm-tools.ts):
 *  - the templates are rendered by test/helm/render.go: Go's text/template with Sprig and Helm's
 *    own functions and objects, built from Debian's Go packages (golang-go, Sprig, sigs.k8s.io/yaml);
 *  - every rendered manifest is checked against the Kubernetes API types of Debian's
 *    python3-kubernetes (unknown fields, types, required fields), the PrometheusRule's rules and
 *    the dashboard's queries are parsed by promtool (Debian's prometheus); the ServiceMonitor
 *    and PrometheusRule objects themselves have no schema here (the Prometheus Operator's CRDs
 *    are not packaged), so their shape is checked by the tests below;
 *  - ringcache.json is loaded by the gateway's own loadConfig with the environment the pod would get;
 *  - values.yaml keeps in step with the gateway's config schema (every setting, same defaults).
 * Outside CI a missing tool skips the rendering tests with the install command; in CI they fail.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/load-config';
import { configSchema } from '../../src/config/schema';
import {
  helmRenderBinary,
  kubernetesValidatorMissing,
  mustHaveTools,
  promtoolCheckRules,
  promtoolMissing,
  renderChart,
  validateKubernetes,
} from '../helpers/helm-tools';

interface YamlLib {
  safeLoad(text: string): unknown;
  safeLoadAll(text: string): unknown[];
  safeDump(value: unknown, options?: Record<string, unknown>): string;
}
// js-yaml 3 comes with jest (babel-plugin-istanbul); it has no bundled types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml: YamlLib = require('js-yaml');

const ROOT = path.resolve(__dirname, '../..');
const CHART = path.join(ROOT, 'helm/ringcache');
const TEMPLATES = path.join(CHART, 'templates');

/** Top-level keys of the gateway's strict config schema (a zod object, possibly behind a refine). */
function schemaKeys(): string[] {
  let s: any = configSchema;
  while (s && !s.shape && s._def?.schema) s = s._def.schema;
  return Object.keys(s.shape);
}
const ALLOWED_CONFIG_KEYS = schemaKeys();

type Obj = Record<string, any>;

// ---------------------------------------------------------------------------------------------
// Helpers over the chart
// ---------------------------------------------------------------------------------------------

const readYaml = (file: string): Obj => yaml.safeLoad(readFileSync(path.join(CHART, file), 'utf8')) as Obj;
const defaults = (): Obj => readYaml('values.yaml');

const isMap = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Rendered {
  docs: Obj[];
  notes: string;
  byKind(kind: string): Obj[];
  one(kind: string, name?: string): Obj;
}

const RELEASE = { name: 'demo', namespace: 'storage' };

/** Renders the chart (Helm merges `overrides` over values.yaml); a failed render throws its error. */
function render(overrides: Obj = {}, release = RELEASE): Rendered {
  const [result] = renderChart(CHART, release, [overrides]);
  if (result.error !== undefined) throw new Error(result.error);
  return fromFiles(result.files ?? {});
}

/** The manifests of rendered files, as `helm template` splits them; NOTES.txt apart. */
function fromFiles(files: Record<string, string>): Rendered {
  const docs: Obj[] = [];
  for (const [file, text] of Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (file.endsWith('NOTES.txt')) continue;
    for (const doc of yaml.safeLoadAll(text)) if (doc !== null && doc !== undefined) docs.push(doc as Obj);
  }
  return fromDocs(docs, files['templates/NOTES.txt'] ?? '');
}

function fromDocs(docs: Obj[], notes: string): Rendered {
  return {
    docs,
    notes,
    byKind: (kind) => docs.filter((d) => d.kind === kind),
    one(kind, name) {
      const found = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
      if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
      return found[0];
    },
  };
}

const container = (r: Rendered): Obj => r.one('StatefulSet').spec.template.spec.containers[0];

/** ringcache.json as the pod reads it: the Secret mounted at /etc/ringcache. */
function configFile(r: Rendered): string {
  const sts = r.one('StatefulSet');
  const mount = container(r).volumeMounts.find((m: Obj) => m.mountPath === '/etc/ringcache');
  const volume = sts.spec.template.spec.volumes.find((v: Obj) => v.name === mount.name);
  const secret = r.one('Secret', volume.secret.secretName);
  return Buffer.from(secret.data['ringcache.json'], 'base64').toString('utf8');
}

/** The pod whose environment podEnv builds: its name (metadata.name) and its node's IP (status.hostIP). */
interface PodFields {
  name: string;
  hostIP: string;
}
const POD_0: PodFields = { name: 'demo-ringcache-0', hostIP: '10.0.0.7' };

/**
 * The container's environment as the kubelet builds it: values with $(VAR) expanded from the
 * variables defined before them ($$ is a literal $, unknown references stay as they are),
 * secretKeyRef from the rendered Secrets (or `existing` ones), fieldRef from `pod`.
 */
function podEnv(r: Rendered, existing: Obj[] = [], pod: PodFields = POD_0): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container(r).env ?? []) {
    if (e.value !== undefined) {
      env[e.name] = String(e.value).replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (ref: string, name?: string) =>
        ref === '$$' ? '$' : name !== undefined && name in env ? env[name] : ref,
      );
    } else if (e.valueFrom.fieldRef) {
      const fields: Record<string, string> = { 'metadata.name': pod.name, 'status.hostIP': pod.hostIP };
      const field = e.valueFrom.fieldRef.fieldPath;
      if (fields[field] === undefined) throw new Error(`env ${e.name}: fieldRef ${field} not known to the test`);
      env[e.name] = fields[field];
    } else {
      const ref = e.valueFrom.secretKeyRef;
      const secret = [...r.byKind('Secret'), ...existing].find((s) => s.metadata.name === ref.name);
      if (!secret) throw new Error(`env ${e.name}: no Secret ${ref.name}`);
      if (secret.data?.[ref.key] === undefined) throw new Error(`env ${e.name}: Secret ${ref.name} has no key ${ref.key}`);
      env[e.name] = Buffer.from(secret.data[ref.key], 'base64').toString('utf8');
    }
  }
  return env;
}

/** Loads the rendered ringcache.json with the gateway's own loader, as the pod would. */
function loadAsPod(json: string, env: Record<string, string>): ReturnType<typeof loadConfig> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ringcache-helm-'));
  try {
    const file = path.join(dir, 'ringcache.json');
    writeFileSync(file, json);
    return loadConfig({ file, env, cwd: dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function valuesPaths(text: string): string[] {
  const paths = new Set<string>();
  for (const m of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) paths.add(m[1].slice(1));
  return [...paths].sort();
}

const templateFiles = (): string[] => readdirSync(TEMPLATES).sort();

const NFS_AND_PVC = {
  mounts: [
    { bucket: 'archive', nfs: { server: 'nfs.example.internal', path: '/exports/archive' }, anonymousRead: true, metadataTtlSeconds: 0, cache: { maxObjectBytes: 1048576, minUses: 2 } },
    { bucket: 'data.sets', persistentVolumeClaim: { claimName: 'datasets-rwx' }, readOnly: true, subPath: 'v1' },
  ],
};
const TWO_KEYS = {
  auth: {
    credentials: [
      { accessKeyId: 'admin', secretAccessKey: 'admin-secret-1', grants: { '*': 'write' } },
      { accessKeyId: 'reader', secretAccessKey: 'reader-secret-1', grants: { archive: 'read' } },
    ],
  },
};

/** Why the renderer cannot run here (then, outside CI, the rendering tests skip). */
const renderMissing = helmRenderBinary().missing;
const describeRendered = renderMissing && !mustHaveTools ? describe.skip : describe;

// ---------------------------------------------------------------------------------------------

describe('helm chart: tools', () => {
  it('the renderer, the Kubernetes API types and promtool are installed (required in CI)', () => {
    const missing = [renderMissing, kubernetesValidatorMissing(), promtoolMissing()].filter((m) => m !== undefined);
    if (missing.length > 0 && !mustHaveTools) {
      console.warn(`helm chart tests skipped in part: ${missing.join('; ')}`);
      return;
    }
    expect(missing).toEqual([]);
  });
});

describe('helm chart: files', () => {
  it('Chart.yaml is a v2 chart named ringcache 0.1.0', () => {
    const chart = readYaml('Chart.yaml');
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'ringcache', version: '0.1.0', appVersion: '0.1.0', type: 'application' });
  });

  it('values.yaml parses, with the documented defaults', () => {
    const v = defaults();
    expect(v.replicaCount).toBe(1);
    expect(v.cluster).toMatchObject({ enabled: false, discovery: 'static', routing: 'proxy', allowPerPodDataDir: false });
    expect(v.config.jobs).toMatchObject({ retainFinishedSeconds: 604800, maxRunning: 2, concurrency: 4 });
    expect(v.cluster.maxReplicas).toBe(10);
    expect(v.prometheusRule.enabled).toBe(false);
    expect(v.grafanaDashboard).toMatchObject({ enabled: false, labels: { grafana_dashboard: '1' } });
    expect(v.podManagementPolicy).toBe('Parallel');
    expect(v.serviceMonitor.enabled).toBe(false);
    expect(v.ingress.enabled).toBe(false);
    expect(v.service).toMatchObject({ type: 'ClusterIP', port: 9000 });
    expect(v.config.server.port).toBe(9000);
    expect(v.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true });
  });

  it('every .Values path the templates read exists in values.yaml', () => {
    const values = defaults();
    const missing: string[] = [];
    for (const file of templateFiles()) {
      for (const p of valuesPaths(readFileSync(path.join(TEMPLATES, file), 'utf8'))) {
        let cur: unknown = values;
        for (const key of p.split('.')) {
          if (!isMap(cur) || !Object.prototype.hasOwnProperty.call(cur, key)) {
            missing.push(`${file}: .Values.${p}`);
            break;
          }
          cur = cur[key];
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('the config template sets only top-level keys the gateway schema allows', () => {
    // The allowed list is the schema's own; these are the keys the chart was written against.
    expect(ALLOWED_CONFIG_KEYS).toEqual(expect.arrayContaining(['server', 'dataDir', 'mounts', 'credentials', 'multipart', 'log']));

    const helpers = readFileSync(path.join(TEMPLATES, '_helpers.tpl'), 'utf8');
    const body = helpers.slice(helpers.indexOf('{{- define "ringcache.config" -}}'));
    const define = body.slice(0, body.indexOf('{{- end }}\n', body.lastIndexOf('toPrettyJson')));
    expect(define).toMatch(/\$config := dict \}\}/); // starts empty: every key is a `set` below
    const keys = [...define.matchAll(/set \$config "([^"]+)"/g)].map((m) => m[1]);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((k) => !ALLOWED_CONFIG_KEYS.includes(k))).toEqual([]);
  });

  it('README documents the image build, every top-level value and every cluster value', () => {
    const readme = readFileSync(path.join(CHART, 'README.md'), 'utf8');
    expect(readme).toContain('docker build -f helm/Dockerfile -t ringcache:dev .');
    const cluster = (prefix: string, v: Obj): string[] =>
      Object.entries(v).flatMap(([k, x]) => (isMap(x) ? cluster(`${prefix}.${k}`, x) : [`${prefix}.${k}`]));
    expect(cluster('cluster', defaults().cluster).filter((k) => !readme.includes(`\`${k}\``))).toEqual([]);
    const undocumented = Object.keys(defaults()).filter((k) => !readme.includes(`\`${k}\``) && !readme.includes(`\`${k}.`));
    expect(undocumented).toEqual([]);
  });

  it('the Dockerfile builds in stages on node:20-bookworm-slim and runs as node', () => {
    const df = readFileSync(path.join(ROOT, 'helm/Dockerfile'), 'utf8');
    expect(df.match(/^FROM node:20-bookworm-slim\b/gm)).toHaveLength(2);
    for (const step of ['npm ci', 'npm run build', 'npm prune --omit=dev', 'USER node']) expect(df).toContain(step);
    expect(df).toContain('ENTRYPOINT ["node", "dist/src/cli/ringcache.js"]');
    expect(df).toContain('CMD ["serve", "--config", "/etc/ringcache/ringcache.json"]');
    expect(readFileSync(path.join(ROOT, 'helm/Dockerfile.dockerignore'), 'utf8')).toMatch(/node_modules/);
  });
});

describeRendered('helm chart: rendered with default values', () => {
  let r: Rendered;
  beforeAll(() => {
    r = render();
  });

  it('renders the expected objects, all named and labelled', () => {
    expect(r.docs.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual([
      'Secret/demo-ringcache-auth',
      'Secret/demo-ringcache-config',
      'Service/demo-ringcache',
      'Service/demo-ringcache-headless',
      'ServiceAccount/demo-ringcache',
      'StatefulSet/demo-ringcache',
    ]);
    for (const d of r.docs) {
      expect(d.apiVersion).toBeTruthy();
      expect(d.metadata.namespace).toBe('storage');
      expect(d.metadata.name.length).toBeLessThanOrEqual(63);
      expect(d.metadata.labels['app.kubernetes.io/instance']).toBe('demo');
    }
  });

  it('labels and annotations are strings everywhere (Kubernetes rejects anything else)', () => {
    const sts = r.one('StatefulSet');
    const metas = [...r.docs.map((d) => d.metadata), sts.spec.template.metadata, ...sts.spec.volumeClaimTemplates.map((t: Obj) => t.metadata)];
    for (const m of metas) {
      for (const v of [...Object.values(m.labels ?? {}), ...Object.values(m.annotations ?? {})]) expect(typeof v).toBe('string');
    }
  });

  it('ringcache.json holds no secret and loads in the gateway with the pod environment', () => {
    const json = configFile(r);
    const parsed = JSON.parse(json);
    expect(Object.keys(parsed).filter((k) => !ALLOWED_CONFIG_KEYS.includes(k))).toEqual([]);
    expect(parsed.credentials).toBeUndefined();
    expect(parsed.server).toEqual({ host: '0.0.0.0', port: 9000, region: 'us-east-1', maxPutSize: 5368709120, bodyIdleTimeoutMs: 20000, bodyMinBytesPerSecond: 1024, signatureV2: true, acls: true, bucketSettingsTtlSeconds: 5 });

    const env = podEnv(r);
    expect(Object.keys(env).sort()).toEqual(['RINGCACHE_ACCESS_KEY_ID', 'RINGCACHE_SECRET_ACCESS_KEY']);
    expect(env.RINGCACHE_ACCESS_KEY_ID).toMatch(/^[A-Z0-9]{20}$/);
    expect(env.RINGCACHE_SECRET_ACCESS_KEY).toMatch(/^[A-Za-z0-9]{40}$/);
    const config = loadAsPod(json, env);
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 9000 });
    expect(config.dataDir).toBe('/data/buckets');
    // The LMDB cache and the job state go on the data PVC, not under the read-only /app.
    expect(config.cache.disk.path).toBe('/data/cache');
    expect(config.jobs).toMatchObject({ stateDir: '/data/jobs', retainFinishedSeconds: 604800 });
    // Cluster mode off: one node by itself, as before.
    expect(parsed.cluster).toBeUndefined();
    expect(config.cluster.peers).toEqual([]);
    expect(config.credentials).toEqual([{ accessKeyId: env.RINGCACHE_ACCESS_KEY_ID, secretAccessKey: env.RINGCACHE_SECRET_ACCESS_KEY, grants: { '*': 'write' } }]);
    // Without the environment the file alone is rejected: the env wiring is what makes it work.
    expect(() => loadAsPod(json, {})).toThrow(/credentials/);
  });

  it('the StatefulSet: one pod, a data PVC at /data, /tmp emptyDir, probes, hardening', () => {
    const sts = r.one('StatefulSet');
    const pod = sts.spec.template.spec;
    const c = container(r);
    expect(sts.spec.replicas).toBe(1);
    expect(sts.spec.serviceName).toBe('demo-ringcache-headless');
    expect(sts.spec.selector.matchLabels).toEqual(expect.objectContaining({ 'app.kubernetes.io/name': 'ringcache' }));
    expect(sts.spec.template.metadata.labels).toEqual(expect.objectContaining(sts.spec.selector.matchLabels));
    expect(sts.spec.volumeClaimTemplates).toEqual([
      expect.objectContaining({
        metadata: expect.objectContaining({ name: 'data' }),
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } },
      }),
    ]);
    expect(c.image).toBe('ringcache:0.1.0');
    expect(c.args).toEqual(['serve', '--config', '/etc/ringcache/ringcache.json']);
    expect(c.ports).toEqual([{ name: 's3', containerPort: 9000, protocol: 'TCP' }]);
    expect(c.volumeMounts).toEqual([
      { name: 'config', mountPath: '/etc/ringcache', readOnly: true },
      { name: 'data', mountPath: '/data' },
      { name: 'tmp', mountPath: '/tmp' },
    ]);
    expect(pod.volumes).toEqual([
      { name: 'config', secret: { secretName: 'demo-ringcache-config' } },
      { name: 'tmp', emptyDir: {} },
    ]);
    for (const probe of [c.readinessProbe, c.livenessProbe]) expect(probe.httpGet).toEqual({ path: '/_ringcache/healthz', port: 's3' });
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 });
    expect(c.resources.requests).toBeDefined();
    // A Service named "ringcache" would otherwise inject RINGCACHE_PORT=tcp://... into the pod.
    expect(pod.enableServiceLinks).toBe(false);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(sts.spec.template.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '9000',
      'prometheus.io/path': '/_ringcache/metrics',
    });
    expect(sts.spec.template.metadata.annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the Services: a headless one for pod DNS and a ClusterIP one on port 9000 named s3', () => {
    const podLabels = r.one('StatefulSet').spec.template.metadata.labels;
    const headless = r.one('Service', 'demo-ringcache-headless');
    const client = r.one('Service', 'demo-ringcache');
    expect(headless.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    expect(client.spec.type).toBe('ClusterIP');
    expect(client.spec.ports).toEqual([{ name: 's3', port: 9000, targetPort: 's3', protocol: 'TCP' }]);
    for (const svc of [headless, client]) expect(podLabels).toEqual(expect.objectContaining(svc.spec.selector));
  });

  it('NOTES.txt tells how to reach it with the aws CLI', () => {
    expect(r.notes).toContain('aws --endpoint-url http://127.0.0.1:9000 s3 ls');
    expect(r.notes).toContain('http://demo-ringcache.storage.svc.cluster.local:9000');
    expect(r.notes).toContain("get secret demo-ringcache-auth -o jsonpath='{.data.accessKeyId}'");
  });
});

describeRendered('helm chart: rendered with options', () => {
  it('NFS and PVC mounts become volumes at /mnt/ufs/<bucket> and file:// mounts', () => {
    const r = render({ ...NFS_AND_PVC, auth: { accessKeyId: 'gateway', secretAccessKey: 'gateway-secret' } });
    const pod = r.one('StatefulSet').spec.template.spec;
    expect(pod.volumes).toEqual(
      expect.arrayContaining([
        { name: 'ufs-0', nfs: { server: 'nfs.example.internal', path: '/exports/archive', readOnly: false } },
        { name: 'ufs-1', persistentVolumeClaim: { claimName: 'datasets-rwx', readOnly: true } },
      ]),
    );
    expect(container(r).volumeMounts).toEqual(
      expect.arrayContaining([
        { name: 'ufs-0', mountPath: '/mnt/ufs/archive', readOnly: false },
        { name: 'ufs-1', mountPath: '/mnt/ufs/data.sets', subPath: 'v1', readOnly: true },
      ]),
    );
    const config = loadAsPod(configFile(r), podEnv(r));
    expect(config.mounts).toMatchObject({
      archive: { uri: 'file:///mnt/ufs/archive', anonymousRead: true, metadataTtlSeconds: 0, cache: { maxObjectBytes: 1048576, minUses: 2 } },
      'data.sets': { uri: 'file:///mnt/ufs/data.sets', anonymousRead: false, cache: { minUses: 1 } },
    });
    expect(Object.keys(config.mounts)).toEqual(['archive', 'data.sets']);
    // Every mount URI is a path some volume is mounted at.
    const mountPaths = container(r).volumeMounts.map((m: Obj) => m.mountPath);
    for (const m of Object.values(config.mounts)) expect(mountPaths).toContain(new URL(m.uri).pathname);
    expect(config.credentials).toEqual([{ accessKeyId: 'gateway', secretAccessKey: 'gateway-secret', grants: { '*': 'write' } }]);
    expect(r.one('StatefulSet').spec.template.metadata.annotations['checksum/auth']).toMatch(/^[0-9a-f]{64}$/);
    expect(r.notes).toContain('s3://archive -> nfs nfs.example.internal:/exports/archive at /mnt/ufs/archive');
  });

  it('auth.credentials: several keys with grants in ringcache.json, no env, no auth Secret', () => {
    const r = render({ ...TWO_KEYS, ...NFS_AND_PVC, config: { dataDir: '' } });
    expect(r.byKind('Secret').map((s) => s.metadata.name)).toEqual(['demo-ringcache-config']);
    expect(container(r).env).toBeUndefined();
    const json = configFile(r);
    expect(JSON.parse(json).dataDir).toBeUndefined();
    const config = loadAsPod(json, podEnv(r));
    expect(config.credentials.map((c) => c.accessKeyId)).toEqual(['admin', 'reader']);
    expect(config.credentials[1].grants).toEqual({ archive: 'read' });
    expect(config.dataDir).toBeUndefined();
    expect(r.notes).toContain('use one of the keys in auth.credentials');
  });

  it('auth.existingSecret: env reads that Secret with the configured key names', () => {
    const r = render({ auth: { existingSecret: 'my-s3-key', secretKeys: { accessKeyId: 'id', secretAccessKey: 'secret' } } });
    expect(r.byKind('Secret').map((s) => s.metadata.name)).toEqual(['demo-ringcache-config']);
    const mine = {
      kind: 'Secret',
      metadata: { name: 'my-s3-key' },
      data: { id: Buffer.from('external').toString('base64'), secret: Buffer.from('external-secret').toString('base64') },
    };
    const config = loadAsPod(configFile(r), podEnv(r, [mine]));
    expect(config.credentials[0]).toMatchObject({ accessKeyId: 'external', secretAccessKey: 'external-secret' });
  });

  it('ServiceMonitor and Ingress when enabled; the monitor selects only the client Service', () => {
    const r = render({
      serviceMonitor: { enabled: true, labels: { release: 'prom' } },
      ingress: { enabled: true, className: 'nginx', tls: [{ secretName: 's3-tls', hosts: ['s3.example.com'] }] },
      config: { server: { baseDomain: 's3.example.com' } },
    });
    const sm = r.one('ServiceMonitor');
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.metadata.labels.release).toBe('prom');
    expect(sm.spec.endpoints).toEqual([expect.objectContaining({ port: 's3', path: '/_ringcache/metrics', interval: '30s' })]);
    const selects = (svc: Obj): boolean => Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => svc.metadata.labels[k] === v);
    expect(r.byKind('Service').filter(selects).map((s) => s.metadata.name)).toEqual(['demo-ringcache']);

    const ing = r.one('Ingress');
    expect(ing.spec.ingressClassName).toBe('nginx');
    expect(ing.spec.tls).toEqual([{ hosts: ['s3.example.com'], secretName: 's3-tls' }]);
    expect(ing.spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'demo-ringcache', port: { number: 9000 } });
    expect(JSON.parse(configFile(r)).server.baseDomain).toBe('s3.example.com');
    expect(r.notes).toContain('aws --endpoint-url https://s3.example.com s3 ls');
  });

  it('persistence, image, replicas and service type options', () => {
    const r = render({
      replicaCount: 3,
      image: { repository: 'registry.example/ringcache', tag: 'dev' },
      persistence: { storageClass: 'fast', size: '50Gi' },
      service: { type: 'NodePort', nodePort: 30900 },
      extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=768' }],
    });
    const sts = r.one('StatefulSet');
    expect(sts.spec.replicas).toBe(3);
    expect(container(r).image).toBe('registry.example/ringcache:dev');
    expect(sts.spec.volumeClaimTemplates[0].spec).toMatchObject({ storageClassName: 'fast', resources: { requests: { storage: '50Gi' } } });
    expect(r.one('Service', 'demo-ringcache').spec.ports[0].nodePort).toBe(30900);
    expect(podEnv(r).NODE_OPTIONS).toBe('--max-old-space-size=768');

    const ephemeral = render({ persistence: { enabled: false } }).one('StatefulSet');
    expect(ephemeral.spec.volumeClaimTemplates).toBeUndefined();
    expect(ephemeral.spec.template.spec.volumes).toContainEqual({ name: 'data', emptyDir: {} });
  });

  it('fullnameOverride and a release named like the chart', () => {
    expect(render({ fullnameOverride: 'cache' }).one('StatefulSet').metadata.name).toBe('cache');
    const named = render({}, { name: 'ringcache', namespace: 'default' });
    expect(named.one('StatefulSet').metadata.name).toBe('ringcache');
    expect(named.byKind('Service').map((svc) => svc.metadata.name).sort()).toEqual(['ringcache', 'ringcache-headless']);
  });

  it.each([
    ['credentials with a single key', { ...TWO_KEYS, auth: { ...TWO_KEYS.auth, existingSecret: 'x' } }, /auth.credentials excludes/],
    ['half a key', { auth: { accessKeyId: 'only-id' } }, /both accessKeyId and secretAccessKey/],
    ['no dataDir and no mounts', { config: { dataDir: '' } }, /config.dataDir, at least one entry of mounts/],
    ['a mount with both stores', { mounts: [{ bucket: 'xyz', nfs: { server: 's', path: '/p' }, persistentVolumeClaim: { claimName: 'c' } }] }, /mounts\[0\] \(xyz\): give exactly one of .* not nfs, persistentVolumeClaim/],
    ['a mount with no store', { mounts: [{ bucket: 'xyz' }] }, /mounts\[0\] \(xyz\): give exactly one of nfs .* or uri .*, not none/],
    ['an nfs mount without path', { mounts: [{ bucket: 'xyz', nfs: { server: 's' } }] }, /server and path are required/],
    ['a bad bucket name', { mounts: [{ bucket: 'Bad_Name', nfs: { server: 's', path: '/p' } }] }, /not a valid bucket name/],
    ['a bucket mounted twice', { mounts: [{ bucket: 'xyz', nfs: { server: 's', path: '/p' } }, { bucket: 'xyz', persistentVolumeClaim: { claimName: 'c' } }] }, /mounted twice/],
  ])('refuses %s', (_name, overrides, message) => {
    expect(() => render(overrides as Obj)).toThrow(message);
  });
});

/** Three cluster pods serving shared mounts only (dataDir buckets would be per pod). */
const CLUSTER_OF_3 = { ...NFS_AND_PVC, replicaCount: 3, config: { dataDir: '' }, cluster: { enabled: true } };
const POD_DOMAIN = 'demo-ringcache-headless.storage.svc.cluster.local';
const podUrl = (i: number): string => `http://demo-ringcache-${i}.${POD_DOMAIN}:9000`;
const envEntry = (r: Rendered, name: string): Obj | undefined => (container(r).env ?? []).find((e: Obj) => e.name === name);
const CLUSTER_ENV = ['RINGCACHE_NODE_ID', 'RINGCACHE_ADVERTISE_URL', 'RINGCACHE_CLUSTER_SECRET', 'RINGCACHE_PEERS', 'RINGCACHE_CONSUL_URL', 'HOST_IP'];

describeRendered('helm chart: cluster mode', () => {
  it('disabled (the default): no cluster env, no cluster Secret, no cluster key in ringcache.json', () => {
    for (const r of [render(), render({ ...NFS_AND_PVC, replicaCount: 3 })]) {
      expect(Object.keys(podEnv(r)).filter((k) => CLUSTER_ENV.includes(k))).toEqual([]);
      expect(r.byKind('Secret').map((s) => s.metadata.name)).not.toContain('demo-ringcache-cluster');
      expect(JSON.parse(configFile(r)).cluster).toBeUndefined();
      expect(JSON.parse(configFile(r)).jobs).toEqual({ ...defaults().config.jobs, stateDir: '/data/jobs' });
      expect(r.notes).not.toContain('Cluster mode');
    }
  });

  it('static discovery, 3 replicas: node id = pod name, pod DNS address, every pod a peer, secret from a Secret', () => {
    const r = render(CLUSTER_OF_3);
    const sts = r.one('StatefulSet');
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    // Peers are addressed through the headless Service, which lists pods that are still starting.
    const headless = r.one('Service', sts.spec.serviceName);
    expect(headless.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });

    expect(envEntry(r, 'RINGCACHE_NODE_ID')).toEqual({ name: 'RINGCACHE_NODE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    expect(envEntry(r, 'RINGCACHE_ADVERTISE_URL')!.value).toBe(`http://$(RINGCACHE_NODE_ID).${POD_DOMAIN}:9000`);
    expect(envEntry(r, 'RINGCACHE_CLUSTER_SECRET')!.valueFrom.secretKeyRef).toEqual({ name: 'demo-ringcache-cluster', key: 'secret' });
    expect(envEntry(r, 'RINGCACHE_CONSUL_URL')).toBeUndefined();
    // Every pod slot up to cluster.maxReplicas (10), not just the 3 replicas: scaling changes no pod.
    const peers = Array.from({ length: 10 }, (_, i) => ({ id: `demo-ringcache-${i}`, url: podUrl(i) }));
    expect(envEntry(r, 'RINGCACHE_PEERS')!.value).toBe(peers.map((p) => `${p.id}=${p.url}`).join(','));

    const secret = r.one('Secret', 'demo-ringcache-cluster');
    expect(Buffer.from(secret.data.secret, 'base64').toString('utf8')).toMatch(/^[A-Za-z0-9]{48}$/);
    // A random secret is not in the pod template: it does not roll the pods on every upgrade.
    expect(sts.spec.template.metadata.annotations['checksum/cluster']).toBeUndefined();

    const json = configFile(r);
    const c = defaults().cluster;
    expect(JSON.parse(json).cluster).toEqual({ routing: 'proxy', forward: c.forward, health: c.health, suspectSeconds: c.suspectSeconds, handoff: c.handoff, lease: c.lease, quorum: c.quorum });
    for (const i of [0, 1, 2]) {
      const env = podEnv(r, [], { name: `demo-ringcache-${i}`, hostIP: '10.0.0.7' });
      const config = loadAsPod(json, env);
      expect(config.cluster).toMatchObject({ nodeId: `demo-ringcache-${i}`, advertiseUrl: podUrl(i), peers, routing: 'proxy', secret: env.RINGCACHE_CLUSTER_SECRET });
      expect(config.cluster.consul).toBeUndefined();
      // The pod finds itself in the peer list under the same id and URL the others use.
      expect(config.cluster.peers).toContainEqual({ id: config.cluster.nodeId, url: config.cluster.advertiseUrl });
      expect(config.jobs.stateDir).toBe('/data/jobs');
      expect(config.dataDir).toBeUndefined();
    }
    expect(r.notes).toContain('Cluster mode');
    expect(r.notes).toContain('Members: demo-ringcache-0 .. demo-ringcache-2');
    expect(r.notes).toContain('/_ringcache/cluster/ring');
  });

  it('cluster.secret, cluster.existingSecret, routing and clusterDomain', () => {
    const given = render({ ...CLUSTER_OF_3, cluster: { enabled: true, secret: 'a-shared-secret-of-32-characters', routing: 'redirect' }, clusterDomain: 'k8s.internal' });
    const env = podEnv(given);
    expect(env.RINGCACHE_CLUSTER_SECRET).toBe('a-shared-secret-of-32-characters');
    expect(env.RINGCACHE_ADVERTISE_URL).toBe('http://demo-ringcache-0.demo-ringcache-headless.storage.svc.k8s.internal:9000');
    expect(given.one('StatefulSet').spec.template.metadata.annotations['checksum/cluster']).toMatch(/^[0-9a-f]{64}$/);
    expect(loadAsPod(configFile(given), env).cluster.routing).toBe('redirect');

    const existing = render({ ...CLUSTER_OF_3, cluster: { enabled: true, existingSecret: 'ring-hmac', existingSecretKey: 'hmac' } });
    expect(existing.byKind('Secret').map((s) => s.metadata.name)).not.toContain('demo-ringcache-cluster');
    const mine = { kind: 'Secret', metadata: { name: 'ring-hmac' }, data: { hmac: Buffer.from('external-cluster-secret').toString('base64') } };
    expect(loadAsPod(configFile(existing), podEnv(existing, [mine])).cluster.secret).toBe('external-cluster-secret');
  });

  it('tls: HTTPS from a Secret for clients, probes, pod addresses and (mutual) node-to-node TLS', () => {
    const r = render({ ...CLUSTER_OF_3, tls: { enabled: true, existingSecret: 'ringcache-tls', mutual: true } });
    const sts = r.one('StatefulSet');
    const volume = sts.spec.template.spec.volumes.find((v: Obj) => v.name === 'tls');
    expect(volume.secret.secretName).toBe('ringcache-tls');
    expect(container(r).volumeMounts).toContainEqual({ name: 'tls', mountPath: '/etc/ringcache/tls', readOnly: true });
    for (const probe of [container(r).readinessProbe, container(r).livenessProbe]) expect(probe.httpGet).toEqual({ path: '/_ringcache/healthz', port: 's3', scheme: 'HTTPS' });
    const env = podEnv(r);
    expect(env.RINGCACHE_ADVERTISE_URL).toBe(`https://demo-ringcache-0.${POD_DOMAIN}:9000`);
    const json = JSON.parse(configFile(r));
    expect(json.server.tls).toEqual({ certFile: '/etc/ringcache/tls/tls.crt', keyFile: '/etc/ringcache/tls/tls.key' });
    expect(json.cluster.tls).toEqual({ caFile: '/etc/ringcache/tls/ca.crt', mutual: true });
    const config = loadAsPod(configFile(r), env);
    expect(config.cluster.peers.every((p: { url: string }) => p.url.startsWith('https://'))).toBe(true);
    expect(() => render({ tls: { enabled: true } })).toThrow(/tls.enabled needs tls.existingSecret/);
    expect(() => render({ tls: { mutual: true } })).toThrow(/tls.mutual needs tls.enabled/);
  });

  it('consul discovery: RINGCACHE_CONSUL_URL (with the node IP) and cluster.consul in ringcache.json, no static peers', () => {
    const r = render({
      ...CLUSTER_OF_3,
      cluster: { enabled: true, discovery: 'consul', consul: { url: 'http://$(HOST_IP):8500', token: 'consul-acl-token', checkTtlSeconds: 15 } },
    });
    expect(envEntry(r, 'RINGCACHE_PEERS')).toBeUndefined();
    expect(envEntry(r, 'HOST_IP')).toEqual({ name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } });
    const env = podEnv(r, [], { name: 'demo-ringcache-2', hostIP: '10.0.0.9' });
    expect(env.RINGCACHE_CONSUL_URL).toBe('http://10.0.0.9:8500');
    const json = configFile(r);
    expect(JSON.parse(json).cluster.consul).toEqual({
      serviceName: 'demo-ringcache-storage',
      token: 'consul-acl-token',
      checkTtlSeconds: 15,
      deregisterCriticalAfterSeconds: 300,
      waitSeconds: 60,
    });
    const config = loadAsPod(json, env);
    expect(config.cluster).toMatchObject({ nodeId: 'demo-ringcache-2', advertiseUrl: podUrl(2), peers: [] });
    expect(config.cluster.consul).toMatchObject({ url: 'http://10.0.0.9:8500', serviceName: 'demo-ringcache-storage', token: 'consul-acl-token', checkTtlSeconds: 15 });
    expect(r.notes).toContain('Consul service demo-ringcache-storage at http://$(HOST_IP):8500');

    const named = render({ ...CLUSTER_OF_3, cluster: { enabled: true, discovery: 'consul', consul: { url: 'http://consul.consul.svc:8500', serviceName: 's3-cache' } } });
    expect(JSON.parse(configFile(named)).cluster.consul).toEqual({ serviceName: 's3-cache', checkTtlSeconds: 10, deregisterCriticalAfterSeconds: 300, waitSeconds: 60 });
    expect(podEnv(named).RINGCACHE_CONSUL_URL).toBe('http://consul.consul.svc:8500');
  });

  it('etcd discovery: cluster.etcd in ringcache.json (a prefix per release), no static peers, no bootstrap quorum', () => {
    const r = render({ ...CLUSTER_OF_3, replicaCount: 12, cluster: { enabled: true, discovery: 'etcd', etcd: { endpoints: ['http://etcd-0.etcd:2379', 'http://etcd-1.etcd:2379'], leaseSeconds: 6 } } });
    expect(envEntry(r, 'RINGCACHE_PEERS')).toBeUndefined();
    expect(envEntry(r, 'RINGCACHE_CONSUL_URL')).toBeUndefined();
    expect(r.one('StatefulSet').spec.replicas).toBe(12); // not bounded by maxReplicas: no pod slots
    const json = JSON.parse(configFile(r));
    expect(json.cluster.etcd).toEqual({ endpoints: ['http://etcd-0.etcd:2379', 'http://etcd-1.etcd:2379'], prefix: '/ringcache/demo-ringcache-storage', leaseSeconds: 6, requestTimeoutMs: 2000 });
    expect(json.cluster.quorum.bootstrap).toBeUndefined();
    const env = podEnv(r, [], { name: 'demo-ringcache-4', hostIP: '10.0.0.7' });
    const config = loadAsPod(configFile(r), env);
    expect(config.cluster).toMatchObject({ nodeId: 'demo-ringcache-4', advertiseUrl: podUrl(4), peers: [] });
    expect(config.cluster.etcd).toMatchObject({ endpoints: ['http://etcd-0.etcd:2379', 'http://etcd-1.etcd:2379'], prefix: '/ringcache/demo-ringcache-storage', leaseSeconds: 6 });
    expect(r.notes).toContain('the pods holding a lease under /ringcache/demo-ringcache-storage in etcd at http://etcd-0.etcd:2379, http://etcd-1.etcd:2379');
    const named = render({ ...CLUSTER_OF_3, cluster: { enabled: true, discovery: 'etcd', etcd: { endpoints: ['http://etcd:2379'], prefix: '/caches/eu' } } });
    expect(JSON.parse(configFile(named)).cluster.etcd.prefix).toBe('/caches/eu');
  });

  it('dataDir buckets: accepted with one cluster pod or with allowPerPodDataDir', () => {
    // One pod: its first ring needs only itself (cluster.quorum.bootstrap 1).
    const onePod = { cluster: { enabled: true, quorum: { bootstrap: 1 } } };
    expect(loadAsPod(configFile(render(onePod)), podEnv(render(onePod))).dataDir).toBe('/data/buckets');
    const allowed = render({ replicaCount: 2, cluster: { enabled: true, allowPerPodDataDir: true } });
    expect(JSON.parse(configFile(allowed)).dataDir).toBe('/data/buckets');
  });

  it.each([
    ['config.dataDir with several cluster replicas', { replicaCount: 3, cluster: { enabled: true } }, /config.dataDir with cluster.enabled and replicaCount > 1: .*cluster.allowPerPodDataDir/],
    ['an unknown discovery', { cluster: { enabled: true, discovery: 'dns' } }, /cluster.discovery: "dns" is not static, consul or etcd/],
    ['etcd discovery without endpoints', { cluster: { enabled: true, discovery: 'etcd' } }, /cluster.etcd.endpoints is required/],
    ['an etcd prefix not starting with /', { cluster: { enabled: true, discovery: 'etcd', etcd: { endpoints: ['http://etcd:2379'], prefix: 'caches' } } }, /cluster.etcd.prefix must start with \//],
    ['a bootstrap quorum above the replica count', { replicaCount: 2, config: { dataDir: '' }, cluster: { enabled: true, quorum: { bootstrap: 3 } } }, /cluster.quorum.bootstrap 3 is more than replicaCount 2/],
    ['an unknown routing', { cluster: { enabled: true, routing: 'random' } }, /cluster.routing: "random" is not proxy or redirect/],
    ['a short cluster secret', { cluster: { enabled: true, secret: 'too-short' } }, /at least 16 characters/],
    ['a cluster secret and an existing Secret', { cluster: { enabled: true, secret: 'long-enough-secret-value', existingSecret: 'x' } }, /cluster.secret excludes cluster.existingSecret/],
    ['consul discovery without a url', { cluster: { enabled: true, discovery: 'consul' } }, /cluster.consul.url is required/],
  ])('refuses %s', (_name, overrides, message) => {
    expect(() => render(overrides as Obj)).toThrow(message);
  });
});

/** Stores of every kind, with credentials from existing and created Secrets. */
const ALL_STORES = {
  config: { dataDir: '' },
  mounts: [
    { bucket: 'archive', nfs: { server: 'nfs.example.internal', path: '/exports/archive' } },
    { bucket: 'datasets', persistentVolumeClaim: { claimName: 'datasets-rwx' }, readOnly: true },
    { bucket: 'lake', uri: 's3://analytics-lake/raw?region=eu-west-1', credentials: { existingSecret: 'lake-aws', keys: { accessKeyId: 'AWS_ACCESS_KEY_ID', secretAccessKey: 'AWS_SECRET_ACCESS_KEY', sessionToken: 'AWS_SESSION_TOKEN' } }, timeoutMs: 60000, maxConcurrency: 32 },
    { bucket: 'minio', uri: 's3://bucket?endpoint=http%3A%2F%2Fminio.minio.svc%3A9000&pathStyle=true', options: { maxAttempts: 3 }, credentials: { accessKeyId: 'minio', secretAccessKey: 'minio-secret-key' } },
    { bucket: 'models', uri: 'gs://ml-models/prod/', credentials: { existingSecret: 'gcs-reader' }, anonymousRead: true },
    { bucket: 'media', uri: 'gs://media-bucket', credentials: { serviceAccountKey: '{"type":"service_account","client_email":"a@b.iam"}' } },
    { bucket: 'warehouse', uri: 'hdfs://namenode.hadoop.svc:9870/user/hive/warehouse?user=hive', credentials: { existingSecret: 'hdfs-token' }, metadataTtlSeconds: 5 },
    { bucket: 'logs', uri: 'swebhdfs://namenode.hadoop.svc/logs', credentials: { delegationToken: 'token-123' } },
    { bucket: 'public', uri: 's3://open-data' },
  ],
};
const b64 = (text: string): string => Buffer.from(text).toString('base64');
const EXISTING_SECRETS = [
  { kind: 'Secret', metadata: { name: 'lake-aws' }, data: { AWS_ACCESS_KEY_ID: b64('AKIALAKE'), AWS_SECRET_ACCESS_KEY: b64('lake-secret'), AWS_SESSION_TOKEN: b64('lake-session') } },
  { kind: 'Secret', metadata: { name: 'gcs-reader' }, data: { 'key.json': b64('{}') } },
  { kind: 'Secret', metadata: { name: 'hdfs-token' }, data: { delegationToken: b64('hdfs-delegation') } },
];

describeRendered('helm chart: stores of every kind', () => {
  let r: Rendered;
  beforeAll(() => {
    r = render(ALL_STORES);
  });

  it('each mount becomes its store in ringcache.json, and the gateway loads it with the credentials from the Secrets', () => {
    const json = configFile(r);
    // No secret is written into the file: only references to the environment and a key file path.
    for (const secret of ['minio-secret-key', 'token-123', 'client_email']) expect(json).not.toContain(secret);
    const config = loadAsPod(json, podEnv(r, EXISTING_SECRETS));
    expect(config.mounts.archive.uri).toBe('file:///mnt/ufs/archive');
    expect(config.mounts.datasets.uri).toBe('file:///mnt/ufs/datasets');
    expect(config.mounts.lake).toMatchObject({
      uri: 's3://analytics-lake/raw?region=eu-west-1',
      timeoutMs: 60000,
      maxConcurrency: 32,
      options: { credentials: { accessKeyId: 'AKIALAKE', secretAccessKey: 'lake-secret', sessionToken: 'lake-session' } },
    });
    expect(config.mounts.minio.options).toEqual({ maxAttempts: 3, credentials: { accessKeyId: 'minio', secretAccessKey: 'minio-secret-key' } });
    expect(config.mounts.models).toMatchObject({ uri: 'gs://ml-models/prod/', anonymousRead: true, options: { keyFilename: '/etc/ringcache-stores/models/key.json' } });
    expect(config.mounts.media.options).toEqual({ keyFilename: '/etc/ringcache-stores/media/key.json' });
    expect(config.mounts.warehouse).toMatchObject({ metadataTtlSeconds: 5, options: { delegationToken: 'hdfs-delegation' } });
    expect(config.mounts.logs.options).toEqual({ delegationToken: 'token-123' });
    expect(config.mounts.public.options).toEqual({});
  });

  it('created Secrets hold the inline credentials; gs:// keys are files mounted read-only; NFS/PVC volumes only for those', () => {
    expect(r.byKind('Secret').map((s) => s.metadata.name).sort()).toEqual([
      'demo-ringcache-auth',
      'demo-ringcache-config',
      'demo-ringcache-mount-logs',
      'demo-ringcache-mount-media',
      'demo-ringcache-mount-minio',
    ]);
    const minio = r.one('Secret', 'demo-ringcache-mount-minio');
    expect(Object.fromEntries(Object.entries(minio.data).map(([k, v]) => [k, Buffer.from(v as string, 'base64').toString()]))).toEqual({ accessKeyId: 'minio', secretAccessKey: 'minio-secret-key' });
    const pod = r.one('StatefulSet').spec.template.spec;
    const volumes = new Map(pod.volumes.map((v: Obj) => [v.name, v]));
    expect(volumes.get('store-key-4')).toEqual({ name: 'store-key-4', secret: { secretName: 'gcs-reader', items: [{ key: 'key.json', path: 'key.json' }] } });
    expect(volumes.get('store-key-5')).toEqual({ name: 'store-key-5', secret: { secretName: 'demo-ringcache-mount-media', items: [{ key: 'key.json', path: 'key.json' }] } });
    expect([...volumes.keys()].filter((n) => (n as string).startsWith('ufs-'))).toEqual(['ufs-0', 'ufs-1']);
    expect(container(r).volumeMounts).toEqual(expect.arrayContaining([{ name: 'store-key-4', mountPath: '/etc/ringcache-stores/models', readOnly: true }]));
    // Changing an inline credential rolls the pods (the Secret is the chart's own).
    const annotations = r.one('StatefulSet').spec.template.metadata.annotations;
    const rotated = render({ ...ALL_STORES, mounts: ALL_STORES.mounts.map((m) => (m.bucket === 'minio' ? { ...m, credentials: { accessKeyId: 'minio', secretAccessKey: 'rotated-secret' } } : m)) });
    expect(rotated.one('StatefulSet').spec.template.metadata.annotations['checksum/mount-credentials']).not.toBe(annotations['checksum/mount-credentials']);
    expect(r.notes).toContain('s3://lake -> s3://analytics-lake/raw?region=eu-west-1 (credentials from Secret lake-aws)');
  });

  it.each([
    ['an unknown scheme', [{ bucket: 'xyz', uri: 'ftp://host/x' }], /mounts\[0\].uri \(xyz\): "ftp:\/\/host\/x" is not a store URI: use s3:\/\//],
    ['a uri and an NFS export', [{ bucket: 'xyz', uri: 's3://b', nfs: { server: 's', path: '/p' } }], /give exactly one of .* not nfs, uri/],
    ['readOnly on a uri', [{ bucket: 'xyz', uri: 's3://b', readOnly: true }], /subPath and readOnly apply to nfs and persistentVolumeClaim mounts/],
    ['half an S3 key', [{ bucket: 'xyz', uri: 's3://b', credentials: { accessKeyId: 'a' } }], /mounts\[0\].credentials \(xyz\): give accessKeyId and secretAccessKey, or existingSecret/],
    ['a GCS field on S3', [{ bucket: 'xyz', uri: 's3://b', credentials: { serviceAccountKey: '{}' } }], /serviceAccountKey is not a credential of a s3 mount/],
    ['existingSecret with values', [{ bucket: 'xyz', uri: 'gs://bucket', credentials: { existingSecret: 's', serviceAccountKey: '{}' } }], /existingSecret excludes serviceAccountKey/],
    ['credentials on an NFS export', [{ bucket: 'xyz', nfs: { server: 's', path: '/p' }, credentials: { existingSecret: 's' } }], /credentials apply to uri mounts/],
    ['options that are not a map', [{ bucket: 'xyz', uri: 'hdfs://nn/x', options: 'fast' }], /mounts\[0\].options \(xyz\): must be a map/],
  ])('refuses %s', (_name, mounts, message) => {
    expect(() => render({ mounts })).toThrow(message);
  });
});

describeRendered('helm chart: scaling', () => {
  it('a replica count change leaves the pod template as it is (static peers, Consul, defaults)', () => {
    for (const base of [CLUSTER_OF_3, { ...CLUSTER_OF_3, cluster: { enabled: true, discovery: 'consul', consul: { url: 'http://consul:8500' } } }, NFS_AND_PVC]) {
      const two = render({ ...base, replicaCount: 2 }).one('StatefulSet');
      const five = render({ ...base, replicaCount: 5 }).one('StatefulSet');
      expect(two.spec.replicas).toBe(2);
      expect(five.spec.replicas).toBe(5);
      expect(five.spec.template).toEqual(two.spec.template);
      expect(five.spec.volumeClaimTemplates).toEqual(two.spec.volumeClaimTemplates);
    }
  });

  it('every pod slot up to cluster.maxReplicas is a peer; more replicas than that are refused; raising it changes the template', () => {
    const at = render({ ...CLUSTER_OF_3, replicaCount: 4, cluster: { enabled: true, maxReplicas: 4 } });
    expect(podEnv(at).RINGCACHE_PEERS.split(',').map((p) => p.split('=')[0])).toEqual([0, 1, 2, 3].map((i) => `demo-ringcache-${i}`));
    expect(() => render({ ...CLUSTER_OF_3, replicaCount: 5, cluster: { enabled: true, maxReplicas: 4 } })).toThrow(/replicaCount 5 is more than cluster.maxReplicas 4: .*raise cluster.maxReplicas \(this restarts every pod once\)/);
    const raised = render({ ...CLUSTER_OF_3, replicaCount: 4, cluster: { enabled: true, maxReplicas: 8 } });
    expect(raised.one('StatefulSet').spec.template).not.toEqual(at.one('StatefulSet').spec.template);
    // Consul discovery has no peer list, so no bound.
    expect(render({ ...CLUSTER_OF_3, replicaCount: 20, cluster: { enabled: true, discovery: 'consul', consul: { url: 'http://consul:8500' } } }).one('StatefulSet').spec.replicas).toBe(20);
    expect(at.notes).toContain('kubectl -n storage scale statefulset/demo-ringcache --replicas=N (N <= 4)');
  });
});

describeRendered('helm chart: monitoring', () => {
  const MONITORED = { ...CLUSTER_OF_3, prometheusRule: { enabled: true, labels: { release: 'prom' } }, grafanaDashboard: { enabled: true, annotations: { grafana_folder: 'Storage' } }, serviceMonitor: { enabled: true } };
  let r: Rendered;
  beforeAll(() => {
    r = render(MONITORED);
  });

  it('off by default', () => {
    const plain = render();
    expect(plain.byKind('PrometheusRule')).toEqual([]);
    expect(plain.byKind('ConfigMap')).toEqual([]);
  });

  it('PrometheusRule: node down, ring incomplete, hit ratio collapse from counters, store errors, disk tier full; promtool accepts them', () => {
    const rule = r.one('PrometheusRule');
    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule.metadata.labels.release).toBe('prom');
    const rules: Obj[] = rule.spec.groups[0].rules;
    expect(rules.map((x) => x.alert)).toEqual(['RingcacheNodeDown', 'RingcacheRingIncomplete', 'RingcacheHitRatioCollapse', 'RingcacheStoreErrors', 'RingcacheDiskTierFull']);
    const sel = 'namespace="storage",pod=~"demo-ringcache-[0-9]+"';
    const byName = new Map(rules.map((x) => [x.alert, x]));
    expect(byName.get('RingcacheNodeDown')!.expr).toBe(`up{${sel}} == 0`);
    const hitRatio = byName.get('RingcacheHitRatioCollapse')!.expr as string;
    expect(hitRatio).toContain(`ringcache_cache_page_lookups_total{${sel},result=~"memory|disk"}`);
    expect(hitRatio).not.toContain('ringcache_cache_hit_ratio');
    expect(byName.get('RingcacheStoreErrors')!.expr).toContain('ringcache_ufs_calls_total');
    expect(byName.get('RingcacheDiskTierFull')!.expr).toContain('persistentvolumeclaim=~"data-demo-ringcache-[0-9]+"');
    for (const x of rules) expect(x).toEqual(expect.objectContaining({ for: expect.any(String), labels: { severity: expect.stringMatching(/^(critical|warning)$/) }, annotations: expect.objectContaining({ summary: expect.any(String), description: expect.any(String) }) }));
    const missing = promtoolMissing();
    if (missing && !mustHaveTools) return console.warn(`promtool check skipped: ${missing}`);
    const checked = promtoolCheckRules(rule.spec);
    expect(checked.output).toContain('SUCCESS: 5 rules found');
    expect(checked.ok).toBe(true);
  });

  it('switches, thresholds and extra rules are values; outside cluster mode there is no ring alert', () => {
    const tuned = render({ ...NFS_AND_PVC, prometheusRule: { enabled: true, selector: 'job="s3"', storeErrors: { ratio: 0.2 }, diskTierFull: { enabled: false }, additionalRules: [{ alert: 'Mine', expr: 'vector(1)' }] } });
    const rules: Obj[] = tuned.one('PrometheusRule').spec.groups[0].rules;
    expect(rules.map((x) => x.alert)).toEqual(['RingcacheNodeDown', 'RingcacheHitRatioCollapse', 'RingcacheStoreErrors', 'Mine']);
    expect(rules[0].expr).toBe('up{job="s3"} == 0');
    expect(rules[2].expr).toMatch(/> 0\.2$/);
  });

  it('the dashboard ConfigMap carries the sidecar label and a dashboard whose every query Prometheus parses', () => {
    const cm = r.one('ConfigMap', 'demo-ringcache-dashboard');
    expect(cm.metadata.labels.grafana_dashboard).toBe('1');
    expect(cm.metadata.annotations).toEqual({ grafana_folder: 'Storage' });
    const dashboard = JSON.parse(cm.data['ringcache.json']);
    expect(dashboard).toEqual(JSON.parse(readFileSync(path.join(CHART, 'dashboards/ringcache.json'), 'utf8')));
    expect(dashboard).toMatchObject({ title: 'Ringcache', uid: 'ringcache' });
    const exprs: string[] = dashboard.panels.flatMap((p: Obj) => (p.targets ?? []).map((t: Obj) => t.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(20);
    // Hit ratios come from the counters; the lifetime gauge is not used.
    expect(exprs.some((e) => e.includes('ringcache_cache_page_lookups_total') && e.includes('result=~"memory|disk"'))).toBe(true);
    expect(exprs.filter((e) => e.includes('ringcache_cache_hit_ratio'))).toEqual([]);
    // Every metric a query names is one the gateway exports (src/admin/metrics.ts).
    const metricsSource = readFileSync(path.join(ROOT, 'src/admin/metrics.ts'), 'utf8');
    const exported = new Set([...metricsSource.matchAll(/name: '(ringcache_[a-z0-9_]+)'/g)].map((m) => m[1]));
    const named = new Set(exprs.flatMap((e) => [...e.matchAll(/\b(ringcache_[a-z0-9_]+)/g)].map((m) => m[1].replace(/_(bucket|sum|count)$/, ''))));
    expect([...named].filter((n) => !exported.has(n))).toEqual([]);
    const missing = promtoolMissing();
    if (missing && !mustHaveTools) return console.warn(`promtool check skipped: ${missing}`);
    // Grafana's variables, as Grafana substitutes them, then each query parsed by promtool.
    const concrete = exprs.map((e) => e.replace(/\$__rate_interval/g, '5m').replace(/\$(job|instance)/g, '.*'));
    const checked = promtoolCheckRules({ groups: [{ name: 'dashboard', rules: concrete.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }] });
    expect(checked.output).toContain(`SUCCESS: ${concrete.length} rules found`);
  });
});

/** Every leaf path of a plain object, e.g. "cache.metadata.ttlSeconds". */
function leaves(value: Obj, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [k, v] of Object.entries(value)) {
    if (isMap(v) && Object.keys(v).length > 0) for (const [p, x] of leaves(v, `${prefix}${k}.`)) out.set(p, x);
    else out.set(`${prefix}${k}`, v);
  }
  return out;
}

describe('helm chart: values.yaml keeps in step with the gateway schema', () => {
  // The gateway's defaults for everything (Consul included, to see its settings).
  const gateway = parseConfig({ dataDir: '/d', credentials: [{ accessKeyId: 'abc', secretAccessKey: '12345678' }], cluster: { consul: {} } });
  const values = defaults();
  /** Set by the chart itself, or per pod from the environment. */
  const FIXED = ['server.host', 'cache.disk.path', 'jobs.stateDir'];
  const FROM_ENV = ['cluster.nodeId', 'cluster.advertiseUrl', 'cluster.secret', 'cluster.peers', 'cluster.consul.url', 'cluster.consul.token', 'cluster.consul.serviceName'];
  /** Deliberately different defaults, with the reason in values.yaml. */
  const CHART_DEFAULTS: Record<string, unknown> = { 'cache.disk.maxBytes': 5368709120, 'server.baseDomain': '' };

  it.each(['server', 'cache', 'jobs', 'multipart', 'tempFiles', 'log'])('config.%s: every setting, with the gateway default', (section) => {
    const schema = leaves((gateway as Obj)[section], `${section}.`);
    const chart = leaves(values.config[section], `${section}.`);
    const expected = [...schema.keys(), ...Object.keys(CHART_DEFAULTS).filter((k) => k.startsWith(`${section}.`))].filter((k) => !FIXED.includes(k));
    expect([...new Set([...chart.keys()])].sort()).toEqual([...new Set(expected)].sort());
    for (const [key, value] of chart) expect([key, value]).toEqual([key, key in CHART_DEFAULTS ? CHART_DEFAULTS[key] : schema.get(key)]);
  });

  it('cluster: every setting of the schema is a value, the environment, or the chart', () => {
    const schema = leaves(gateway.cluster as Obj, 'cluster.');
    const chart = leaves(values.cluster, 'cluster.');
    for (const [key, value] of schema) {
      if (FROM_ENV.includes(key)) continue;
      expect([key, chart.get(key)]).toEqual([key, value]);
    }
  });

  it('mounts: every per-mount setting of the schema is a mount key the chart passes on', () => {
    const helpers = readFileSync(path.join(TEMPLATES, '_helpers.tpl'), 'utf8');
    let s: any = configSchema;
    while (s && !s.shape && s._def?.schema) s = s._def.schema;
    const mountKeys = Object.keys(s.shape.mounts._def.innerType._def.valueType.shape);
    expect(mountKeys.sort()).toEqual(['anonymousRead', 'cache', 'maxConcurrency', 'metadataTtlSeconds', 'options', 'timeoutMs', 'uri']);
    for (const key of ['metadataTtlSeconds', 'timeoutMs', 'maxConcurrency', 'cache']) expect(helpers).toContain(`"${key}"`);
  });

  it('extraConfig is merged last, false and 0 included', () => {
    if (renderMissing && !mustHaveTools) return;
    const r = render({ extraConfig: { cache: { enabled: false, readAheadPages: 0, metadata: { maxEntries: 7 } }, log: { level: 'debug' } } });
    const config = loadAsPod(configFile(r), podEnv(r));
    expect(config.cache).toMatchObject({ enabled: false, readAheadPages: 0, metadata: { maxEntries: 7, ttlSeconds: 60 }, disk: { path: '/data/cache' } });
    expect(config.log.level).toBe('debug');
  });
});

describeRendered('helm chart: every manifest against the Kubernetes API types', () => {
  const SCENARIOS: Record<string, Obj> = {
    defaults: {},
    'NFS and PVC, several keys': { ...NFS_AND_PVC, ...TWO_KEYS, config: { dataDir: '' } },
    'stores of every kind': ALL_STORES,
    'static cluster, monitoring, ingress, NodePort': {
      ...CLUSTER_OF_3,
      serviceMonitor: { enabled: true },
      prometheusRule: { enabled: true },
      grafanaDashboard: { enabled: true },
      ingress: { enabled: true, className: 'nginx', tls: [{ secretName: 't', hosts: ['s3.example.com'] }] },
      service: { type: 'NodePort', nodePort: 30900 },
    },
    'consul cluster, existing secrets, no persistence': {
      ...CLUSTER_OF_3,
      cluster: { enabled: true, discovery: 'consul', consul: { url: 'http://$(HOST_IP):8500', token: 't' }, existingSecret: 'ring' },
      auth: { existingSecret: 'key' },
      persistence: { enabled: false },
      extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=768' }],
      extraVolumes: [{ name: 'extra', emptyDir: {} }],
      extraVolumeMounts: [{ name: 'extra', mountPath: '/extra' }],
      tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoSchedule' }],
      nodeSelector: { disk: 'ssd' },
      resources: { requests: { cpu: 1, memory: '1Gi' }, limits: { memory: '2Gi' } },
    },
  };

  it.each(Object.keys(SCENARIOS))('%s', (name) => {
    const missing = kubernetesValidatorMissing();
    if (missing && !mustHaveTools) return console.warn(`Kubernetes validation skipped: ${missing}`);
    const r = render(SCENARIOS[name]);
    // Custom resources (monitoring.coreos.com) have no schema here: checked by the tests above.
    const core = r.docs.filter((d) => !String(d.apiVersion).startsWith('monitoring.coreos.com/'));
    expect(core.length).toBeGreaterThanOrEqual(5);
    const { problems, kubernetesClient } = validateKubernetes(core);
    expect(kubernetesClient).toMatch(/^\d+\./);
    expect(problems).toEqual([]);
  });

  it('the validator does catch mistakes: an unknown field, a wrong type, a missing required field', () => {
    const missing = kubernetesValidatorMissing();
    if (missing && !mustHaveTools) return console.warn(`Kubernetes validation skipped: ${missing}`);
    const sts = structuredClone(render().one('StatefulSet'));
    sts.spec.template.spec.containers[0].imagePullPolicyy = 'Always';
    sts.spec.replicas = '3';
    delete sts.spec.template.spec.containers[0].name;
    sts.metadata.labels.number = 1;
    const { problems } = validateKubernetes([sts, { apiVersion: 'v9', kind: 'Nope', metadata: { name: 'x' } }]);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('containers[0].imagePullPolicyy: unknown field of V1Container'),
        expect.stringContaining('spec.replicas: expected an integer'),
        expect.stringContaining('metadata.labels.number: expected a string'),
        'Nope/x: no Kubernetes API type for apiVersion \'v9\' kind \'Nope\'',
      ]),
    );
    delete sts.spec.template.spec.containers[0].imagePullPolicyy;
    sts.spec.replicas = 3;
    sts.metadata.labels.number = '1';
    expect(validateKubernetes([sts]).problems).toEqual([expect.stringMatching(/Invalid value for `name`, must not be `None`/)]);
  });
});
