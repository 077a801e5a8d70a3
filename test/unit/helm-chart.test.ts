/**
 * The Helm chart in helm/ringcache.
 *
 * Debian has no `helm` package and no binary can be downloaded, so this suite checks the chart
 * on its own:
 *  - Chart.yaml and values.yaml parse (js-yaml, already in node_modules through jest);
 *  - every .Values path the templates read exists in values.yaml;
 *  - the config template writes only the top-level keys of the gateway's strict schema;
 *  - the templates are rendered by a small interpreter of the Go-template + Sprig subset the chart
 *    uses (below; an unknown function or construct fails loudly), and the manifests are checked:
 *    wiring between objects, and ringcache.json loaded by the gateway's own loadConfig with the
 *    environment the pod would get.
 * When a `helm` binary is on PATH, `helm lint` and `helm template` run too.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomInt } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load-config';
import { configSchema } from '../../src/config/schema';

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
// A Go text/template interpreter for the subset the chart uses, with Helm's objects and the
// Sprig functions below. Values are what Helm has: numbers from values.yaml are float64.
// ---------------------------------------------------------------------------------------------

class TemplateError extends Error {
  override name = 'TemplateError';
}

interface TextItem {
  type: 'text';
  text: string;
}
interface ActionItem {
  type: 'action';
  src: string;
  trimLeft: boolean;
  trimRight: boolean;
  where: string;
}

/** Splits template text into text and {{ actions }}, applying the {{- and -}} trim markers. */
function splitTemplate(src: string, file: string): Array<TextItem | ActionItem> {
  const items: Array<TextItem | ActionItem> = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      items.push({ type: 'text', text: src.slice(i) });
      break;
    }
    items.push({ type: 'text', text: src.slice(i, open) });
    let j = open + 2;
    let trimLeft = false;
    if (src[j] === '-' && /[ \t\r\n]/.test(src[j + 1] ?? '')) {
      trimLeft = true;
      j += 1;
    }
    let k = j;
    let end = -1;
    while (k < src.length) {
      if (src[k] === '"') {
        k++;
        while (k < src.length && src[k] !== '"') k += src[k] === '\\' ? 2 : 1;
        k++;
      } else if (src[k] === '`') {
        k = src.indexOf('`', k + 1) + 1;
        if (k === 0) break;
      } else if (src.startsWith('/*', k)) {
        const close = src.indexOf('*/', k + 2);
        if (close < 0) break;
        k = close + 2;
      } else if (src.startsWith('}}', k)) {
        end = k;
        break;
      } else k++;
    }
    const line = src.slice(0, open).split('\n').length;
    if (end < 0) throw new TemplateError(`${file}:${line}: unclosed action`);
    let inner = src.slice(j, end);
    let trimRight = false;
    if (/[ \t\r\n]-$/.test(inner)) {
      trimRight = true;
      inner = inner.slice(0, -1);
    }
    items.push({ type: 'action', src: inner.trim(), trimLeft, trimRight, where: `${file}:${line}` });
    i = end + 2;
  }
  items.forEach((item, n) => {
    if (item.type !== 'action') return;
    const prev = items[n - 1];
    const next = items[n + 1];
    if (item.trimLeft && prev?.type === 'text') prev.text = prev.text.replace(/[ \t\r\n]+$/, '');
    if (item.trimRight && next?.type === 'text') next.text = next.text.replace(/^[ \t\r\n]+/, '');
  });
  return items;
}

interface Tok {
  k: 'str' | 'num' | 'ident' | 'var' | 'field' | 'dot' | 'op';
  v?: any;
  path?: string[];
  sp: boolean; // whitespace before
}

