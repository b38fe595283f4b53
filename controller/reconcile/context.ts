// What every reconciler gets injected: the store, the two providers, the clock, the logger,
// the settings, and the lease version to fence writes with.

import type { EcsProvider } from '../ecs/types.ts';
import type { GitHubProvider } from '../github/types.ts';
import type { FencedWrite, Store } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import type { Logger } from './types.ts';

export interface ReconcileSettings {
  /** Runner names start with `<prefix>-`; GitHub runners and tasks with it are ours. */
  runnerNamePrefix: string;
  /** Launch attempts of one runner record (registration timeouts, tasks that fail to start). */
  maxLaunchAttempts: number;
  /** How long a pool waits before launching again after a runner exhausted its attempts. */
  launchBackoffMs: number;
  /** How often a pool with live runners is looked at (runners coming online send no event). */
  runnerPollMs: number;
  /** How long finished runner records are kept (DynamoDB TTL). */
  finishedTtlSeconds: number;
  /** Defaults of the pool timeouts. */
  registrationTimeoutMs: number;
  idleTimeoutMs: number;
  maxJobDurationMs: number;
  /** Launches of one pool in flight at once (providers pace the calls themselves). */
  launchConcurrency: number;
  /** The runner's work folder. */
  workFolder: string;
}

export const DEFAULT_SETTINGS: ReconcileSettings = {
  runnerNamePrefix: 'rctl',
  maxLaunchAttempts: 3,
  launchBackoffMs: 60_000,
  runnerPollMs: 10_000,
  finishedTtlSeconds: 24 * 3600,
  registrationTimeoutMs: 5 * 60_000,
  idleTimeoutMs: 10 * 60_000,
  maxJobDurationMs: 6 * 3600_000,
  launchConcurrency: 10,
  workFolder: '_work',
};

export interface ReconcileContext {
  store: Store;
  github: GitHubProvider;
  ecs: EcsProvider;
  clock: Clock;
  log: Logger;
  settings: ReconcileSettings;
  /** Options for writes that only the lease holder may make. */
  fenced(): FencedWrite;
  /** A fresh runner name suffix (random; injected so tests can make it predictable). */
  suffix(): string;
}

export function isoNow(ctx: Pick<ReconcileContext, 'clock'>): string {
  return new Date(ctx.clock.now()).toISOString();
}
