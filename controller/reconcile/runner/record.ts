// Writes of runner records: always conditional on the record's version and fenced by the lease.

import type { RunnerRecord, RunnerState } from '../../store/types.ts';
import { isoNow, type ReconcileContext } from '../context.ts';

/** Timeline entries kept per record (the newest). */
const TIMELINE_LIMIT = 40;

export const SUPPLY_STATES: readonly RunnerState[] = ['pending', 'configured', 'launching', 'idle'];
export const LIVE_STATES: readonly RunnerState[] = [
  'pending',
  'configured',
  'launching',
  'idle',
  'busy',
  'draining',
];

/** Transitions logged at info level (the others at debug): a runner's story in a few lines. */
const INFO_EVENTS = new Set(['task-started', 'task-adopted', 'runner-adopted', 'busy', 'finished']);

/** Applies `patch`, appends a timeline event and writes conditionally on `record.version`. */
export async function saveRunner(
  ctx: ReconcileContext,
  record: RunnerRecord,
  patch: Partial<Omit<RunnerRecord, 'version' | 'name' | 'pool'>>,
  event: string,
  detail?: string,
): Promise<RunnerRecord> {
  const at = isoNow(ctx);
  const timeline = [...record.timeline, { at, event, ...(detail ? { detail } : {}) }].slice(
    -TIMELINE_LIMIT,
  );
  const next: RunnerRecord = { ...record, ...patch, timeline, updatedAt: at };
  const saved = await ctx.store.updateRunner(next, ctx.fenced());
  ctx.log[INFO_EVENTS.has(event) ? 'info' : 'debug'](
    {
      runner: record.name,
      pool: record.pool,
      taskArn: saved.taskArn,
      jobId: saved.jobId,
      from: record.state,
      to: saved.state,
      event,
      ...(detail ? { detail } : {}),
    },
    'runner updated',
  );
  return saved;
}

/** Time of the newest timeline entry named `event`, in ms (undefined when none). */
export function lastEventAt(record: RunnerRecord, event: string): number | undefined {
  for (let i = record.timeline.length - 1; i >= 0; i--) {
    const entry = record.timeline[i]!;
    if (entry.event === event) return Date.parse(entry.at);
  }
  return undefined;
}

/** How a runner that ran a job finishes (its own exit, or its job's completed event). */
export const RAN_A_JOB = ['task stopped after its job', 'runner deregistered', 'job completed'];
