/**
 * This build's version: the `version` of the package.json of the project (found upwards from
 * this file, from src/ under ts-jest as from dist/src/ in a build). The dashboard shows it per
 * node, so a rolling upgrade half done is visible.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

let cached: string | undefined;

export function softwareVersion(): string {
  if (cached !== undefined) return cached;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'ringcache' && pkg.version) return (cached = pkg.version);
    } catch {
      // not here: one folder up
    }
    if (path.dirname(dir) === dir) return (cached = 'unknown');
  }
}
