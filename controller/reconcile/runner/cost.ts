// The cost of a finishing runner's task (controller/cost), attributed to the job it ran. Written
// once on the record when it finishes; `runnerctl cost` and /metrics read it from there.

import { regionOfArn, taskCost } from '../../cost/compute.ts';
import type { RunnerCost, RunnerRecord } from '../../store/types.ts';
import { isoNow, type ReconcileContext } from '../context.ts';
import type { RunnerObservation } from './lifecycle.ts';

export function runnerCost(
  ctx: ReconcileContext,
  record: RunnerRecord,
  obs: RunnerObservation,
): RunnerCost | undefined {
  const task = obs.task;
  if (!task || record.cost) return record.cost;
  const cpu = task.cpu ?? record.cpu;
  const memoryMiB = task.memory ?? record.memory;
  const region = regionOfArn(task.arn) ?? regionOfArn(task.cluster) ?? ctx.settings.region;
  const capacityProvider = task.capacityProvider ?? record.capacityProvider ?? 'FARGATE';
  const fromMs = task.pullStartedAt ?? task.createdAt;
  if (!cpu || !memoryMiB || !region || fromMs === undefined) return undefined;
  const storageGiB = task.ephemeralStorageGiB ?? record.ephemeralStorageGiB ?? 20;
  const cost = taskCost(
    {
      region,
      capacityProvider,
      ...(task.cpuArchitecture ? { arch: task.cpuArchitecture } : {}),
      cpu,
      memoryMiB,
      storageGiB,
      fromMs,
      toMs: task.stoppedAt ?? ctx.clock.now(),
    },
    ctx.settings.prices,
  );
  if ('missing' in cost) {
    ctx.log.debug({ runner: record.name, reason: cost.missing }, 'runner cost unknown');
    return undefined;
  }
  const job = obs.job?.id === record.jobId ? obs.job : undefined;
  return {
    usd: cost.usd,
    billedSeconds: cost.billedSeconds,
    capacityProvider,
    region,
    cpu,
    memoryMiB,
    storageGiB,
    ...(record.jobId !== undefined ? { jobId: record.jobId } : {}),
    ...(job ? { repository: job.repository } : {}),
    ...(job?.workflowName ? { workflow: job.workflowName } : {}),
    at: isoNow(ctx),
  };
}
