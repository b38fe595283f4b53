// Several GitHub Apps behind one GitHubProvider. GitHub limits JIT configs per App installation
// (about 180 a minute: 5 points of the ~900-point secondary limit each) and REST calls per
// installation (5,000 an hour), so each App added multiplies both. Every App keeps its own
// sliding JIT window and REST budget (one OctokitGitHubProvider each); this class only picks the
// App for each call among those that serve the owner.

import type { RepositoryVisibility } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import { systemClock } from '../util/clock.ts';
import type {
  GitHubProvider,
  GitHubRunner,
  ListRunnersOptions,
  GitHubScope,
  InstallationRepositories,
  JitConfig,
  JitConfigRequest,
  RateLimitSnapshot,
  OpenRun,
  RunJobs,
  WorkflowJob,
} from './types.ts';

/** What the router needs of one App's provider (OctokitGitHubProvider satisfies it). */
export interface PacedGitHubProvider extends GitHubProvider {
  pacingState(): {
    jit: { available: number; pausedUntil: number };
    rest: { available: number; pausedUntil: number };
  };
}

export interface AppRoute {
  appId: number;
  provider: PacedGitHubProvider;
  /** Owners (organizations, users, enterprises) this App serves; absent: every owner. */
  owners?: string[];
}

/** The owner a scope's calls are made for: the org, the repository's owner or the enterprise. */
export function ownerOfScope(scope: GitHubScope): string {
  switch (scope.kind) {
    case 'org':
      return scope.org;
    case 'repo':
      return scope.owner;
    case 'enterprise':
      return scope.enterprise;
  }
}

export class MultiAppGitHubProvider implements GitHubProvider {
  private readonly clock: Clock;
  /** JIT POSTs handed to each App and not answered yet: they wait in (or hold) its window. */
  private readonly jitInFlight = new Map<number, number>();

  constructor(
    private readonly apps: AppRoute[],
    options: { clock?: Clock } = {},
  ) {
    if (apps.length === 0) throw new RangeError('MultiAppGitHubProvider needs at least one App');
    this.clock = options.clock ?? systemClock;
  }

  /** Apps that serve `owner`, in the order configured: its own Apps, then the shared ones. */
  appsFor(owner: string): AppRoute[] {
    const key = owner.toLowerCase();
    const own = this.apps.filter((a) => a.owners?.some((o) => o.toLowerCase() === key));
    const shared = this.apps.filter((a) => !a.owners?.length);
    const serving = [...own, ...shared];
    if (serving.length === 0) {
      throw new RangeError(
        `no GitHub App serves ${owner}: github.apps lists it under no App and every App has owners`,
      );
    }
    return serving;
  }

  /**
   * The App for a JIT config: the least-used sliding window first (most JIT POSTs left in its
   * minute less those already handed to it and not answered, not paused by a rate limit), so a
   * burst fills every App's window at once and, once all are full, queues evenly behind them.
   */
  jitApp(owner: string): AppRoute {
    return this.pick(this.appsFor(owner), 'jit');
  }

  private pick(candidates: AppRoute[], kind: 'jit' | 'rest'): AppRoute {
    const now = this.clock.now();
    let best = candidates[0]!;
    let bestScore = -Infinity;
    for (const app of candidates) {
      const state = app.provider.pacingState()[kind];
      const queued = kind === 'jit' ? (this.jitInFlight.get(app.appId) ?? 0) : 0;
      // A paused App (rate limited) goes last; among the others the most headroom wins.
      const score = state.pausedUntil > now ? -1e9 - state.pausedUntil : state.available - queued;
      if (score > bestScore) {
        best = app;
        bestScore = score;
      }
    }
    return best;
  }

  /**
   * The App for other calls: the first serving App while it has REST budget (its ETag cache
   * keeps conditional reads free), else the one with the most budget left.
   */
  private restApp(owner: string): PacedGitHubProvider {
    const candidates = this.appsFor(owner);
    const first = candidates[0]!;
    const state = first.provider.pacingState().rest;
    if (state.available >= 1 && state.pausedUntil <= this.clock.now()) return first.provider;
    return this.pick(candidates, 'rest').provider;
  }