function lexAction(s: string, where: string): Tok[] {
  const toks: Tok[] = [];
  const ident = /[A-Za-z_][A-Za-z0-9_]*/y;
  let i = 0;
  let sp = true;
  const readPath = (): string[] => {
    const p: string[] = [];
    while (s[i] === '.' && /[A-Za-z_]/.test(s[i + 1] ?? '')) {
      ident.lastIndex = i + 1;
      p.push(ident.exec(s)![0]);
      i = ident.lastIndex;
    }
    return p;
  };
  while (i < s.length) {
    const c = s[i];
    if (/\s/.test(c)) {
      i++;
      sp = true;
      continue;
    }
    if (s.startsWith('/*', i)) {
      i = s.indexOf('*/', i) + 2;
      sp = true;
      continue;
    }
    let tok: Tok;
    if (c === '"') {
      let j = i + 1;
      while (s[j] !== '"') {
        if (j >= s.length) throw new TemplateError(`${where}: unterminated string`);
        j += s[j] === '\\' ? 2 : 1;
      }
      tok = { k: 'str', v: JSON.parse(s.slice(i, j + 1)), sp };
      i = j + 1;
    } else if (c === '`') {
      const j = s.indexOf('`', i + 1);
      tok = { k: 'str', v: s.slice(i + 1, j), sp };
      i = j + 1;
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(s[i + 1] ?? ''))) {
      const num = /-?[0-9]+(\.[0-9]+)?/y;
      num.lastIndex = i;
      tok = { k: 'num', v: Number(num.exec(s)![0]), sp };
      i = num.lastIndex;
    } else if (c === '$') {
      i++;
      ident.lastIndex = i;
      const m = ident.exec(s);
      if (m) i = ident.lastIndex;
      tok = { k: 'var', v: m ? m[0] : '', sp };
      tok.path = readPath();
    } else if (c === '.') {
      if (/[A-Za-z_]/.test(s[i + 1] ?? '')) tok = { k: 'field', path: readPath(), sp };
      else {
        tok = { k: 'dot', sp };
        i++;
      }
    } else if (/[A-Za-z_]/.test(c)) {
      ident.lastIndex = i;
      tok = { k: 'ident', v: ident.exec(s)![0], sp };
      i = ident.lastIndex;
    } else if (s.startsWith(':=', i)) {
      tok = { k: 'op', v: ':=', sp };
      i += 2;
    } else if ('()|,='.includes(c)) {
      tok = { k: 'op', v: c, sp };
      i++;
    } else throw new TemplateError(`${where}: unexpected "${c}" in {{ ${s} }}`);
    toks.push(tok);
    sp = false;
  }
  return toks;
}

type Operand =
  | { k: 'lit'; v: unknown }
  | { k: 'dot' }
  | { k: 'field'; path: string[] }
  | { k: 'var'; name: string; path: string[] }
  | { k: 'fn'; name: string }
  | { k: 'sub'; pipe: Pipe; path: string[] };
interface Pipe {
  decl?: { names: string[]; assign: boolean };
  cmds: Operand[][];
}
type Node =
  | { k: 'text'; text: string }
  | { k: 'out'; pipe: Pipe; where: string }
  | { k: 'if' | 'with'; branches: Array<{ pipe: Pipe; body: Node[] }>; otherwise?: Node[]; where: string }
  | { k: 'range'; pipe: Pipe; body: Node[]; otherwise?: Node[]; where: string }
  | { k: 'tmpl'; name: string; pipe?: Pipe; where: string };

function parsePipe(toks: Tok[], where: string): Pipe {
  let i = 0;
  let decl: Pipe['decl'];
  const isOp = (t: Tok | undefined, v: string): boolean => t?.k === 'op' && t.v === v;
  if (toks[0]?.k === 'var' && !toks[0].path!.length) {
    if (isOp(toks[1], ':=') || isOp(toks[1], '=')) {
      decl = { names: [toks[0].v], assign: toks[1].v === '=' };
      i = 2;
    } else if (isOp(toks[1], ',') && toks[2]?.k === 'var' && isOp(toks[3], ':=')) {
      decl = { names: [toks[0].v, toks[2].v], assign: false };
      i = 4;
    }
  }
  const pipeline = (): Pipe => {
    const cmds = [command()];
    while (isOp(toks[i], '|')) {
      i++;
      cmds.push(command());
    }
    return { cmds };
  };
  const command = (): Operand[] => {
    const args: Operand[] = [];
    while (i < toks.length && !isOp(toks[i], '|') && !isOp(toks[i], ')')) args.push(operand());
    if (!args.length) throw new TemplateError(`${where}: empty command`);
    return args;
  };
  const operand = (): Operand => {
    const t = toks[i++];
    switch (t.k) {
      case 'str':
      case 'num':
        return { k: 'lit', v: t.v };
      case 'ident':
        if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
        if (t.v === 'nil') return { k: 'lit', v: null };
        return { k: 'fn', name: t.v };
      case 'var':
        return { k: 'var', name: t.v, path: t.path! };
      case 'field':
        return { k: 'field', path: t.path! };
      case 'dot':
        return { k: 'dot' };
      case 'op':
        if (t.v === '(') {
          const pipe = pipeline();
          if (!isOp(toks[i++], ')')) throw new TemplateError(`${where}: missing )`);
          let p: string[] = [];
          if (toks[i]?.k === 'field' && !toks[i].sp) p = toks[i++].path!;
          return { k: 'sub', pipe, path: p };
        }
    }
    throw new TemplateError(`${where}: unexpected token ${JSON.stringify(t)}`);
  };
  const pipe = pipeline();
  if (i !== toks.length) throw new TemplateError(`${where}: unexpected ${JSON.stringify(toks[i])}`);
  pipe.decl = decl;
  return pipe;
}

