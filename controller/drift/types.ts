// The drift report: every disagreement between what the controller believes (its store) and what
// GitHub and ECS hold, each named with its objects and the action that resolves it. Pure types.

import type { RunnerTask } from '../ecs/types.ts';
import type { GitHubRunner, GitHubScope, WorkflowJob } from '../github/types.ts';
import type { JobRecord, PoolRecord, RunnerRecord } from '../store/types.ts';

export const DRIFT_KINDS = [
  /** A GitHub runner with our name prefix and no live runner record. */
  'runner-without-record',
  /** A task we started (startedBy, runner tag) that no live runner record tracks. */
  'task-without-record',
  /** A launching/idle/busy record whose task is stopped or unknown to ECS. */
  'record-without-task',
  /** An idle/busy record whose GitHub runner is gone while its task still runs. */
  'record-without-runner',
  /** A task runs, but its runner did not come online within the registration timeout. */
  'runner-not-registered',
  /** GitHub shows the runner offline while its task runs (record idle or busy). */
  'runner-offline',
  /** A queued job a pool matches, and no runner of that pool is starting or idle for it. */
  'job-without-runner',
  /** A queued self-hosted job that no pool matches (or a pool refuses: size not offered). */
  'job-without-pool',
  /** The store says a job is queued; GitHub no longer lists it as queued. */
  'job-record-stale',
  /** More live runner records than the pool's maxRunners. */
  'pool-above-max',
  /** A record in one state for longer than that state's timeout. */
  'record-stuck',
] as const;

export type DriftKind = (typeof DRIFT_KINDS)[number];

/** Who resolves a finding: the running controller on its own, or an admin. */
export type DriftActor = 'controller' | 'admin';

/** The objects a finding is about (only those that exist are set). */
export interface DriftObjects {
  runner?: string;
  githubRunnerId?: number;
  /** GitHub's view of the runner: online/offline, busy. */
  githubStatus?: string;
  taskArn?: string;
  /** ECS lastStatus of the task. */
  taskStatus?: string;
  /** The record's state. */
  state?: string;
  jobId?: number;
  jobUrl?: string;
  repository?: string;
  labels?: string[];
}

export interface DriftFinding {
  kind: DriftKind;
  pool?: string;
  /** One line, for people: what disagrees with what. */
  message: string;
  objects: DriftObjects;
  /** Since when the disagreement is known to hold (ISO), when known. */
  since?: string;
  actor: DriftActor;
  /** What the controller will do, or what an admin should do. */
  action: string;
}

export interface DriftReport {
  generatedAt: string;
  /** True when there are no findings. */
  inSync: boolean;
  /** The pool the report is limited to, when one was asked for. */
  pool?: string;
  /** Disagreements younger than this are expected (launches and removals in flight). */
  graceSeconds: number;
  /** How much was looked at. */
  checked: {
    pools: number;
    records: number;
    githubRunners: number;
    tasks: number;
    repositories: number;
    queuedJobs: number;
  };
  counts: Partial<Record<DriftKind, number>>;
  findings: DriftFinding[];
  /** Parts that could not be read (the report is then incomplete for them). */
  warnings: string[];
}

/** Everything the classification looks at, read once (the outside world before the store). */
export interface DriftSnapshot {
  nowMs: number;
  pools: PoolRecord[];
  /** Every runner record, finished ones included. */
  records: RunnerRecord[];
  /** Job records the store holds as queued or waiting. */
  storedJobs: JobRecord[];
  /** Job records the store holds as in_progress (for maxRunnersPerRepository); absent: none read. */
  runningJobs?: JobRecord[];
  /** GitHub runners with our prefix, per pool scope. */
  githubRunners: { scope: GitHubScope; runner: GitHubRunner }[];
  /** Tasks we started that ECS shows running, and the tasks of live records. */
  tasks: RunnerTask[];
  /** GitHub's queued jobs of the repositories the controller knows. */
  queuedJobs: WorkflowJob[];
  /** Repositories whose queued jobs were read. */
  repositories: string[];
  warnings: string[];
}

export interface DriftSettings {
  runnerNamePrefix: string;
  /** Disagreements younger than this are not reported. */
  graceMs: number;
  /** Defaults of the pool timeouts (the controller's). */
  registrationTimeoutMs: number;
  idleTimeoutMs: number;
  maxJobDurationMs: number;
  maxLaunchAttempts: number;
  /** Period of the controller's resync (garbage collection, queued jobs), for the actions' text. */
  resyncSeconds?: number;
}
