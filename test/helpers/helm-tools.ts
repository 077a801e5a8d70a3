/**
 * The tools the Helm chart's tests run, all from Debian packages (.ci/run installs them):
 *  - helm-render (test/helm/render.go): the chart rendered by Go's text/template with Sprig, the
 *    engine Helm uses; built once with golang-go in GOPATH mode against
 *    golang-github-masterminds-sprig-dev and golang-k8s-sigs-yaml-dev, cached by source hash;
 *  - test/helm/validate-k8s.py: manifests checked against the Kubernetes API types of
 *    python3-kubernetes (Debian's /usr/bin/python3);
 *  - promtool (prometheus): alert rules and dashboard queries parsed by Prometheus itself.
 * A missing tool makes `missing` say which and how to install it: the tests then skip with that
 * reason, except in CI (CI=true), where they fail.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const RENDER_SOURCE = path.join(ROOT, 'test/helm/render.go');
const VALIDATOR = path.join(ROOT, 'test/helm/validate-k8s.py');
const GOCODE = '/usr/share/gocode';
const PYTHON = '/usr/bin/python3';

type Obj = Record<string, any>;

interface RenderRelease {
  name: string;
  namespace: string;
}

interface RenderResult {
  files?: Record<string, string>;
  error?: string;
}

/** In CI a missing tool fails; elsewhere the test skips with the reason. */
export const mustHaveTools = process.env.CI === 'true';

let renderBinary: { path?: string; missing?: string } | undefined;

/** Builds helm-render once (per source version, into node_modules/.cache); the path, or why it cannot be built here. */
export function helmRenderBinary(): { path?: string; missing?: string } {
  if (renderBinary) return renderBinary;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) return (renderBinary = { missing: 'no Go toolchain: apt-get install golang-go' });
  for (const [pkg, dir] of [
    ['golang-github-masterminds-sprig-dev', 'github.com/Masterminds/sprig'],
    ['golang-k8s-sigs-yaml-dev', 'sigs.k8s.io/yaml'],
  ]) {
    if (!existsSync(path.join(GOCODE, 'src', dir))) return (renderBinary = { missing: `no ${dir} in ${GOCODE}: apt-get install ${pkg}` });
  }
  const source = readFileSync(RENDER_SOURCE);
  const hash = createHash('sha256').update(source).update(go.stdout).digest('hex').slice(0, 16);
  // Kept between runs beside the other tool caches (not in /tmp): one build per source version.
  const dir = path.join(ROOT, 'node_modules', '.cache', `helm-render-${hash}`);
  const binary = path.join(dir, 'helm-render');
  if (existsSync(binary)) return (renderBinary = { path: binary });
  mkdirSync(dir, { recursive: true });
  const gopath = mkdtempSync(path.join(os.tmpdir(), 'ringcache-gopath-'));
  const partial = `${binary}.${process.pid}`;
  const built = spawnSync('go', ['build', '-o', partial, RENDER_SOURCE], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, GO111MODULE: 'off', GOPATH: `${gopath}:${GOCODE}`, GOFLAGS: '' },
    timeout: 300_000,
  });
  rmSync(gopath, { recursive: true, force: true });
  if (built.status !== 0) throw new Error(`building ${RENDER_SOURCE} failed:\n${built.stdout}${built.stderr}${built.error ?? ''}`);
  renameSync(partial, binary);
  return (renderBinary = { path: binary });
}

/** Renders the chart once per set of user values, in one helm-render process. */
export function renderChart(chartDir: string, release: RenderRelease, cases: Obj[]): RenderResult[] {
  const { path: binary, missing } = helmRenderBinary();
  if (!binary) throw new Error(missing);
  const res = spawnSync(binary, ['-batch'], {
    input: JSON.stringify({ chart: chartDir, release: { ...release, revision: 1, isInstall: true }, cases: cases.map((values) => ({ values })) }),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: 60_000,
  });
  if (res.status !== 0) throw new Error(`helm-render failed: ${res.stderr}${res.error ?? ''}`);
  return JSON.parse(res.stdout) as RenderResult[];
}

/** Why the Kubernetes validator cannot run here, or undefined. */
export function kubernetesValidatorMissing(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import kubernetes'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : `no Kubernetes API types for ${PYTHON}: apt-get install python3-kubernetes`;
}

/** Problems of the manifests against the Kubernetes API types (empty when they are valid). */
export function validateKubernetes(docs: Obj[]): { kubernetesClient: string; problems: string[] } {
  const res = spawnSync(PYTHON, [VALIDATOR], { input: JSON.stringify(docs), encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  if (res.status !== 0) throw new Error(`validate-k8s.py failed: ${res.stderr}${res.error ?? ''}`);
  return JSON.parse(res.stdout) as { kubernetesClient: string; problems: string[] };
}

/** Why promtool cannot run here, or undefined. */
export function promtoolMissing(): string | undefined {
  return spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0 ? undefined : 'no promtool: apt-get install prometheus';
}

/** `promtool check rules` on a rule file's content; its output, and whether it passed. */
export function promtoolCheckRules(rules: Obj): { ok: boolean; output: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ringcache-rules-'));
  try {
    const file = path.join(dir, 'rules.json');
    writeFileSync(file, JSON.stringify(rules));
    const res = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8', timeout: 60_000 });
    return { ok: res.status === 0, output: `${res.stdout}${res.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
