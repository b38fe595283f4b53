// The runner timeline and the views built on it, from fixed records.

import { describe, expect, it } from 'vitest';
import {
  describeJob,
  describeRunner,
  formatMs,
  jobDurations,
  runnerTimeline,
} from '../../../controller/cli/runner-view.ts';
import type { RunnerTask } from '../../../controller/ecs/types.ts';
import type { JobRecord, RunnerRecord } from '../../../controller/store/types.ts';

const T0 = Date.parse('2026-11-27T12:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

const record: RunnerRecord = {
  name: 'rctl-seed-0a1b2c3d',
  pool: 'seed',
  state: 'finished',
  labels: ['self-hosted', '1'],
  githubRunnerId: 7,
  taskArn: 'arn:aws:ecs:us-east-1:1:task/runnerctl/abc123',
  capacityProvider: 'FARGATE_SPOT',
  jobId: 42,
  attempts: 1,
  createdAt: at(0),
  updatedAt: at(70_000),
  version: 8,
  timeline: [
    { at: at(0), event: 'created' },
    { at: at(500), event: 'configured', detail: 'runner 7' },
    { at: at(900), event: 'task-started', detail: 'arn:...abc123 on FARGATE_SPOT' },
    { at: at(55_000), event: 'idle' },
    { at: at(58_000), event: 'busy', detail: 'job 42' },
    { at: at(69_000), event: 'draining', detail: 'job completed' },
    { at: at(70_000), event: 'finished', detail: 'job completed' },
  ],
};

const task: RunnerTask = {
  arn: record.taskArn!,
  cluster: 'runnerctl',
  lastStatus: 'STOPPED',
  desiredStatus: 'STOPPED',
  tags: {},
  exitCode: 0,
  stoppedReason: 'Essential container in task exited',
  createdAt: T0 + 950,
  startedAt: T0 + 50_000,
  stoppedAt: T0 + 69_500,
};

describe('runner timeline', () => {
  it('names each step and times it from the start and from the previous step', () => {
    const steps = runnerTimeline(record);
    expect(steps.map((s) => s.text)).toEqual([
      'record created',
      'JIT config generated',
      'task started',
      'registered (online, idle)',
      'job bound (busy)',
      'removing',
      'removed (finished)',
    ]);
    expect(steps.map((s) => s.stepMs)).toEqual([0, 500, 400, 54_100, 3_000, 11_000, 1_000]);
    expect(steps.at(-1)!.sinceStartMs).toBe(70_000);
  });

  it("merges the task's ECS state changes in time order", () => {
    const steps = runnerTimeline(record, task);
    expect(steps.map((s) => s.event)).toEqual([
      'created',
      'configured',
      'task-started',
      'task PROVISIONING',
      'task RUNNING',
      'idle',
      'busy',
      'draining',
      'task STOPPED',
      'finished',
    ]);
    const stopped = steps.find((s) => s.event === 'task STOPPED')!;
    expect(stopped).toMatchObject({
      source: 'ecs',
      detail: 'exit 0, Essential container in task exited',
    });
    expect(steps.find((s) => s.event === 'task RUNNING')!.stepMs).toBe(49_050);
  });

  it('adds the creation when the timeline lost it (only the newest entries are kept)', () => {
    const trimmed = { ...record, timeline: record.timeline.slice(3) };
    const steps = runnerTimeline(trimmed);
    expect(steps[0]).toMatchObject({ event: 'created', sinceStartMs: 0 });
    expect(steps[1]).toMatchObject({ event: 'idle', stepMs: 55_000 });
  });

  it('formats durations for people', () => {
    expect([850, 4_200, 192_000, 7_500_000].map(formatMs)).toEqual([
      '850ms',
      '4.2s',
      '3m12s',
      '2h05m',
    ]);
  });

  it('describe runner shows the record, the live view and the timeline', () => {
    const text = describeRunner(record, T0 + 80_000, {
      githubRunner: null,
      task,
    });
    expect(text).toContain('Name:                 rctl-seed-0a1b2c3d');
    expect(text).toContain('GitHub:             no runner with this name');
    expect(text).toContain('ECS:                task STOPPED (desired STOPPED)');
    expect(text).toContain('Timeline (1m10s from record created to last step):');
    expect(text).toMatch(/\+55\.0s\s+\+5\.0s\s+registered \(online, idle\)/);
    const offline = describeRunner(record, T0 + 80_000);
    expect(offline).toContain('task state changes come from ECS');
  });

  it('describe job shows the wait, the run and the runner measured from the queued job', () => {
    const job: JobRecord = {
      id: 42,
      runId: 9,
      runAttempt: 1,
      repository: 'acme/app',
      owner: 'acme',
      labels: ['self-hosted', '1'],
      status: 'completed',
      conclusion: 'success',
      name: 'build',
      pool: 'seed',
      runnerName: record.name,
      createdAt: at(-2_000),
      startedAt: at(58_000),
      completedAt: at(68_000),
      updatedAt: at(68_000),
      version: 3,
    };
    expect(jobDurations(job)).toEqual({ waitedMs: 60_000, ranMs: 10_000 });
    const text = describeJob(job, [record], T0 + 80_000);
    expect(text).toContain('(waited 1m00s)');
    expect(text).toContain('(ran 10.0s)');
    expect(text).toMatch(/\+2\.0s\s+\+0ms\s+record created/);
    expect(describeJob({ ...job, runnerName: undefined }, [], T0)).toContain(
      'No runner has taken it yet.',
    );
  });
});
