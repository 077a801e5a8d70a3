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
    { bucket: 'archive', nfs: { server: 'nfs.example.internal', path: '/exports/archive' }, anonymousRead: true, metadataTtlSeconds: 0 },
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
    expect(parsed.server).toEqual({ host: '0.0.0.0', port: 9000, region: 'us-east-1', maxPutSize: 5368709120 });

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
      archive: { uri: 'file:///mnt/ufs/archive', anonymousRead: true, metadataTtlSeconds: 0 },
      'data.sets': { uri: 'file:///mnt/ufs/data.sets', anonymousRead: false },
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
    expect(JSON.parse(json).cluster).toEqual({ routing: 'proxy', forward: c.forward, health: c.health, suspectSeconds: c.suspectSeconds, handoff: c.handoff });
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

  it('dataDir buckets: accepted with one cluster pod or with allowPerPodDataDir', () => {
    expect(loadAsPod(configFile(render({ cluster: { enabled: true } })), podEnv(render({ cluster: { enabled: true } }))).dataDir).toBe('/data/buckets');
    const allowed = render({ replicaCount: 2, cluster: { enabled: true, allowPerPodDataDir: true } });
    expect(JSON.parse(configFile(allowed)).dataDir).toBe('/data/buckets');
  });

  it.each([
    ['config.dataDir with several cluster replicas', { replicaCount: 3, cluster: { enabled: true } }, /config.dataDir with cluster.enabled and replicaCount > 1: .*cluster.allowPerPodDataDir/],
    ['an unknown discovery', { cluster: { enabled: true, discovery: 'dns' } }, /cluster.discovery: "dns" is not static or consul/],
    ['an unknown routing', { cluster: { enabled: true, routing: 'random' } }, /cluster.routing: "random" is not proxy or redirect/],
    ['a short cluster secret', { cluster: { enabled: true, secret: 'too-short' } }, /at least 16 characters/],
    ['a cluster secret and an existing Secret', { cluster: { enabled: true, secret: 'long-enough-secret-value', existingSecret: 'x' } }, /cluster.secret excludes cluster.existingSecret/],
    ['consul discovery without a url', { cluster: { enabled: true, discovery: 'consul' } }, /cluster.consul.url is required/],
  ])('refuses %s', (_name, overrides, message) => {
    expect(() => render(overrides as Obj)).toThrow(message);
  });
});