/** Parses one file; its {{ define }}s go into `defines`. */
function parseTemplate(src: string, file: string, defines: Map<string, Node[]>): Node[] {
  const items = splitTemplate(src, file);
  let pos = 0;
  type Stop = { kw: 'end' | 'else'; toks: Tok[]; where: string };
  const list = (): { nodes: Node[]; stop?: Stop } => {
    const nodes: Node[] = [];
    while (pos < items.length) {
      const item = items[pos++];
      if (item.type === 'text') {
        if (item.text) nodes.push({ k: 'text', text: item.text });
        continue;
      }
      if (item.src.startsWith('/*')) continue;
      const toks = lexAction(item.src, item.where);
      const kw = toks[0]?.k === 'ident' ? (toks[0].v as string) : '';
      const where = item.where;
      switch (kw) {
        case 'end':
          return { nodes, stop: { kw: 'end', toks: [], where } };
        case 'else':
          return { nodes, stop: { kw: 'else', toks: toks.slice(1), where } };
        case 'if':
        case 'with': {
          const branches = [{ pipe: parsePipe(toks.slice(1), where), body: [] as Node[] }];
          let otherwise: Node[] | undefined;
          for (;;) {
            const r = list();
            if (!r.stop) throw new TemplateError(`${where}: unclosed ${kw}`);
            branches[branches.length - 1].body = r.nodes;
            if (r.stop.kw === 'end') break;
            if (r.stop.toks[0]?.k === 'ident' && r.stop.toks[0].v === kw) {
              branches.push({ pipe: parsePipe(r.stop.toks.slice(1), r.stop.where), body: [] });
              continue;
            }
            if (r.stop.toks.length) throw new TemplateError(`${r.stop.where}: unsupported else form`);
            const e = list();
            if (e.stop?.kw !== 'end') throw new TemplateError(`${where}: unclosed ${kw}`);
            otherwise = e.nodes;
            break;
          }
          nodes.push({ k: kw, branches, otherwise, where });
          break;
        }
        case 'range': {
          const pipe = parsePipe(toks.slice(1), where);
          const r = list();
          if (!r.stop) throw new TemplateError(`${where}: unclosed range`);
          let otherwise: Node[] | undefined;
          if (r.stop.kw === 'else') {
            const e = list();
            if (e.stop?.kw !== 'end') throw new TemplateError(`${where}: unclosed range`);
            otherwise = e.nodes;
          }
          nodes.push({ k: 'range', pipe, body: r.nodes, otherwise, where });
          break;
        }
        case 'define': {
          const r = list();
          if (r.stop?.kw !== 'end') throw new TemplateError(`${where}: unclosed define`);
          defines.set(toks[1].v, r.nodes);
          break;
        }
        case 'template':
          nodes.push({ k: 'tmpl', name: toks[1].v, pipe: toks.length > 2 ? parsePipe(toks.slice(2), where) : undefined, where });
          break;
        case 'block':
        case 'break':
        case 'continue':
          throw new TemplateError(`${where}: "${kw}" is not supported by the test's interpreter`);
        default:
          nodes.push({ k: 'out', pipe: parsePipe(toks, where), where });
      }
    }
    return { nodes };
  };
  const r = list();
  if (r.stop) throw new TemplateError(`${r.stop.where}: unexpected {{ ${r.stop.kw} }}`);
  return r.nodes;
}

