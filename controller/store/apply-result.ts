// How a stored pool compares with a document to apply, without the AWS SDK: the store's
// applyPool and the CLI's `apply --dry-run` and `diff` give the same answer.

import type { RunnerPool } from '../api/types.ts';
import type { ApplyResult, PoolRecord } from './types.ts';

function desiredOf(pool: { metadata: RunnerPool['metadata']; spec: RunnerPool['spec'] }) {
  return { metadata: pool.metadata, spec: pool.spec };
}

/** What `applyPool(pool)` answers for the stored record: created, configured or unchanged. */
export function applyResultFor(stored: PoolRecord | undefined, pool: RunnerPool): ApplyResult {
  if (!stored) return 'created';
  return canonicalJson(desiredOf(stored)) === canonicalJson(desiredOf(pool))
    ? 'unchanged'
    : 'configured';
}

/** JSON with sorted keys and without undefined values: equal documents, equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>)
          .filter(([, x]) => x !== undefined)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    }
    return v;
  });
}
