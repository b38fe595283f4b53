// Which pool runs a job, and at which size. Pure: no I/O, no clock.
//
// The rule (docs/reconcile.md "Matching"):
// - Labels compare case-insensitively; `self-hosted` is implicit on every pool.
// - A job matches a pool when every job label is a pool label, except that at most one job
//   label may name one of the pool's sizes.
// - The size is the named one, else the pool's defaultSize (none when the pool has no sizes).
// - Among matching pools: highest priority, then most specific (fewest pool labels the job did
//   not ask for), then name (ascending). Pools marked for deletion never match.
// - A job that matches no pool but would match a pool with sizes except for exactly one extra
//   label is refused by that pool: "size X not offered by pool P". It is not launched. Only
//   jobs meant for self-hosted runners (labelled `self-hosted`, or sharing a pool label) are
//   refused; a lone `ubuntu-latest` is GitHub's, not a size request.

import { SELF_HOSTED_LABEL } from './labels.ts';
import type { PoolSize, RunnerPoolSpec } from './types.ts';

/** What matching needs to know about a pool (a PoolRecord satisfies it). */
export interface MatchablePool {
  name: string;
  spec: Pick<RunnerPoolSpec, 'labels' | 'sizes' | 'defaultSize' | 'priority'>;
  deletionRequestedAt?: string;
}

export type PoolMatch =
  | {
      kind: 'match';
      pool: string;
      /** The size the runner starts with; absent when the pool declares no sizes. */
      size?: PoolSize;
      /** True when the job named the size; false when it got the default (or none). */
      sizeRequested: boolean;
      /** Pool labels the job did not ask for (the specificity measure: fewer is better). */
      extraLabels: number;
    }
  | { kind: 'refused'; pool: string; sizeLabel: string; reason: string }
  | { kind: 'none' };

export function normaliseLabel(label: string): string {
  return label.trim().toLowerCase();
}

/** Job labels without `self-hosted`, lower-cased and de-duplicated. */
function jobLabelSet(labels: readonly string[]): Set<string> {
  const set = new Set(labels.map(normaliseLabel));
  set.delete(SELF_HOSTED_LABEL);
  set.delete('');
  return set;
}

/** Does `job` match `pool` (ignoring deletion), and how. */
export function matchPool(jobLabels: readonly string[], pool: MatchablePool): PoolMatch {
  const wanted = jobLabelSet(jobLabels);
  const poolLabels = new Set(pool.spec.labels.map(normaliseLabel));
  poolLabels.add(SELF_HOSTED_LABEL);
  const sizes = pool.spec.sizes ?? [];
  const sizeByLabel = new Map(sizes.map((s) => [normaliseLabel(s.label), s]));

  // A job label naming a size is a size request, even when the pool also lists it as a label.
  const namedSizes = [...wanted].filter((l) => sizeByLabel.has(l));
  const unknown = [...wanted].filter((l) => !sizeByLabel.has(l) && !poolLabels.has(l));

  if (namedSizes.length > 1) return { kind: 'none' };
  if (unknown.length === 0) {
    const requested = namedSizes[0];
    const size = requested
      ? sizeByLabel.get(requested)
      : pool.spec.defaultSize
        ? sizeByLabel.get(normaliseLabel(pool.spec.defaultSize))
        : undefined;
    const extraLabels = [...poolLabels].filter(
      (l) => l !== SELF_HOSTED_LABEL && !wanted.has(l),
    ).length;
    return { kind: 'match', pool: pool.name, size, sizeRequested: !!requested, extraLabels };
  }
  // Only a job meant for self-hosted runners is refused: it says `self-hosted` or shares a
  // label with the pool. `runs-on: ubuntu-latest` is GitHub-hosted, not a size request.
  const meantForUs =
    jobLabels.some((l) => normaliseLabel(l) === SELF_HOSTED_LABEL) ||
    [...wanted].some((l) => poolLabels.has(l));
  if (unknown.length === 1 && namedSizes.length === 0 && sizes.length > 0 && meantForUs) {
    const sizeLabel = unknown[0]!;
    return {
      kind: 'refused',
      pool: pool.name,
      sizeLabel,
      reason: `size ${sizeLabel} not offered by pool ${pool.name}`,
    };
  }
  return { kind: 'none' };
}

/** Orders candidate pools: priority desc, then fewest extra labels, then name asc. */
function better(
  a: { pool: MatchablePool; extra: number },
  b: { pool: MatchablePool; extra: number },
): number {
  const pa = a.pool.spec.priority ?? 0;
  const pb = b.pool.spec.priority ?? 0;
  if (pa !== pb) return pb - pa;
  if (a.extra !== b.extra) return a.extra - b.extra;
  return a.pool.name < b.pool.name ? -1 : a.pool.name > b.pool.name ? 1 : 0;
}

/**
 * Chooses the pool for a job among `pools`, deterministically (see the rule at the top).
 * Returns a refusal only when no pool matches.
 */
export function choosePool(
  jobLabels: readonly string[],
  pools: readonly MatchablePool[],
): PoolMatch {
  const live = pools.filter((p) => !p.deletionRequestedAt);
  const matches: { pool: MatchablePool; extra: number; result: PoolMatch }[] = [];
  const refusals: { pool: MatchablePool; extra: number; result: PoolMatch }[] = [];
  for (const pool of live) {
    const result = matchPool(jobLabels, pool);
    if (result.kind === 'match') matches.push({ pool, extra: result.extraLabels, result });
    else if (result.kind === 'refused') refusals.push({ pool, extra: 0, result });
  }
  const best = matches.sort(better)[0] ?? refusals.sort(better)[0];
  return best?.result ?? { kind: 'none' };
}

/** Labels a runner of `pool` at `size` carries: self-hosted, the pool's labels, the size label. */
export function runnerLabels(pool: MatchablePool, size?: PoolSize): string[] {
  const labels = [SELF_HOSTED_LABEL, ...pool.spec.labels];
  if (size) labels.push(size.label);
  const seen = new Set<string>();
  return labels.filter((l) => {
    const key = normaliseLabel(l);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
