// How runner records and jobs are shown: tables for `get runners|jobs` and the runner's
// timeline for `describe runner|job`, with the time each step took. Pure: no I/O.

import type { RunnerTask } from '../ecs/types.ts';
import type { GitHubRunner } from '../github/types.ts';
import type { JobRecord, RunnerRecord, TimelineEntry } from '../store/types.ts';
import { formatUsd } from '../cost/compute.ts';
import { formatAge, renderTable } from './format.ts';

/** What each timeline event of a runner record means, in words. */
const EVENT_TEXT: Record<string, string> = {
  created: 'record created',
  configured: 'JIT config generated',
  'task-started': 'task started',
  'task-adopted': 'task adopted',
  'runner-adopted': 'runner adopted',
  idle: 'registered (online, idle)',
  busy: 'job bound (busy)',
  draining: 'removing',
  finished: 'removed (finished)',
  relaunch: 'launch attempt failed, relaunching',
  'launch-failed': 'launch failed, gave up',
};

export interface TimelineStep {
  at: string;
  event: string;
  text: string;
  detail?: string;
  /** From the record's creation, ms. */
  sinceStartMs: number;
  /** From the previous step, ms. */
  stepMs: number;
  /** Where the step comes from: the record, or ECS (task state changes). */
  source: 'record' | 'ecs';
}

/** `850ms`, `4.2s`, `3m12s`, `2h05m`. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  const sign = ms < 0 ? '-' : '';
  const a = Math.abs(ms);
  if (a < 1000) return `${sign}${Math.round(a)}ms`;
  if (a < 60_000) return `${sign}${(a / 1000).toFixed(1)}s`;
  const s = Math.round(a / 1000);
  if (s < 3600) return `${sign}${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const m = Math.floor(s / 60);
  return `${sign}${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/**
 * The runner's steps in time order: the record's timeline (record created, JIT config
 * generated, task started, registered, job bound, removing, removed) and, when the task was
 * read from ECS, its state changes (provisioning, running, stopped).
 */