const isMap = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function truth(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v !== '';
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

/** Go's %v for a float64 (strconv "g", shortest): exponent form when the exponent is < -4 or >= 6. */
function goFloat(n: number): string {
  if (n === 0) return '0';
  const [mant, e] = n.toExponential().split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(n);
}

/** What {{ value }} prints (Helm turns <no value> into ""). */
function printValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return goFloat(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(printValue).join(' ')}]`;
  if (isMap(v)) return `map[${Object.keys(v).sort().map((k) => `${k}:${printValue(v[k])}`).join(' ')}]`;
  return String(v);
}

/** Sprig's strval. */
const strval = (v: unknown): string => (v === null || v === undefined ? '<nil>' : printValue(v));

function goKind(v: unknown): string {
  if (v === null || v === undefined) return 'invalid';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'slice';
  return 'map';
}

function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (isMap(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeysDeep(v[k])]));
  return v;
}

function goSprintf(format: string, ...args: unknown[]): string {
  let n = 0;
  return format.replace(/%([-+# 0-9.]*)([a-zA-Z%])/g, (_m, flags: string, verb: string) => {
    if (verb === '%') return '%';
    if (flags) throw new TemplateError(`printf: flags "${flags}" not supported by the test's interpreter`);
    const a = args[n++];
    switch (verb) {
      case 'v':
        return a === null || a === undefined ? '<nil>' : printValue(a);
      case 's':
      case 'q':
        // Helm would print %!s(float64=9000): a chart bug, so fail here.
        if (typeof a !== 'string') throw new TemplateError(`printf %${verb} given ${goKind(a)} ${printValue(a)}`);
        return verb === 's' ? a : JSON.stringify(a);
      default:
        // %d on a values.yaml number (a float64) prints %!d(float64=...) in Helm.
        throw new TemplateError(`printf %${verb} is not used by the chart (numbers from values are float64: use %v)`);
    }
  });
}

function goEq(a: unknown, b: unknown): boolean {
  if (a === null || a === undefined || b === null || b === undefined || typeof a !== typeof b || typeof a === 'object') {
    throw new TemplateError(`eq/ne: incompatible or invalid types ${goKind(a)} and ${goKind(b)}`);
  }
  return a === b;
}

