// Deterministic names and tokens: what makes every launch step idempotent.

import { createHash, randomBytes } from 'node:crypto';
import type { GitHubScopeSpec } from '../api/types.ts';
import { MAX_RUNNER_NAME_LENGTH } from '../api/constants.ts';
import type { GitHubScope } from '../github/types.ts';

const SUFFIX_LENGTH = 8;

/**
 * Longest runner name prefix: `<prefix>-<pool>-<suffix>` must fit GitHub's 64 characters, and
 * the pool part (shortened to fit) keeps at least 34 of them so pools stay recognisable.
 */
export const MAX_RUNNER_NAME_PREFIX_LENGTH = 20;

/** Why a runner name prefix is unusable, or undefined when it is fine. */
export function runnerNamePrefixProblem(prefix: string): string | undefined {
  if (prefix.length > MAX_RUNNER_NAME_PREFIX_LENGTH) {
    return (
      `runner name prefix "${prefix}" is ${prefix.length} characters; at most ` +
      `${MAX_RUNNER_NAME_PREFIX_LENGTH} are allowed (names are <prefix>-<pool>-<suffix> and ` +
      `GitHub refuses names over ${MAX_RUNNER_NAME_LENGTH} characters)`
    );
  }
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(prefix)) {
    return `runner name prefix "${prefix}" must be lower-case letters, digits and dashes, starting and ending with a letter or digit`;
  }
  return undefined;
}

/** A fresh random suffix, chosen once per runner record. */
export function randomSuffix(): string {
  return randomBytes(SUFFIX_LENGTH / 2).toString('hex');
}

/**
 * `<prefix>-<pool>-<suffix>`, at most 64 characters (GitHub's limit): a long pool name is
 * shortened, never the prefix (garbage collection finds our runners by it) or the suffix.
 */
export function runnerName(prefix: string, pool: string, suffix: string): string {
  const room = MAX_RUNNER_NAME_LENGTH - prefix.length - suffix.length - 2;
  if (room < 1) throw new RangeError(`runner name prefix "${prefix}" is too long`);
  const poolPart = pool.slice(0, room).replace(/-+$/, '') || pool.slice(0, 1);
  return `${prefix}-${poolPart}-${suffix}`;
}

/** The part of a name that says it is ours. */
export function ownedPrefix(prefix: string): string {
  return `${prefix}-`;
}

/**
 * RunTask idempotency token: a hash of the runner name, the GitHub registration it carries and
 * the capacity provider (64 hex characters). A retried call of the same launch reuses the task;
 * a new registration (its JIT config is new, so the parameters differ) or the on-demand
 * fallback gets a new token instead of an IdempotencyConflictError.
 */
export function clientToken(name: string, githubRunnerId: number, capacity: string): string {
  return createHash('sha256').update(`${name}/${githubRunnerId}/${capacity}`).digest('hex');
}

/** The GitHub endpoints a pool's runners register with. */
export function githubScope(spec: GitHubScopeSpec): GitHubScope {
  switch (spec.scope) {
    case 'org':
      return { kind: 'org', org: spec.organization };
    case 'enterprise':
      return { kind: 'enterprise', enterprise: spec.enterprise };
    case 'repo': {
      const [owner, repo] = spec.repository.split('/');
      if (!owner || !repo) {
        throw new RangeError(`github.repository must be owner/name, got "${spec.repository}"`);
      }
      return { kind: 'repo', owner, repo };
    }
  }
}

/** A stable string for a scope (map keys). */
export function scopeKey(scope: GitHubScope): string {
  switch (scope.kind) {
    case 'org':
      return `org:${scope.org.toLowerCase()}`;
    case 'enterprise':
      return `enterprise:${scope.enterprise.toLowerCase()}`;
    case 'repo':
      return `repo:${scope.owner.toLowerCase()}/${scope.repo.toLowerCase()}`;
  }
}
