// The cheap readiness probes of /readyz: can this replica reach the store, GitHub and ECS?
// - store: one GetItem (the lease item, which /readyz shows anyway);
// - GitHub: GET <api>/rate_limit, which GitHub does not count against the rate limit; any
//   answer below 500 means reachable (the probe sends no credentials, so no token is spent);
// - ECS: ListTasks of our tasks in each pool's cluster (a call the controller is allowed to
//   make); no pools, nothing to check.

import { TASK_STARTED_BY } from '../api/constants.ts';
import type { EcsProvider } from '../ecs/types.ts';
import { ReadinessChecker } from '../server/health.ts';
import type { Store } from '../store/types.ts';

export type ProbeFn = (signal: AbortSignal) => Promise<unknown>;

export function storeProbe(store: Pick<Store, 'getLease'>, leaseName: string): ProbeFn {
  return () => store.getLease(leaseName);
}

export function githubProbe(apiUrl: string, fetchFn: typeof fetch = fetch): ProbeFn {
  const url = `${apiUrl.replace(/\/+$/, '')}/rate_limit`;
  return async (signal) => {
    let res: Response;
    try {
      res = await fetchFn(url, {
        signal,
        headers: { accept: 'application/vnd.github+json', 'user-agent': 'runnerctl-readyz' },
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(
        `cannot reach ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
      );
    }
    await res.body?.cancel().catch(() => {});
    if (res.status >= 500) throw new Error(`${url} answered ${res.status}`);
  };
}

/** At most this many clusters are probed (they are usually one). */
const MAX_CLUSTERS = 3;

export function ecsProbe(
  ecs: Pick<EcsProvider, 'listTasks'>,
  store: Pick<Store, 'listPools'>,
): ProbeFn {
  return async () => {
    const clusters = [...new Set((await store.listPools()).map((p) => p.spec.ecs.cluster))];
    for (const cluster of clusters.slice(0, MAX_CLUSTERS)) {
      try {
        await ecs.listTasks(cluster, { startedBy: TASK_STARTED_BY });
      } catch (err) {
        throw new Error(`ListTasks in cluster ${cluster}: ${(err as Error).message}`);
      }
    }
  };
}

export interface ControllerReadinessDeps {
  store: Pick<Store, 'getLease' | 'listPools'>;
  ecs: Pick<EcsProvider, 'listTasks'>;
  /** GitHub's REST API root (`github.apiUrl`). */
  githubApiUrl: string;
  leaseName: string;
  isLeader: () => boolean;
  now: () => number;
  scrub?: (text: string) => string;
  cacheMs?: number;
  timeoutMs?: number;
}

/** The readiness of a controller replica: store, GitHub and ECS probes, and the lease. */
export function controllerReadiness(deps: ControllerReadinessDeps): ReadinessChecker {
  return new ReadinessChecker({
    probes: {
      store: storeProbe(deps.store, deps.leaseName),
      github: githubProbe(deps.githubApiUrl),
      ecs: ecsProbe(deps.ecs, deps.store),
    },
    lease: async () => {
      const lease = await deps.store.getLease(deps.leaseName);
      const held = lease && lease.expiresAtMs > deps.now() ? lease : undefined;
      return {
        leader: deps.isLeader(),
        ...(held
          ? { holder: held.holder, expiresAt: new Date(held.expiresAtMs).toISOString() }
          : {}),
      };
    },
    ...(deps.scrub ? { scrub: deps.scrub } : {}),
    ...(deps.cacheMs !== undefined ? { cacheMs: deps.cacheMs } : {}),
    ...(deps.timeoutMs !== undefined ? { timeoutMs: deps.timeoutMs } : {}),
  });
}
