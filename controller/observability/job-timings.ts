// Job latency histograms, observed once per job when its start is recorded (an in_progress or
// completed workflow_job event naming one of our runners): seconds from queued to the launch of
// the runner that ran it (from the runner record's timeline) and to the job's start. Demand is
// counted, not paired: the runner that ran a job is the one GitHub reports, whatever job its
// launch was meant for.

import type { JobRecord, RunnerRecord, Store } from '../store/types.ts';
import type { ControllerMetrics } from './metrics.ts';

/** Timeline events that mark a runner's launch (its task started, or was adopted). */
const LAUNCH_EVENTS = new Set(['task-started', 'task-adopted', 'runner-adopted']);

/** Jobs remembered as observed; the oldest are forgotten first. */
const REMEMBERED = 10_000;

export function launchedAtMs(record: RunnerRecord): number | undefined {
  let latest: number | undefined;
  for (const entry of record.timeline) {
    if (!LAUNCH_EVENTS.has(entry.event)) continue;
    const at = Date.parse(entry.at);
    if (Number.isFinite(at) && (latest === undefined || at > latest)) latest = at;
  }
  return latest;
}

export interface JobTimingsDeps {
  metrics: Pick<ControllerMetrics, 'jobStarted'>;
  store: Pick<Store, 'getRunner'>;
  /** Runner names of ours start with `<prefix>-`. */
  runnerNamePrefix: string;
}

/** Returns the observer the app calls after a job record changed. Never throws. */
export function jobTimings(deps: JobTimingsDeps): (job: JobRecord) => Promise<void> {
  const seen = new Set<number>();
  const prefix = `${deps.runnerNamePrefix}-`;
  return async (job) => {
    if (job.status !== 'in_progress' && job.status !== 'completed') return;
    if (!job.startedAt || !job.runnerName?.startsWith(prefix) || seen.has(job.id)) return;
    const queuedAtMs = Date.parse(job.createdAt);
    const startedAtMs = Date.parse(job.startedAt);
    if (!Number.isFinite(queuedAtMs) || !Number.isFinite(startedAtMs)) return;
    seen.add(job.id);
    if (seen.size > REMEMBERED) seen.delete(seen.values().next().value!);
    let runner: RunnerRecord | undefined;
    try {
      runner = await deps.store.getRunner(job.runnerName);
    } catch {
      // The start is still worth counting without the launch time.
    }
    const launched = runner ? launchedAtMs(runner) : undefined;
    deps.metrics.jobStarted(runner?.pool ?? job.pool ?? 'unknown', {
      queuedAtMs,
      startedAtMs,
      ...(launched !== undefined ? { launchedAtMs: launched } : {}),
    });
  };
}
