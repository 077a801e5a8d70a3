/**
 * Summarises a V8 CPU profile (`node --cpu-prof`), e.g. the gateway's during a cache
 * benchmark run:
 *
 *   BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/gw-prof" BENCH_CLASSES=4k BENCH_CONNS=64 \
 *     BENCH_SCENARIOS=throughput node dist/bench/cache-wrk.js
 *   node dist/bench/cache-cpuprofile-top.js /tmp/gw-prof/*.cpuprofile [--top N] [--window FROM:TO]
 *
 * --window keeps the samples between FROM and TO seconds after the profile's start (the
 * per-second timeline printed first shows where the measured run is: the busy stretch at
 * the end, just before shutdown); without it the whole profile counts. Prints the functions with the most self time, then self time grouped by where the code
 * lives (the gateway's own dist/src, a package under node_modules, Node's internals, GC,
 * idle), and the inclusive ("total") time of the heaviest gateway functions.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function where(url: string): string {
  if (!url) return '(native / V8)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `node_modules/${pkg[1]}`;
  if (url.startsWith('node:')) return 'node: internals';
  const own = /\/dist\/((?:src|ufs-adapters|bench)\/.*)$/.exec(url);
  if (own) return own[1].replace(/\/[^/]+$/, '/');
  return url;
}

function shortUrl(url: string): string {
  const pkg = /node_modules\/(.*)$/.exec(url);
  if (pkg) return pkg[1];
  const own = /\/dist\/(.*)$/.exec(url);
  return own ? own[1] : url;
}

function main(): void {
  const args = process.argv.slice(2);
  let top = 25;
  let window: [number, number] | undefined;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--top') top = Number(args[++i]);
    else if (args[i] === '--window') {
      const m = /^([\d.]+):([\d.]+)$/.exec(args[++i] ?? '');
      if (!m) throw new Error('--window FROM:TO (seconds after the start of the profile)');
      window = [Number(m[1]) * 1e6, Number(m[2]) * 1e6];
    } else files.push(args[i]);
  }
  const file = files[0];
  if (!file || files.length > 1 || !Number.isFinite(top)) {
    console.error('usage: node dist/bench/cache-cpuprofile-top.js FILE.cpuprofile [--top N] [--window FROM:TO]');
    process.exitCode = 2;
    return;
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const idleIds = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  const self = new Map<number, number>(); // node id -> µs
  const perSecond: { busy: number; all: number }[] = [];
  let at = 0; // µs since the profile's start
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    const second = (perSecond[Math.floor(at / 1e6)] ??= { busy: 0, all: 0 });
    second.all += dt;
    if (!idleIds.has(profile.samples[i])) second.busy += dt;
    if (window && (at < window[0] || at > window[1])) continue;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
  }
  console.log('Main-thread busy % per second since the start of the profile:');
  console.log(
    perSecond
      .map((s, i) => `${String(i).padStart(3)}s ${s ? String(Math.round((100 * s.busy) / Math.max(1, s.all))).padStart(3) : '  -'}%`)
      .reduce<string[]>((rows, cell, i) => {
        if (i % 10 === 0) rows.push('');
        rows[rows.length - 1] += `  ${cell}`;
        return rows;
      }, [])
      .join('\n'),
  );
  if (window) console.log(`\nOnly samples from ${window[0] / 1e6} s to ${window[1] / 1e6} s:`);
  const total = [...self.values()].reduce((a, b) => a + b, 0);

  const frameKey = (f: CallFrame): string => `${f.functionName || '(anonymous)'}  ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
  const selfByFrame = new Map<string, number>();
  const selfByPlace = new Map<string, number>();
  const totalByFrame = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    const f = node.callFrame;
    selfByFrame.set(frameKey(f), (selfByFrame.get(frameKey(f)) ?? 0) + us);
    const place = f.functionName === '(idle)' || f.functionName === '(garbage collector)' || f.functionName === '(program)' ? f.functionName : where(f.url);
    selfByPlace.set(place, (selfByPlace.get(place) ?? 0) + us);
    // inclusive: every distinct frame on the stack gets the sample once
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = frameKey(byId.get(cur)!.callFrame);
      if (!seen.has(k)) {
        seen.add(k);
        totalByFrame.set(k, (totalByFrame.get(k) ?? 0) + us);
      }
    }
  }
  const idle = selfByPlace.get('(idle)') ?? 0;
  const busy = total - idle;
  const ms = (us: number): string => (us / 1000).toFixed(1).padStart(9);
  const pct = (us: number): string => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const sorted = (m: Map<string, number>): [string, number][] => [...m.entries()].sort((a, b) => b[1] - a[1]);

  console.log(`\n${file}: ${(total / 1e6).toFixed(2)} s sampled, ${(idle / 1e6).toFixed(2)} s idle, ${(busy / 1e6).toFixed(2)} s busy (percentages are of busy time)`);
  console.log(`\nTop ${top} functions by self time:`);
  console.log(`  ${'self ms'.padStart(9)}  ${'%'.padStart(6)}  function  location`);
  for (const [k, us] of sorted(selfByFrame).filter(([k]) => !k.startsWith('(idle)')).slice(0, top)) console.log(`  ${ms(us)}  ${pct(us)}  ${k}`);
  console.log('\nSelf time by where the code lives:');
  for (const [k, us] of sorted(selfByPlace).filter(([k]) => k !== '(idle)')) console.log(`  ${ms(us)}  ${pct(us)}  ${k}`);
  console.log(`\nTop ${top} gateway functions (dist/src, dist/ufs-adapters) by total (inclusive) time:`);
  for (const [k, us] of sorted(totalByFrame)
    .filter(([k]) => /\s(src|ufs-adapters)\//.test(k))
    .slice(0, top))
    console.log(`  ${ms(us)}  ${pct(us)}  ${k}`);
}

main();