  private forScope(scope: GitHubScope): PacedGitHubProvider {
    return this.restApp(ownerOfScope(scope));
  }

  private forRepository(repository: string): PacedGitHubProvider {
    return this.restApp(repository.split('/')[0] ?? repository);
  }

  async generateJitConfig(scope: GitHubScope, request: JitConfigRequest): Promise<JitConfig> {
    const app = this.jitApp(ownerOfScope(scope));
    this.jitInFlight.set(app.appId, (this.jitInFlight.get(app.appId) ?? 0) + 1);
    try {
      return await app.provider.generateJitConfig(scope, request);
    } finally {
      this.jitInFlight.set(app.appId, (this.jitInFlight.get(app.appId) ?? 1) - 1);
    }
  }

  getRunner(scope: GitHubScope, id: number): Promise<GitHubRunner | undefined> {
    return this.forScope(scope).getRunner(scope, id);
  }

  findRunnerByName(scope: GitHubScope, name: string): Promise<GitHubRunner | undefined> {
    return this.forScope(scope).findRunnerByName(scope, name);
  }

  listRunners(
    scope: GitHubScope,
    namePrefix?: string,
    options?: ListRunnersOptions,
  ): Promise<GitHubRunner[]> {
    return this.forScope(scope).listRunners(scope, namePrefix, options);
  }

  deleteRunner(scope: GitHubScope, id: number): Promise<void> {
    return this.forScope(scope).deleteRunner(scope, id);
  }

  resolveRunnerGroupId(scope: GitHubScope, name: string): Promise<number> {
    return this.forScope(scope).resolveRunnerGroupId(scope, name);
  }

  runnerGroupAllowsPublicRepositories(scope: GitHubScope, name: string) {
    return this.forScope(scope).runnerGroupAllowsPublicRepositories(scope, name);
  }

  listQueuedJobs(repository: string): Promise<WorkflowJob[]> {
    return this.forRepository(repository).listQueuedJobs(repository);
  }

  listOpenRuns(repository: string): Promise<OpenRun[]> {
    return this.forRepository(repository).listOpenRuns(repository);
  }

  getJob(repository: string, jobId: number): Promise<WorkflowJob | undefined> {
    return this.forRepository(repository).getJob(repository, jobId);
  }

  listRunJobs(repository: string, runId: number): Promise<RunJobs | undefined> {
    return this.forRepository(repository).listRunJobs(repository, runId);
  }

  getRepositoryVisibility(repository: string): Promise<RepositoryVisibility | undefined> {
    return this.forRepository(repository).getRepositoryVisibility(repository);
  }

  rerunJob(repository: string, jobId: number): Promise<void> {
    return this.forRepository(repository).rerunJob(repository, jobId);
  }

  /** Always through the owner's first App: discovery must see one stable installation. */
  listInstallationRepositories(owner: string): Promise<InstallationRepositories> {
    return this.appsFor(owner)[0]!.provider.listInstallationRepositories(owner);
  }

  /** The tightest of the Apps' last seen REST limits. */
  rateLimit(): RateLimitSnapshot | undefined {
    let out: RateLimitSnapshot | undefined;
    for (const app of this.apps) {
      const r = app.provider.rateLimit();
      if (r && (!out || r.remaining < out.remaining)) out = r;
    }
    return out;
  }

  /** Summed over the Apps, for metrics. */
  pacingState(): {
    jit: { available: number; pausedUntil: number };
    rest: { available: number; pausedUntil: number };
  } {
    const states = this.apps.map((a) => a.provider.pacingState());
    const sum = (kind: 'jit' | 'rest') => ({
      available: states.reduce((n, s) => n + s[kind].available, 0),
      pausedUntil: Math.min(...states.map((s) => s[kind].pausedUntil)),
    });
    return { jit: sum('jit'), rest: sum('rest') };
  }
}
