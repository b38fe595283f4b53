// Turns a `workflow_job` webhook body (directly, or wrapped in an EventBridge envelope) into
// the JobStore's job shape. The webhook `action` is the job's status: GitHub sometimes sends
// `action: queued` with a stale `workflow_job.status`, so the action wins.

import type { JobRecord, JobStatus, RepositoryVisibility } from '../store/types.ts';
import { InvalidEventError } from './errors.ts';

export type JobInput = Omit<JobRecord, 'version' | 'updatedAt'>;

export interface WorkflowJobEvent {
  action: JobStatus;
  job: JobInput;
  /**
   * (workflow_job.id, run_attempt, action): EventBridge relays drop the delivery headers, so
   * duplicates are recognised by what they say, not by the delivery id.
   */
  dedupKey: string;
  /**
   * Where it came from: `webhook` (a /webhook delivery, HMAC-checked before normalisation) or
   * `eventbridge` (SQS; unauthenticated: anyone allowed PutEvents could have sent it).
   */
  source: 'webhook' | 'eventbridge';
}

export type NormaliseResult =
  | { kind: 'job'; event: WorkflowJobEvent }
  /** A well-formed event the controller has no use for (another action). */
  | { kind: 'ignored'; reason: string };

export const EVENTBRIDGE_SOURCE = 'github.com';
export const EVENTBRIDGE_DETAIL_TYPE = 'workflow_job';

