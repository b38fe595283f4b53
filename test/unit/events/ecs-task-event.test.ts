import { describe, expect, it } from 'vitest';
import {
  normaliseEcsTaskStateChange,
  type EcsTaskEvent,
} from '../../../controller/events/ecs-task-event.ts';
import { InvalidEventError } from '../../../controller/events/errors.ts';

// Shaped after the example in the ECS developer guide ("Amazon ECS task state change events").
export function taskStateChange(detail: Record<string, unknown> = {}) {
  return {
    version: '0',
    id: '3317b2af-7005-947d-b652-f55e762e571a',
    'detail-type': 'ECS Task State Change',
    source: 'aws.ecs',
    account: '111122223333',
    time: '2020-01-23T17:57:58Z',
    region: 'us-west-2',
    resources: [
      'arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/c13b4cb40f1f4fe4a2971f76ae5a47ad',
    ],
    detail: {
      attachments: [{ id: '1789bcae', type: 'eni', status: 'ATTACHED', details: [] }],
      availabilityZone: 'us-west-2c',
      clusterArn: 'arn:aws:ecs:us-west-2:111122223333:cluster/FargateCluster',
      containers: [{ name: 'runner', lastStatus: 'RUNNING' }],
      createdAt: '2020-01-23T17:57:34.402Z',
      launchType: 'FARGATE',
      cpu: '256',
      memory: '512',
      desiredStatus: 'RUNNING',
      group: 'family:sample-fargate',
      lastStatus: 'RUNNING',
      overrides: {
        containerOverrides: [
          { name: 'runner', environment: [{ name: 'JIT', value: 'secret-jit-config' }] },
        ],
      },
      connectivity: 'CONNECTED',
      connectivityAt: '2020-01-23T17:57:38.453Z',
      pullStartedAt: '2020-01-23T17:57:52.103Z',
      startedAt: '2020-01-23T17:57:58.103Z',
      startedBy: 'runnerctl/pool-a',
      pullStoppedAt: '2020-01-23T17:57:55.103Z',
      updatedAt: '2020-01-23T17:57:58.103Z',
      taskArn:
        'arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/c13b4cb40f1f4fe4a2971f76ae5a47ad',
      taskDefinitionArn: 'arn:aws:ecs:us-west-2:111122223333:task-definition/sample-fargate:1',
      version: 4,
      platformVersion: '1.3.0',
      ...detail,
    },
  };
}

describe('normaliseEcsTaskStateChange', () => {
  it('keeps what the controller uses and drops the overrides (they carry the environment)', () => {
    const event = normaliseEcsTaskStateChange(taskStateChange());
    expect(event).toEqual<EcsTaskEvent>({
      taskArn:
        'arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/c13b4cb40f1f4fe4a2971f76ae5a47ad',
      clusterArn: 'arn:aws:ecs:us-west-2:111122223333:cluster/FargateCluster',
      group: 'family:sample-fargate',
      startedBy: 'runnerctl/pool-a',
      lastStatus: 'RUNNING',
      desiredStatus: 'RUNNING',
      launchType: 'FARGATE',
      version: 4,
      updatedAt: '2020-01-23T17:57:58.103Z',
      startedAt: '2020-01-23T17:57:58.103Z',
      cpu: '256',
      memory: '512',
    });
    expect(JSON.stringify(event)).not.toContain('secret-jit-config');
  });

  it('reads a stopped spot task and tags given as key/value pairs', () => {
    const event = normaliseEcsTaskStateChange(
      taskStateChange({
        launchType: undefined,
        capacityProviderName: 'FARGATE_SPOT',
        lastStatus: 'STOPPED',
        desiredStatus: 'STOPPED',
        stopCode: 'SpotInterruption',
        stoppedReason: 'Your Spot Task was interrupted.',
        stoppedAt: '2020-01-23T18:10:00.000Z',
        tags: [{ key: 'runnerctl:pool', value: 'a' }],
        version: 9,
      }),
    );
    expect(event).toMatchObject({
      capacityProviderName: 'FARGATE_SPOT',
      stopCode: 'SpotInterruption',
      stoppedAt: '2020-01-23T18:10:00.000Z',
      tags: { 'runnerctl:pool': 'a' },
      version: 9,
    });
    expect(event?.launchType).toBeUndefined();
  });

  it('returns undefined for anything that is not an ECS Task State Change', () => {
    expect(
      normaliseEcsTaskStateChange({ source: 'github.com', 'detail-type': 'workflow_job' }),
    ).toBe(undefined);
    expect(
      normaliseEcsTaskStateChange({ ...taskStateChange(), 'detail-type': 'ECS Service Action' }),
    ).toBeUndefined();
    expect(normaliseEcsTaskStateChange('text')).toBeUndefined();
  });

  it('names the field of a malformed task event', () => {
    const bad = (detail: Record<string, unknown>) => () =>
      normaliseEcsTaskStateChange(taskStateChange(detail));
    expect(bad({ taskArn: undefined })).toThrow(/detail\.taskArn: expected a non-empty string/);
    expect(bad({ version: '4' })).toThrow(/detail\.version: expected a non-negative integer/);
    expect(bad({ stoppedAt: 'yesterday' })).toThrow(/detail\.stoppedAt: expected an ISO 8601/);
    expect(bad({ tags: { a: 'b' } })).toThrow(InvalidEventError);
    expect(() => normaliseEcsTaskStateChange({ ...taskStateChange(), detail: 3 })).toThrow(
      /detail: expected an object/,
    );
  });
});