export function runnerTimeline(record: RunnerRecord, task?: RunnerTask): TimelineStep[] {
  const raw: (TimelineEntry & { source: 'record' | 'ecs' })[] = record.timeline.map((e) => ({
    ...e,
    source: 'record' as const,
  }));
  if (!raw.some((e) => e.event === 'created')) {
    raw.unshift({ at: record.createdAt, event: 'created', source: 'record' });
  }
  if (task) {
    const id = task.arn.split('/').pop() ?? task.arn;
    if (task.createdAt !== undefined) {
      raw.push({ at: iso(task.createdAt), event: 'task PROVISIONING', detail: id, source: 'ecs' });
    }
    if (task.startedAt !== undefined) {
      raw.push({ at: iso(task.startedAt), event: 'task RUNNING', detail: id, source: 'ecs' });
    }
    if (task.stoppedAt !== undefined) {
      const why = [
        task.exitCode !== undefined ? `exit ${task.exitCode}` : '',
        task.stoppedReason ?? task.stopCode ?? '',
      ]
        .filter(Boolean)
        .join(', ');
      raw.push({
        at: iso(task.stoppedAt),
        event: 'task STOPPED',
        ...(why ? { detail: why } : {}),
        source: 'ecs',
      });
    }
  }
  const steps = raw
    .map((e, i) => ({ e, i, t: Date.parse(e.at) }))
    .sort((a, b) => a.t - b.t || a.i - b.i);
  const start = Date.parse(record.createdAt);
  let previous = start;
  return steps.map(({ e, t }) => {
    const step: TimelineStep = {
      at: e.at,
      event: e.event,
      text: EVENT_TEXT[e.event] ?? e.event,
      ...(e.detail ? { detail: e.detail } : {}),
      sinceStartMs: t - start,
      stepMs: t - previous,
      source: e.source,
    };
    previous = t;
    return step;
  });
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function shortArn(arn: string | undefined): string {
  return arn ? (arn.split('/').pop() ?? arn) : '-';
}

export function runnersTable(records: RunnerRecord[], wide: boolean, nowMs: number): string {
  const header = ['NAME', 'POOL', 'STATE', 'JOB', 'GITHUB-ID', 'TASK', 'AGE'];
  if (wide) header.push('SIZE', 'CAPACITY', 'ATTEMPTS', 'LAST-EVENT', 'LAST-ERROR');
  const rows = records.map((r) => {
    const row = [
      r.name,
      r.pool,
      r.state,
      r.jobId !== undefined ? String(r.jobId) : '-',
      r.githubRunnerId !== undefined ? String(r.githubRunnerId) : '-',
      shortArn(r.taskArn),
      formatAge(r.createdAt, nowMs),
    ];
    if (wide) {
      const last = r.timeline.at(-1);
      row.push(
        r.size ?? '-',
        r.capacityProvider ?? '-',
        String(r.attempts),
        last ? `${last.event} ${formatAge(last.at, nowMs)} ago` : '-',
        r.lastError ?? '-',
      );
    }
    return row;
  });
  return renderTable([header, ...rows]);
}

function jobStatus(j: JobRecord): string {
  return j.conclusion ? `${j.status}/${j.conclusion}` : j.status;
}

/** USD of each job's runners (wide listings): job id -> sum of the runners' costs. */
export function costsByJob(runners: RunnerRecord[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of runners) {
    if (r.cost?.jobId === undefined) continue;
    out.set(r.cost.jobId, (out.get(r.cost.jobId) ?? 0) + r.cost.usd);
  }
  return out;
}

export function jobsTable(
  jobs: JobRecord[],
  wide: boolean,
  nowMs: number,
  costs?: Map<number, number>,
): string {
  const header = ['ID', 'REPOSITORY', 'NAME', 'STATUS', 'POOL', 'RUNNER', 'AGE'];
  if (wide) header.push('LABELS', 'RUN', 'WAITED', 'RAN', 'COST', 'URL');
  const rows = jobs.map((j) => {
    const row = [
      String(j.id),
      j.repository,
      j.name ?? '-',
      jobStatus(j),
      j.pool ?? '-',
      j.runnerName ?? '-',
      formatAge(j.createdAt, nowMs),
    ];
    if (wide) {
      const { waitedMs, ranMs } = jobDurations(j);
      row.push(
        j.labels.join(','),
        `${j.runId}/${j.runAttempt}`,
        waitedMs !== undefined ? formatMs(waitedMs) : '-',
        ranMs !== undefined ? formatMs(ranMs) : '-',
        costs?.has(j.id) ? formatUsd(costs.get(j.id)!) : '-',
        j.htmlUrl ?? '-',
      );
    }
    return row;
  });
  return renderTable([header, ...rows]);
}

export function jobDurations(j: JobRecord): { waitedMs?: number; ranMs?: number } {
  const created = Date.parse(j.createdAt);
  const started = j.startedAt ? Date.parse(j.startedAt) : undefined;
  const completed = j.completedAt ? Date.parse(j.completedAt) : undefined;
  return {
    ...(started !== undefined ? { waitedMs: started - created } : {}),
    ...(started !== undefined && completed !== undefined ? { ranMs: completed - started } : {}),
  };
}

function fieldWriter(lines: string[]) {
  return (label: string, value: string, indent = 0) =>
    lines.push(`${' '.repeat(indent)}${`${label}:`.padEnd(22 - indent)}${value}`);
}

function timelineLines(steps: TimelineStep[]): string[] {
  const rows = steps.map((s) => [
    s.at,
    `+${formatMs(s.sinceStartMs)}`,
    `+${formatMs(s.stepMs)}`,
    s.text,
    s.detail ?? '',
  ]);
  return renderTable([['AT', 'T', 'STEP', 'EVENT', 'DETAIL'], ...rows])
    .split('\n')
    .map((l) => `  ${l}`);
}

export interface LiveView {
  /** The GitHub runner with the record's name, or null when GitHub has none. */
  githubRunner?: GitHubRunner | null;
  /** The record's task as ECS shows it, or null when ECS does not know it. */
  task?: RunnerTask | null;
}

export function describeRunner(record: RunnerRecord, nowMs: number, live?: LiveView): string {
  const lines: string[] = [];
  const field = fieldWriter(lines);
  field('Name', record.name);
  field('Pool', record.pool);
  field('State', record.state);
  field('Labels', record.labels.join(', '));
  if (record.size) field('Size', `${record.size} (cpu ${record.cpu}, memory ${record.memory} MiB)`);
  field(
    'GitHub runner id',
    record.githubRunnerId !== undefined ? String(record.githubRunnerId) : '-',
  );
  field('Task', record.taskArn ?? '-');
  field('Capacity', record.capacityProvider ?? '-');
  field('Job', record.jobId !== undefined ? String(record.jobId) : '-');
  field('Launch attempts', String(record.attempts));
  if (record.lastError) field('Last error', record.lastError);
  field('Created', `${record.createdAt} (${formatAge(record.createdAt, nowMs)} ago)`);
  field('Updated', `${record.updatedAt} (${formatAge(record.updatedAt, nowMs)} ago)`);
  if (live) {
    lines.push('Now:');
    if (live.githubRunner !== undefined) {
      const g = live.githubRunner;
      field(
        'GitHub',
        g ? `runner ${g.id} ${g.status}${g.busy ? ', busy' : ''}` : 'no runner with this name',
        2,
      );
    }
    if (live.task !== undefined) {
      const t = live.task;
      field(
        'ECS',
        t
          ? `task ${t.lastStatus} (desired ${t.desiredStatus})${t.capacityProvider ? ` on ${t.capacityProvider}` : ''}`
          : record.taskArn
            ? 'ECS no longer knows the task (stopped over an hour ago, or never started)'
            : 'no task',
        2,
      );
    }
  }
  const steps = runnerTimeline(record, live?.task ?? undefined);
  const total = steps.length ? steps.at(-1)!.sinceStartMs : 0;
  lines.push(`Timeline (${formatMs(total)} from record created to last step):`);
  lines.push(...timelineLines(steps));
  if (!live) {
    lines.push(
      '  (task state changes come from ECS: give --config FILE or --data-dir of a running sandbox)',
    );
  }
  return lines.join('\n');
}

export function describeJob(job: JobRecord, runners: RunnerRecord[], nowMs: number): string {
  const lines: string[] = [];
  const field = fieldWriter(lines);
  field('ID', String(job.id));
  field('Name', job.name ?? '-');
  if (job.workflowName) field('Workflow', job.workflowName);
  field('Repository', job.repository);
  field('Run', `${job.runId} (attempt ${job.runAttempt})`);
  if (job.htmlUrl) field('URL', job.htmlUrl);
  field('Labels', job.labels.join(', '));
  field('Status', jobStatus(job));
  field('Pool', job.pool ?? '- (no pool counted it)');
  field(
    'Runner',
    job.runnerName ? `${job.runnerName}${job.runnerId ? ` (id ${job.runnerId})` : ''}` : '-',
  );
  field('Queued', `${job.createdAt} (${formatAge(job.createdAt, nowMs)} ago)`);
  const { waitedMs, ranMs } = jobDurations(job);
  if (job.startedAt) field('Started', `${job.startedAt} (waited ${formatMs(waitedMs!)})`);
  if (job.completedAt) {
    field(
      'Completed',
      `${job.completedAt}${ranMs !== undefined ? ` (ran ${formatMs(ranMs)})` : ''}`,
    );
  }
  const costs = runners.flatMap((r) => (r.cost && r.cost.jobId === job.id ? [r.cost] : []));
  if (costs.length) {
    const usd = costs.reduce((n, c) => n + c.usd, 0);
    const parts = costs.map(
      (c) =>
        `${c.capacityProvider} ${c.cpu / 1024} vCPU ${c.memoryMiB / 1024} GB ${c.storageGiB} GiB, ${c.billedSeconds}s billed in ${c.region}`,
    );
    field('Cost', `${formatUsd(usd)} (estimate: ${parts.join('; ')})`);
  }
  if (job.spotRerun) field('Spot re-run', rerunSummary(job));
  if (job.spotRerunOf !== undefined) {
    field('Spot re-run of', `job ${job.spotRerunOf} (its spot task was interrupted; on-demand)`);
  }
  const queued = Date.parse(job.createdAt);
  for (const runner of runners) {
    lines.push(`Runner ${runner.name} (${runner.state}), from the job queued:`);
    const steps = runnerTimeline(runner).map((s) => ({
      ...s,
      sinceStartMs: Date.parse(s.at) - queued,
    }));
    lines.push(...timelineLines(steps));
  }
  if (!runners.length) {
    lines.push(
      job.runnerName
        ? `Runner ${job.runnerName}: no record (not ours, or its record expired)`
        : 'No runner has taken it yet.',
    );
  }
  return lines.join('\n');
}

/** One line about a job's spot re-run, for logs and `describe job`. */
function rerunSummary(job: JobRecord): string {
  const r = job.spotRerun;
  if (!r) return '';
  const target = r.rerunJobId !== undefined ? ` as job ${r.rerunJobId}` : '';
  const error = r.error ? ` (${r.error})` : '';
  return `${r.state}${target} after runner ${r.runner} lost its spot task at ${r.at}${error}`;
}