const ACTIONS: readonly JobStatus[] = ['queued', 'waiting', 'in_progress', 'completed'];

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function object(parent: Json, key: string, path: string): Json {
  const value = parent[key];
  if (!isObject(value)) {
    throw new InvalidEventError(`${path}: expected an object, got ${describe(value)}`, path);
  }
  return value;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 60))}`;
  return `${typeof value} ${JSON.stringify(value)?.slice(0, 60)}`;
}

function positiveInt(parent: Json, key: string, path: string): number {
  const value = parent[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidEventError(
      `${path}: expected a positive integer, got ${describe(value)}`,
      path,
    );
  }
  return value;
}

/**
 * workflow_job.runner_id is "integer or null" with no minimum: GitHub sends 0 for a job no runner
 * took (a cancelled queued job). 0, a negative integer and "" all mean "no runner".
 */
function optionalRunnerId(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new InvalidEventError(
      `workflow_job.runner_id: expected an integer or null, got ${describe(value)}`,
      'workflow_job.runner_id',
    );
  }
  return value > 0 ? value : undefined;
}

/** repository.visibility when GitHub sends it (public, private, internal), else repository.private. */
function visibilityOf(repository: Json): RepositoryVisibility | undefined {
  const visibility = repository.visibility;
  if (visibility === 'public' || visibility === 'private' || visibility === 'internal') {
    return visibility;
  }
  if (typeof repository.private === 'boolean') return repository.private ? 'private' : 'public';
  return undefined;
}

function optionalString(parent: Json, key: string, path: string): string | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new InvalidEventError(`${path}: expected a string or null, got ${describe(value)}`, path);
  }
  return value;
}

function optionalTimestamp(parent: Json, key: string, path: string): string | undefined {
  const value = optionalString(parent, key, path);
  if (value !== undefined && Number.isNaN(Date.parse(value))) {
    throw new InvalidEventError(
      `${path}: expected an ISO 8601 timestamp, got ${describe(value)}`,
      path,
    );
  }
  return value;
}

/** Normalises a `workflow_job` webhook body. Throws InvalidEventError naming the bad field. */
export function normaliseWorkflowJob(body: unknown): NormaliseResult {
  if (!isObject(body)) {
    throw new InvalidEventError(`payload: expected a JSON object, got ${describe(body)}`, '');
  }
  const action = body.action;
  if (typeof action !== 'string') {
    throw new InvalidEventError(`action: expected a string, got ${describe(action)}`, 'action');
  }
  const wj = object(body, 'workflow_job', 'workflow_job');
  if (!(ACTIONS as readonly string[]).includes(action)) {
    return { kind: 'ignored', reason: `workflow_job action "${action}" is not tracked` };
  }
  const status = action as JobStatus;
  const id = positiveInt(wj, 'id', 'workflow_job.id');
  const runId = positiveInt(wj, 'run_id', 'workflow_job.run_id');
  // Older payloads (and GHES) have no run_attempt: that is the first attempt.
  const runAttempt =
    wj.run_attempt === undefined || wj.run_attempt === null
      ? 1
      : positiveInt(wj, 'run_attempt', 'workflow_job.run_attempt');

  const labelsValue = wj.labels;
  if (!Array.isArray(labelsValue) || !labelsValue.every((l) => typeof l === 'string')) {
    throw new InvalidEventError(
      `workflow_job.labels: expected an array of strings, got ${describe(labelsValue)}`,
      'workflow_job.labels',
    );
  }

  const repository = object(body, 'repository', 'repository');
  const fullName = repository.full_name;
  if (typeof fullName !== 'string' || !/^[^/\s]+\/[^/\s]+$/.test(fullName)) {
    throw new InvalidEventError(
      `repository.full_name: expected "owner/name", got ${describe(fullName)}`,
      'repository.full_name',
    );
  }
  // The owner segment of full_name is what API paths use (repository.owner.login agrees in
  // real payloads; one community example disagrees).
  const owner = fullName.split('/')[0]!;

  const createdAt =
    optionalTimestamp(wj, 'created_at', 'workflow_job.created_at') ??
    optionalTimestamp(wj, 'started_at', 'workflow_job.started_at');
  if (createdAt === undefined) {
    throw new InvalidEventError(
      'workflow_job.created_at: expected an ISO 8601 timestamp (or started_at), got nothing',
      'workflow_job.created_at',
    );
  }

  const job: JobInput = {
    id,
    runId,
    runAttempt,
    repository: fullName,
    owner,
    labels: [...labelsValue] as string[],
    status,
    createdAt,
  };
  const conclusion = optionalString(wj, 'conclusion', 'workflow_job.conclusion');
  const name = optionalString(wj, 'name', 'workflow_job.name');
  const workflowName = optionalString(wj, 'workflow_name', 'workflow_job.workflow_name');
  const htmlUrl = optionalString(wj, 'html_url', 'workflow_job.html_url');
  const visibility = visibilityOf(repository);
  if (visibility) job.visibility = visibility;
  if (name !== undefined) job.name = name;
  if (workflowName !== undefined) job.workflowName = workflowName;
  if (htmlUrl !== undefined) job.htmlUrl = htmlUrl;

  // Queued and waiting payloads carry started_at = created_at and sometimes a stale runner:
  // only a running or finished job has a runner and a start time.
  if (status === 'in_progress' || status === 'completed') {
    const startedAt = optionalTimestamp(wj, 'started_at', 'workflow_job.started_at');
    if (startedAt !== undefined) job.startedAt = startedAt;
    const runnerName = optionalString(wj, 'runner_name', 'workflow_job.runner_name');
    if (runnerName) job.runnerName = runnerName;
    const runnerId = optionalRunnerId(wj.runner_id);
    if (runnerId !== undefined) job.runnerId = runnerId;
  }
  if (status === 'completed') {
    if (conclusion !== undefined) job.conclusion = conclusion;
    const completedAt = optionalTimestamp(wj, 'completed_at', 'workflow_job.completed_at');
    if (completedAt !== undefined) job.completedAt = completedAt;
  }

  return {
    kind: 'job',
    event: {
      action: status,
      job,
      dedupKey: `workflow_job:${id}:${runAttempt}:${status}`,
      source: 'webhook',
    },
  };
}

/**
 * Normalises an EventBridge event (source github.com, detail-type workflow_job, detail = the
 * webhook body). Another source or detail-type is invalid here: the rule should not send it.
 */
export function normaliseEventBridge(envelope: unknown): NormaliseResult {
  if (!isObject(envelope)) {
    throw new InvalidEventError(`event: expected a JSON object, got ${describe(envelope)}`, '');
  }
  if (envelope.source !== EVENTBRIDGE_SOURCE) {
    throw new InvalidEventError(
      `source: expected "${EVENTBRIDGE_SOURCE}", got ${describe(envelope.source)}`,
      'source',
    );
  }
  const detailType = envelope['detail-type'];
  if (detailType !== EVENTBRIDGE_DETAIL_TYPE) {
    throw new InvalidEventError(
      `detail-type: expected "${EVENTBRIDGE_DETAIL_TYPE}", got ${describe(detailType)}`,
      'detail-type',
    );
  }
  try {
    const result = normaliseWorkflowJob(envelope.detail);
    return result.kind === 'job'
      ? { kind: 'job', event: { ...result.event, source: 'eventbridge' } }
      : result;
  } catch (err) {
    if (err instanceof InvalidEventError) {
      const field = err.field ? `detail.${err.field}` : 'detail';
      throw new InvalidEventError(
        `detail.${err.message}`.replace(/^detail\.payload:/, 'detail:'),
        field,
        {
          cause: err,
        },
      );
    }
    throw err;
  }
}