/** Go's lt/gt: numbers with numbers, strings with strings (the interpreter cannot tell int from float64). */
function goCompare(a: unknown, b: unknown): number {
  if ((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string')) return a < b ? -1 : a > b ? 1 : 0;
  throw new TemplateError(`lt/gt: incompatible types for comparison: ${goKind(a)} and ${goKind(b)}`);
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

const SPRIG: Record<string, (...a: any[]) => unknown> = {
  default: (d: unknown, ...given: unknown[]) => (given.length === 0 || !truth(given[0]) ? d : given[0]),
  empty: (v: unknown) => !truth(v),
  not: (v: unknown) => !truth(v),
  eq: (a: unknown, ...bs: unknown[]) => bs.some((b) => goEq(a, b)),
  ne: (a: unknown, b: unknown) => !goEq(a, b),
  quote: (...xs: unknown[]) => xs.filter((x) => x !== null && x !== undefined).map((x) => JSON.stringify(strval(x))).join(' '),
  toString: strval,
  printf: goSprintf,
  print: (...xs: unknown[]) =>
    xs.reduce<string>((acc, x, i) => acc + (i > 0 && typeof x !== 'string' && typeof xs[i - 1] !== 'string' ? ' ' : '') + printValue(x), ''),
  trunc: (c: number, s: string) => (c < 0 && s.length + c > 0 ? s.slice(s.length + c) : c >= 0 && s.length > c ? s.slice(0, c) : s),
  trimSuffix: (suffix: string, s: string) => (s.endsWith(suffix) ? s.slice(0, s.length - suffix.length) : s),
  replace: (old: string, next: string, s: string) => s.split(old).join(next),
  contains: (sub: string, s: string) => s.includes(sub),
  upper: (s: string) => s.toUpperCase(),
  lower: (s: string) => s.toLowerCase(),
  regexMatch: (re: string, s: string) => new RegExp(re).test(s),
  indent: (n: number, s: string) => s.split('\n').map((l) => ' '.repeat(n) + l).join('\n'),
  nindent: (n: number, s: string) => '\n' + s.split('\n').map((l) => ' '.repeat(n) + l).join('\n'),
  toYaml: (v: unknown) => yaml.safeDump(v ?? null, { sortKeys: true, noArrayIndent: true, lineWidth: -1 }).replace(/\n$/, ''),
  toJson: (v: unknown) => JSON.stringify(sortKeysDeep(v ?? null)),
  toPrettyJson: (v: unknown) => JSON.stringify(sortKeysDeep(v ?? null), null, 2),
  b64enc: (s: string) => Buffer.from(s, 'utf8').toString('base64'),
  b64dec: (s: string) => Buffer.from(s, 'base64').toString('utf8'),
  sha256sum: (s: string) => createHash('sha256').update(s, 'utf8').digest('hex'),
  randAlphaNum: (n: number) => Array.from({ length: n }, () => ALNUM[randomInt(ALNUM.length)]).join(''),
  dict: (...kv: unknown[]) => {
    const d: Obj = {};
    for (let i = 0; i < kv.length; i += 2) d[strval(kv[i])] = kv[i + 1] ?? null;
    return d;
  },
  set: (d: Obj, k: string, v: unknown) => {
    d[k] = v;
    return d;
  },
  hasKey: (d: Obj, k: string) => Object.prototype.hasOwnProperty.call(d, k),
  list: (...xs: unknown[]) => xs,
  // Sprig's int (cast.ToInt) and until (a []int of 0..n-1); sub works on int64.
  int: (v: unknown) => {
    if (typeof v === 'number') return Math.trunc(v);
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v === 'string' && /^-?[0-9]+$/.test(v)) return Number(v);
    return 0;
  },
  until: (n: number) => {
    if (!Number.isInteger(n)) throw new TemplateError(`until given ${goKind(n)} ${printValue(n)}`);
    return Array.from({ length: Math.max(n, 0) }, (_, i) => i);
  },
  sub: (a: number, b: number) => Math.trunc(a) - Math.trunc(b),
  lt: (a: unknown, b: unknown) => goCompare(a, b) < 0,
  gt: (a: unknown, b: unknown) => goCompare(a, b) > 0,
  len: (v: unknown) => {
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (isMap(v)) return Object.keys(v).length;
    throw new TemplateError(`len of ${goKind(v)}`);
  },
  index: (c: unknown, ...keys: unknown[]) =>
    keys.reduce((v: any, k) => {
      if (v === null || v === undefined) throw new TemplateError('index of untyped nil');
      return v[k as string] ?? null;
    }, c),
  kindIs: (kind: string, v: unknown) => goKind(v) === kind,
  required: (msg: string, v: unknown) => {
    if (v === null || v === undefined || v === '') throw new TemplateError(`execution error: ${msg}`);
    return v;
  },
  fail: (msg: string) => {
    throw new TemplateError(`execution error: ${msg}`);
  },
  // `helm template` and `helm lint` have no cluster: lookup returns an empty map.
  lookup: () => ({}),
};

class Chart {
  readonly defines = new Map<string, Node[]>();
  readonly files = new Map<string, Node[]>();

  constructor(readonly dir: string) {
    for (const name of readdirSync(path.join(dir, 'templates')).sort()) {
      const file = `templates/${name}`;
      const nodes = parseTemplate(readFileSync(path.join(dir, file), 'utf8'), file, this.defines);
      if (!name.startsWith('_')) this.files.set(file, nodes);
    }
  }

  /** Renders every template file, as `helm template` does before splitting documents. */
  render(values: Obj, release: { Name: string; Namespace: string }): Map<string, string> {
    const chart = yaml.safeLoad(readFileSync(path.join(this.dir, 'Chart.yaml'), 'utf8')) as Obj;
    const out = new Map<string, string>();
    for (const [file, nodes] of this.files) {
      const root = {
        Values: values,
        Release: { ...release, Service: 'Helm', IsInstall: true, IsUpgrade: false, Revision: 1 },
        Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion, Description: chart.description },
        Template: { Name: `${chart.name}/${file}`, BasePath: `${chart.name}/templates` },
        Capabilities: { KubeVersion: { Version: 'v1.30.0', Major: '1', Minor: '30' } },
      };
      out.set(file, this.exec(nodes, root, [new Map([['', root]])]));
    }
    return out;
  }

  private exec(nodes: Node[], dot: unknown, vars: Array<Map<string, unknown>>): string {
    let out = '';
    for (const n of nodes) {
      switch (n.k) {
        case 'text':
          out += n.text;
          break;
        case 'out': {
          const v = this.pipe(n.pipe, dot, vars, n.where);
          if (!n.pipe.decl) out += printValue(v);
          break;
        }
        case 'if':
        case 'with': {
          let done = false;
          for (const b of n.branches) {
            const v = this.pipe(b.pipe, dot, vars, n.where);
            if (truth(v)) {
              out += this.exec(b.body, n.k === 'with' ? v : dot, [...vars, new Map()]);
              done = true;
              break;
            }
          }
          if (!done && n.otherwise) out += this.exec(n.otherwise, dot, [...vars, new Map()]);
          break;
        }
        case 'range': {
          const v = this.pipe({ cmds: n.pipe.cmds }, dot, vars, n.where);
          let entries: Array<[unknown, unknown]>;
          if (v === null || v === undefined) entries = [];
          else if (Array.isArray(v)) entries = v.map((e, i) => [i, e]);
          else if (isMap(v)) entries = Object.keys(v).sort().map((k) => [k, v[k]]);
          else throw new TemplateError(`${n.where}: range can't iterate over ${printValue(v)}`);
          if (!entries.length && n.otherwise) out += this.exec(n.otherwise, dot, [...vars, new Map()]);
          const names = n.pipe.decl?.names ?? [];
          for (const [key, elem] of entries) {
            const frame = new Map<string, unknown>();
            if (names.length === 1) frame.set(names[0], elem);
            if (names.length === 2) frame.set(names[0], key).set(names[1], elem);
            out += this.exec(n.body, elem, [...vars, frame]);
          }
          break;
        }
        case 'tmpl':
          out += this.include(n.name, n.pipe ? this.pipe(n.pipe, dot, vars, n.where) : null, n.where);
          break;
      }
    }
    return out;
  }

  private include(name: string, data: unknown, where: string): string {
    const body = this.defines.get(name);
    if (!body) throw new TemplateError(`${where}: no template "${name}"`);
    return this.exec(body, data, [new Map([['', data]])]);
  }

  private pipe(p: Pipe, dot: unknown, vars: Array<Map<string, unknown>>, where: string): unknown {
    let val: unknown;
    p.cmds.forEach((cmd, i) => {
      val = this.command(cmd, dot, vars, i > 0 ? { v: val } : undefined, where);
    });
    if (p.decl) {
      const name = p.decl.names[0];
      if (p.decl.assign) {
        const frame = [...vars].reverse().find((f) => f.has(name));
        if (!frame) throw new TemplateError(`${where}: undefined variable $${name}`);
        frame.set(name, val);
      } else vars[vars.length - 1].set(name, val);
    }
    return val;
  }

  private command(args: Operand[], dot: unknown, vars: Array<Map<string, unknown>>, piped: { v: unknown } | undefined, where: string): unknown {
    const [first, ...rest] = args;
    if (first.k !== 'fn') {
      if (rest.length || piped) throw new TemplateError(`${where}: can't give an argument to a non-function`);
      return this.operand(first, dot, vars, where);
    }
    const thunks = rest.map((a) => () => this.operand(a, dot, vars, where));
    if (piped) thunks.push(() => piped.v);
    if (first.name === 'and' || first.name === 'or') {
      let v: unknown;
      for (const t of thunks) {
        v = t();
        if (first.name === 'and' ? !truth(v) : truth(v)) return v;
      }
      return v;
    }
    if (first.name === 'include') {
      const [name, data] = thunks.map((t) => t());
      return this.include(name as string, data, where);
    }
    const fn = SPRIG[first.name];
    if (!fn) throw new TemplateError(`${where}: function "${first.name}" is not in the test's Sprig subset`);
    try {
      return fn(...thunks.map((t) => t()));
    } catch (err) {
      if (err instanceof TemplateError) throw new TemplateError(`${where}: ${err.message}`);
      throw new TemplateError(`${where}: ${first.name}: ${(err as Error).message}`);
    }
  }

  private operand(op: Operand, dot: unknown, vars: Array<Map<string, unknown>>, where: string): unknown {
    const walk = (v: unknown, p: string[]): unknown =>
      p.reduce((cur: unknown, key) => {
        if (cur === null || cur === undefined) throw new TemplateError(`${where}: nil pointer evaluating .${key}`);
        if (!isMap(cur)) throw new TemplateError(`${where}: can't evaluate field ${key} in ${goKind(cur)}`);
        return Object.prototype.hasOwnProperty.call(cur, key) ? cur[key] : null;
      }, v);
    switch (op.k) {
      case 'lit':
        return op.v;
      case 'dot':
        return dot;
      case 'field':
        return walk(dot, op.path);
      case 'var': {
        const frame = [...vars].reverse().find((f) => f.has(op.name));
        if (!frame) throw new TemplateError(`${where}: undefined variable $${op.name}`);
        return walk(frame.get(op.name), op.path);
      }
      case 'fn':
        return this.command([op], dot, vars, undefined, where);
      case 'sub':
        return walk(this.pipe(op.pipe, dot, vars, where), op.path);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers over the chart
// ---------------------------------------------------------------------------------------------

const readYaml = (file: string): Obj => yaml.safeLoad(readFileSync(path.join(CHART, file), 'utf8')) as Obj;
const defaults = (): Obj => readYaml('values.yaml');

/** Helm's merge of user values over the chart's: maps merge, anything else replaces, null deletes. */
function mergeValues(base: Obj, over: Obj): Obj {
  const out: Obj = structuredClone(base);
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else if (isMap(v) && isMap(out[k])) out[k] = mergeValues(out[k], v);
    else out[k] = structuredClone(v);
  }
  return out;
}

interface Rendered {
  docs: Obj[];
  notes: string;
  byKind(kind: string): Obj[];
  one(kind: string, name?: string): Obj;
}

const RELEASE = { Name: 'demo', Namespace: 'storage' };
const chartInterpreter = new Chart(CHART);

function render(overrides: Obj = {}): Rendered {
  const files = chartInterpreter.render(mergeValues(defaults(), overrides), RELEASE);
  const docs: Obj[] = [];
  for (const [file, text] of files) {
    if (file.endsWith('NOTES.txt')) continue;
    for (const doc of yaml.safeLoadAll(text)) if (doc !== null && doc !== undefined) docs.push(doc as Obj);
  }
  return fromDocs(docs, files.get('templates/NOTES.txt') ?? '');
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

// ---------------------------------------------------------------------------------------------

describe('helm chart: files', () => {
  it('Chart.yaml is a v2 chart named ringcache 0.1.0', () => {
    const chart = readYaml('Chart.yaml');
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'ringcache', version: '0.1.0', appVersion: '0.1.0', type: 'application' });
  });

  it('values.yaml parses, with the documented defaults', () => {
    const v = defaults();
    expect(v.replicaCount).toBe(1);
    expect(v.cluster).toMatchObject({ enabled: false, discovery: 'static', routing: 'proxy', allowPerPodDataDir: false });
    expect(v.config.jobs).toEqual({ retainFinishedSeconds: 604800 });
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

describe('helm chart: the test interpreter agrees with Go templates on the basics', () => {
  const run = (src: string, data: Obj): string => {
    const defines = new Map<string, Node[]>();
    const nodes = parseTemplate(src, 'inline', defines);
    const c = Object.create(Chart.prototype) as Chart;
    Object.assign(c, { defines, files: new Map([['inline', nodes]]) });
    return (c as any).exec(nodes, data, [new Map([['', data]])]);
  };

  it('trims, ranges over maps in key order, scopes variables', () => {
    expect(run('a  {{- range $k, $v := .m }} {{ $k }}={{ $v }} {{- end }}\n  b', { m: { z: 1, a: 'x' } })).toBe('a a=x z=1\n  b');
    expect(run('{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}', {})).toBe('2');
    expect(run("{{ .a | default \"d\" | quote }} {{ (dict \"k\" 1).k }}", { a: '' })).toBe('"d" 1');
  });

  it('prints values.yaml numbers as Helm does (float64), hence toJson for big ones', () => {
    expect(run('{{ .n }} {{ .p }} {{ toJson .n }}', { n: 5368709120, p: 9000 })).toBe('5.36870912e+09 9000 5368709120');
  });

  it('fails on an unknown function, a nil dereference and a bad printf', () => {
    expect(() => run('{{ nope 1 }}', {})).toThrow(/not in the test's Sprig subset/);
    expect(() => run('{{ .a.b }}', {})).toThrow(/nil pointer/);
    expect(() => run('{{ printf "%s" .n }}', { n: 1 })).toThrow(/printf %s/);
  });
});

describe('helm chart: rendered with default values', () => {
  const r = render();

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

describe('helm chart: rendered with options', () => {
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
    const files = chartInterpreter.render(defaults(), { Name: 'ringcache', Namespace: 'default' });
    expect(files.get('templates/service.yaml')).toMatch(/name: ringcache\n/);
  });

  it.each([
    ['credentials with a single key', { ...TWO_KEYS, auth: { ...TWO_KEYS.auth, existingSecret: 'x' } }, /auth.credentials excludes/],
    ['half a key', { auth: { accessKeyId: 'only-id' } }, /both accessKeyId and secretAccessKey/],
    ['no dataDir and no mounts', { config: { dataDir: '' } }, /config.dataDir, at least one entry of mounts/],
    ['a mount with both stores', { mounts: [{ bucket: 'xyz', nfs: { server: 's', path: '/p' }, persistentVolumeClaim: { claimName: 'c' } }] }, /not both/],
    ['a mount with no store', { mounts: [{ bucket: 'xyz' }] }, /give nfs/],
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

describe('helm chart: cluster mode', () => {
  it('disabled (the default): no cluster env, no cluster Secret, no cluster key in ringcache.json', () => {
    for (const r of [render(), render({ ...NFS_AND_PVC, replicaCount: 3 })]) {
      expect(Object.keys(podEnv(r)).filter((k) => CLUSTER_ENV.includes(k))).toEqual([]);
      expect(r.byKind('Secret').map((s) => s.metadata.name)).not.toContain('demo-ringcache-cluster');
      expect(JSON.parse(configFile(r)).cluster).toBeUndefined();
      expect(JSON.parse(configFile(r)).jobs).toEqual({ stateDir: '/data/jobs', retainFinishedSeconds: 604800 });
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
    const peers = [0, 1, 2].map((i) => ({ id: `demo-ringcache-${i}`, url: podUrl(i) }));
    expect(envEntry(r, 'RINGCACHE_PEERS')!.value).toBe(peers.map((p) => `${p.id}=${p.url}`).join(','));

    const secret = r.one('Secret', 'demo-ringcache-cluster');
    expect(Buffer.from(secret.data.secret, 'base64').toString('utf8')).toMatch(/^[A-Za-z0-9]{48}$/);
    // A random secret is not in the pod template: it does not roll the pods on every upgrade.
    expect(sts.spec.template.metadata.annotations['checksum/cluster']).toBeUndefined();

    const json = configFile(r);
    expect(JSON.parse(json).cluster).toEqual({ routing: 'proxy' });
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
    });
    const config = loadAsPod(json, env);
    expect(config.cluster).toMatchObject({ nodeId: 'demo-ringcache-2', advertiseUrl: podUrl(2), peers: [] });
    expect(config.cluster.consul).toMatchObject({ url: 'http://10.0.0.9:8500', serviceName: 'demo-ringcache-storage', token: 'consul-acl-token', checkTtlSeconds: 15 });
    expect(r.notes).toContain('Consul service demo-ringcache-storage at http://$(HOST_IP):8500');

    const named = render({ ...CLUSTER_OF_3, cluster: { enabled: true, discovery: 'consul', consul: { url: 'http://consul.consul.svc:8500', serviceName: 's3-cache' } } });
    expect(JSON.parse(configFile(named)).cluster.consul).toEqual({ serviceName: 's3-cache', checkTtlSeconds: 10, deregisterCriticalAfterSeconds: 300 });
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

const helmBinary = spawnSync('helm', ['version', '--short'], { encoding: 'utf8' });
const hasHelm = helmBinary.status === 0;

describe('helm chart: with the helm binary', () => {
  (hasHelm ? it : it.skip)('helm lint and helm template accept the chart; ringcache.json loads', () => {
    const helm = (...args: string[]): string => {
      const res = spawnSync('helm', args, { cwd: ROOT, encoding: 'utf8' });
      if (res.status !== 0) throw new Error(`helm ${args.join(' ')} failed:\n${res.stdout}\n${res.stderr}`);
      return res.stdout;
    };
    helm('lint', 'helm/ringcache');
    const dir = mkdtempSync(path.join(tmpdir(), 'ringcache-helm-'));
    try {
      const extra = path.join(dir, 'values.json');
      writeFileSync(extra, JSON.stringify({ ...NFS_AND_PVC, serviceMonitor: { enabled: true }, ingress: { enabled: true } }));
      const cluster = path.join(dir, 'cluster.json');
      writeFileSync(cluster, JSON.stringify(CLUSTER_OF_3));
      helm('lint', 'helm/ringcache', '-f', extra);
      helm('lint', 'helm/ringcache', '-f', cluster);
      for (const args of [[], ['-f', extra], ['-f', cluster]]) {
        const out = helm('template', 'demo', 'helm/ringcache', '--namespace', 'storage', ...args);
        const r = fromDocs(yaml.safeLoadAll(out).filter((d) => d) as Obj[], '');
        const config = loadAsPod(configFile(r), podEnv(r));
        expect(config.server.port).toBe(9000);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
