// Which pool runs a job, and at which size. Pure: no I/O, no clock.
//
// The rule (docs/reconcile.md "Matching"):
// - Labels compare case-insensitively; `self-hosted` is implicit on every pool.
// - A job matches a pool when every job label is a pool label, except that at most one job
//   label may name one of the pool's sizes.
// - The size is the named one, else the pool's defaultSize (none when the pool has no sizes).
// - Among matching pools: highest priority, then most specific (fewest pool labels the job did
//   not ask for), then name (ascending). Pools marked for deletion never match.
// - A job with no labels (runs-on: [], or only blanks) matches no pool: no runner can take it.
// - A job that matches no pool but would match a pool with sizes except for exactly one extra
//   label is refused by that pool: "size X not offered by pool P". It is not launched. Only
//   jobs that share a label with the pool besides `self-hosted` are refused, and not when the
//   extra label is a near miss of a pool label the job left out (a typo, not a size).

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

/** Does the job name any label at all (`self-hosted` counts; blanks do not)? */
function hasLabels(labels: readonly string[]): boolean {
  return labels.some((l) => normaliseLabel(l) !== '');
}

/** Does `job` match `pool` (ignoring deletion), and how. */
export function matchPool(jobLabels: readonly string[], pool: MatchablePool): PoolMatch {
  if (!hasLabels(jobLabels)) return { kind: 'none' };
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
  // Only a job meant for this pool is refused: it shares a label with the pool besides
  // `self-hosted` (`[self-hosted, gpu]` is not a size request to every sized pool, and
  // `runs-on: ubuntu-latest` is GitHub-hosted), and its odd label is not a near miss of a pool
  // label it left out (`[self-hosted, lnux, x64]` is a typo of linux, not a size).
  const sharesLabel = [...wanted].some((l) => poolLabels.has(l));
  const sizeLabel = unknown[0]!;
  const typo = [...poolLabels].some((l) => !wanted.has(l) && nearMiss(sizeLabel, l));
  if (unknown.length === 1 && namedSizes.length === 0 && sizes.length > 0 && sharesLabel && !typo) {
    return {
      kind: 'refused',
      pool: pool.name,
      sizeLabel,
      reason: `size ${sizeLabel} not offered by pool ${pool.name}`,
    };
  }
  return { kind: 'none' };
}

/** Edit distance of at most 1 (labels up to 4 characters) or 2: a likely typo. */
function nearMiss(a: string, b: string): boolean {
  const limit = Math.min(a.length, b.length) <= 4 ? 1 : 2;
  return a !== b && editDistance(a, b) <= limit;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        prev[j]! + 1,
        row[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * Why no pool matches a job, for people: the nearest pool (most job labels it carries), the job
 * labels it lacks, with a "did you mean" for each near miss of one of its labels.
 */
export function explainNoMatch(
  jobLabels: readonly string[],
  pools: readonly MatchablePool[],
): string {
  const wanted = jobLabelSet(jobLabels);
  const runsOn = `[${jobLabels.join(', ')}]`;
  if (!hasLabels(jobLabels)) return `no pool matches ${runsOn}: the job has no labels`;
  let best: { pool: MatchablePool; shared: number; lacking: string[] } | undefined;
  for (const pool of pools.filter((p) => !p.deletionRequestedAt)) {
    const own = new Set([
      ...pool.spec.labels.map(normaliseLabel),
      ...(pool.spec.sizes ?? []).map((s) => normaliseLabel(s.label)),
    ]);
    const lacking = [...wanted].filter((l) => !own.has(l));
    const shared = wanted.size - lacking.length;
    if (!best || shared > best.shared || (shared === best.shared && pool.name < best.pool.name)) {
      best = { pool, shared, lacking };
    }
  }
  if (!best) return `no pool matches ${runsOn}: there are no pools`;
  const labels = [...new Set(best.pool.spec.labels.map(normaliseLabel))];
  const hints = best.lacking.map((l) => {
    const near = labels.filter((p) => !wanted.has(p) && nearMiss(l, p));
    return near.length > 0 ? `${l} (did you mean ${near.join(' or ')}?)` : l;
  });
  const sizes = (best.pool.spec.sizes ?? []).map((s) => s.label);
  return (
    `no pool matches ${runsOn}: nearest pool ${best.pool.name} ` +
    `[${runnerLabels(best.pool).join(', ')}${sizes.length ? `; sizes ${sizes.join(', ')}` : ''}] ` +
    `lacks ${hints.join(', ')}`
  );
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

export type PoolMatchFound = Extract<PoolMatch, { kind: 'match' }>;

/**
 * Every pool among `pools` that matches the job, best first (see the rule at the top): the
 * order in which demand spills over when a better pool cannot take the job.
 */
export function rankPools(
  jobLabels: readonly string[],
  pools: readonly MatchablePool[],
): PoolMatchFound[] {
  const matches: { pool: MatchablePool; extra: number; result: PoolMatchFound }[] = [];
  for (const pool of pools.filter((p) => !p.deletionRequestedAt)) {
    const result = matchPool(jobLabels, pool);
    if (result.kind === 'match') matches.push({ pool, extra: result.extraLabels, result });
  }
  return matches.sort(better).map((m) => m.result);
}

/**
 * Chooses the pool for a job among `pools`, deterministically (see the rule at the top).
 * Returns a refusal only when no pool matches.
 */
export function choosePool(
  jobLabels: readonly string[],
  pools: readonly MatchablePool[],
): PoolMatch {
  const best = rankPools(jobLabels, pools)[0];
  if (best) return best;
  const refusals: { pool: MatchablePool; extra: number; result: PoolMatch }[] = [];
  for (const pool of pools.filter((p) => !p.deletionRequestedAt)) {
    const result = matchPool(jobLabels, pool);
    if (result.kind === 'refused') refusals.push({ pool, extra: 0, result });
  }
  return refusals.sort(better)[0]?.result ?? { kind: 'none' };
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
