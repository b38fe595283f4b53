// What the benchmark and the controller process it forks say to each other over IPC.

import type { ControllerConfig } from '../../controller/config/types.ts';
import type { ControllerConfig as ReconcileConfig } from '../../controller/reconcile/controller.ts';
import type { ClockSpec } from './clock.ts';

export interface ChildSpec {
  config: ControllerConfig;
  clock: ClockSpec;
  reconcile?: Partial<ReconcileConfig>;
  logFile: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface ChildStats {
  /** Calls by service and endpoint, e.g. `github POST /orgs/:org/actions/runners/generate-jitconfig`. */
  calls: Record<string, number>;
  /** Answers that were rate limits: GitHub 403/429, AWS ThrottlingException. */
  rateLimited: Record<string, number>;
  /** GitHub calls answered 304 Not Modified, by route (free: off the primary rate limit). */
  notModified: Record<string, number>;
  rssBytes: number;
  /** Highest RSS since the last reset: the kernel's high-water mark (Linux), else sampled every 100 ms. */
  peakRssBytes: number;
  /** Highest RSS over the process lifetime, resets ignored (not resourceUsage().maxRSS: see controller-process.ts). */
  maxRssBytes: number;
  heapUsedBytes: number;
  /** How the RSS split when it peaked (process.memoryUsage()). */
  atPeak: {
    heapTotalBytes: number;
    heapUsedBytes: number;
    externalBytes: number;
    arrayBuffersBytes: number;
  };
  cpuUserMs: number;
  cpuSystemMs: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
}

export type ChildRequest =
  | { id: number; cmd: 'stats'; reset?: boolean }
  | { id: number; cmd: 'reconcileOnce' }
  | { id: number; cmd: 'stop' };

/** `/orgs/bench/actions/runners/123` → `/orgs/:org/actions/runners/:id` (no query string). */
export function githubRoute(path: string): string {
  const clean = path.split('?')[0]!;
  return clean
    .replace(/^\/orgs\/[^/]+/, '/orgs/:org')
    .replace(/^\/repos\/[^/]+\/[^/]+/, '/repos/:owner/:repo')
    .replace(/^\/app\/installations\/\d+/, '/app/installations/:id')
    .replace(/\/\d+(?=\/|$)/g, '/:id');
}
