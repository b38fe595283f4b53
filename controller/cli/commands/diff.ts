// `runnerctl diff -f FILE`: what `apply` would change, as kubectl diff shows it: a unified diff
// of each pool's stored metadata and spec against the file's. Exit 0 when nothing would
// change, 1 when something would (as kubectl diff), other errors as every command.

import type { Command } from 'commander';
import { stringify } from 'yaml';
import { API_VERSION, POOL_KIND } from '../../api/types.ts';
import { addStoreOptions, type CliContext, type StoreFlags } from '../context.ts';
import { ExitStatus } from '../errors.ts';
import { unifiedDiff } from '../line-diff.ts';
import { addPoolFileOptions, loadPools, readStoredPools, type PoolFileFlags } from './apply.ts';

/** Keys sorted at every level: the store and the file may order them differently. */
function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sorted(v)]),
    );
  }
  return value;
}

/** The part of a pool that apply writes, as YAML. */
function appliedYaml(name: string, metadata: object, spec: object): string {
  return stringify({
    apiVersion: API_VERSION,
    kind: POOL_KIND,
    metadata: sorted({ ...metadata, name }),
    spec: sorted(spec),
  });
}

export function register(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('diff')
    .description('show what apply -f would change in the store, as a unified diff');
  addStoreOptions(addPoolFileOptions(cmd)).action(async (opts: StoreFlags & PoolFileFlags) => {
    const pools = await loadPools(ctx, opts, 'diff');
    const names = pools.map((p) => p.pool.metadata.name);
    const existing = await readStoredPools(ctx, opts, names, 'diff');
    let changed = false;
    pools.forEach(({ pool }, i) => {
      const stored = existing[i];
      const name = pool.metadata.name;
      const live = stored ? appliedYaml(name, stored.metadata, stored.spec) : '';
      const text = unifiedDiff(
        `live/runnerpool/${name}`,
        `applied/runnerpool/${name}`,
        live,
        appliedYaml(name, pool.metadata, pool.spec),
      );
      if (text) {
        changed = true;
        ctx.io.stdout.write(text);
      }
    });
    if (changed) throw new ExitStatus(1);
  });
}
