import { describe, expect, it } from 'vitest';
import {
  normaliseEventBridge,
  normaliseWorkflowJob,
} from '../../../controller/events/normalise.ts';
import { InvalidEventError } from '../../../controller/events/errors.ts';
import { example, workflowJobExamples } from './webhook-examples.ts';

function job(body: unknown) {
  const result = normaliseWorkflowJob(body);
  if (result.kind !== 'job') throw new Error('expected a job');
  return result.event;
}

describe('normaliseWorkflowJob on the real payloads', () => {
  it('normalises every example', () => {
    expect(workflowJobExamples.length).toBeGreaterThanOrEqual(4);
    for (const body of workflowJobExamples) {
      const event = job(body);
      expect(event.action).toBe(body.action);
      expect(event.job.id).toBe(body.workflow_job.id);
      expect(event.job.repository).toBe(body.repository.full_name);
    }
  });

  it('queued: status from the action, no runner, owner from the repository', () => {
    const body = example('queued');
    const event = job(body);
    expect(event.job).toMatchObject({
      id: 289782451,
      runId: 2202229078,
      runAttempt: 1,
      repository: 'Codertocat/Hello-World',
      owner: 'Codertocat',
      labels: ['ubuntu-latest'],
      status: 'queued',
      name: 'update',
      workflowName: 'CodeQL',
      createdAt: '2021-09-13T02:21:13Z',
    });
    // The payload carries a stale runner; a queued job has none.
    expect(event.job.runnerName).toBeUndefined();
    expect(event.job.startedAt).toBeUndefined();
    expect(event.dedupKey).toBe('workflow_job:289782451:1:queued');
  });

  it('queued with workflow_job.status "waiting": the action wins', () => {
    const body = workflowJobExamples.find(
      (e) => e.action === 'queued' && e.workflow_job.status === 'waiting',
    )!;
    expect(job(body).job.status).toBe('queued');
    expect(job(body).job.labels).toEqual(['self-hosted', 'k8s']);
  });

  it('waiting', () => {
    const event = job(example('waiting'));
    expect(event.job.status).toBe('waiting');
    expect(event.dedupKey).toBe('workflow_job:12877621891:1:waiting');
  });

  it('in_progress: runner and start time', () => {
    const body = workflowJobExamples.find(
      (e) =>
        e.action === 'in_progress' &&
        e.workflow_job.run_attempt === 1 &&
        e.workflow_job.id === 289782451,
    )!;
    expect(job(body).job).toMatchObject({
      status: 'in_progress',
      runnerName: 'GitHub Actions 5',
      runnerId: 5,
      startedAt: '2021-09-13T02:21:13Z',
    });
  });

  it('in_progress without run_attempt or created_at (old payload): attempt 1, created = started', () => {
    const body = workflowJobExamples.find((e) => e.workflow_job.run_attempt === undefined)!;
    const event = job(body);
    expect(event.job.runAttempt).toBe(1);
    expect(event.job.createdAt).toBe(body.workflow_job.started_at);
  });

  it('completed: conclusion and completion time', () => {
    const event = job(example('completed', 1));
    expect(event.job).toMatchObject({
      status: 'completed',
      conclusion: 'success',
      completedAt: '2021-08-05T10:38:16Z',
    });
    expect(job(example('completed', 0)).job.conclusion).toBe('failure');
  });

  it('runner_id 0, a negative integer or "" is no runner (the schema allows any integer or null)', () => {
    for (const action of ['in_progress', 'completed'] as const) {
      for (const value of [0, -1, '']) {
        const body = example(action === 'completed' ? 'completed' : 'queued', 1);
        body.action = action;
        body.workflow_job.status = action;
        (body.workflow_job as Record<string, unknown>).runner_id = value;
        const event = job(body);
        expect(event.job.status).toBe(action);
        expect(event.job.runnerId).toBeUndefined();
      }
    }
  });

  it('a fractional or non-numeric runner_id is still malformed', () => {
    for (const value of [1.5, 'x', true]) {
      const body = example('completed', 1);
      (body.workflow_job as Record<string, unknown>).runner_id = value;
      expect(() => normaliseWorkflowJob(body)).toThrow(/workflow_job\.runner_id/);
    }
  });

  it('keeps the repository visibility: visibility when sent, else private', () => {
    const body = example('queued');
    (body.repository as Record<string, unknown>).private = false;
    delete (body.repository as Record<string, unknown>).visibility;
    expect(job(body).job.visibility).toBe('public');
    (body.repository as Record<string, unknown>).private = true;
    expect(job(body).job.visibility).toBe('private');
    (body.repository as Record<string, unknown>).visibility = 'internal';
    expect(job(body).job.visibility).toBe('internal');
  });

  it('ignores actions it does not track', () => {
    const body = example('queued');
    body.action = 'requested';
    expect(normaliseWorkflowJob(body)).toEqual({
      kind: 'ignored',
      reason: 'workflow_job action "requested" is not tracked',
    });
  });
});

describe('malformed payloads name the field', () => {
  const cases: [string, (b: ReturnType<typeof example>) => unknown, string, RegExp][] = [
    ['not an object', () => 'hello', '', /payload: expected a JSON object/],
    ['no action', (b) => ({ ...b, action: undefined }), 'action', /action: expected a string/],
    [
      'no workflow_job',
      (b) => ({ ...b, workflow_job: null }),
      'workflow_job',
      /workflow_job: expected an object, got null/,
    ],
    [
      'bad id',
      (b) => ({ ...b, workflow_job: { ...b.workflow_job, id: 'x' } }),
      'workflow_job.id',
      /workflow_job.id: expected a positive integer/,
    ],
    [
      'no run_id',
      (b) => ({ ...b, workflow_job: { ...b.workflow_job, run_id: undefined } }),
      'workflow_job.run_id',
      /missing/,
    ],
    [
      'bad labels',
      (b) => ({ ...b, workflow_job: { ...b.workflow_job, labels: [1] } }),
      'workflow_job.labels',
      /array of strings/,
    ],
    [
      'bad repository',
      (b) => ({ ...b, repository: { full_name: 'nope' } }),
      'repository.full_name',
      /owner\/name/,
    ],
    [
      'bad created_at',
      (b) => ({ ...b, workflow_job: { ...b.workflow_job, created_at: 'yesterday' } }),
      'workflow_job.created_at',
      /ISO 8601/,
    ],
  ];
  for (const [title, mutate, field, message] of cases) {
    it(title, () => {
      const body = mutate(example('queued'));
      let caught: unknown;
      try {
        normaliseWorkflowJob(body);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(InvalidEventError);
      expect((caught as InvalidEventError).field).toBe(field);
      expect((caught as Error).message).toMatch(message);
    });
  }
});

describe('normaliseEventBridge', () => {
  const envelope = (detail: unknown, over: Record<string, unknown> = {}) => ({
    version: '0',
    id: 'e1',
    source: 'github.com',
    'detail-type': 'workflow_job',
    detail,
    ...over,
  });

  it('unwraps the detail', () => {
    const result = normaliseEventBridge(envelope(example('queued')));
    expect(result.kind === 'job' && result.event.job.id).toBe(289782451);
  });

  it('refuses another source or detail-type', () => {
    expect(() => normaliseEventBridge(envelope(example('queued'), { source: 'aws.ecs' }))).toThrow(
      /source: expected "github.com", got the string "aws.ecs"/,
    );
    expect(() =>
      normaliseEventBridge(envelope(example('queued'), { 'detail-type': 'push' })),
    ).toThrow(/detail-type/);
  });

  it('prefixes detail fields', () => {
    const body = example('queued');
    body.workflow_job.run_id = -1;
    try {
      normaliseEventBridge(envelope(body));
      expect.unreachable();
    } catch (err) {
      expect((err as InvalidEventError).field).toBe('detail.workflow_job.run_id');
      expect((err as Error).message).toMatch(
        /^detail\.workflow_job\.run_id: expected a positive integer/,
      );
    }
  });
});
