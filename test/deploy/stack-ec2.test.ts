// The stack with the optional EC2 capacity provider for Docker jobs, synthesised once: the Auto
// Scaling group, its capacity provider, the docker runner task definition, the controller's
// permission to run it, and cdk-nag clean.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  MINIMAL_CONFIG,
  errorAndWarningAnnotations,
  logicalId,
  statementsOfRole,
  synthesize,
  unacknowledgedNagFindings,
} from './helpers.ts';
import type { Synthesized } from './helpers.ts';

let s: Synthesized;

beforeAll(() => {
  s = synthesize({
    ...MINIMAL_CONFIG,
    runner: { ...MINIMAL_CONFIG.runner, extraArchitectures: ['ARM64'] },
    ec2: {
      instanceTypes: ['m7i.large', 'm6i.large'],
      minCapacity: 0,
      maxCapacity: 6,
      onDemandBaseCapacity: 1,
      onDemandPercentageAboveBase: 25,
      warmPool: { minSize: 1, maxPreparedCapacity: 2 },
    },
  });
});

describe('EC2 capacity provider', () => {
  it('runs a Spot/on-demand mix of the configured types in the runner subnets', () => {
    const group =
      s.resources[logicalId(s, 'AWS::AutoScaling::AutoScalingGroup', 'Ec2AutoScalingGroup')]!;
    expect(group.Properties).toMatchObject({
      MinSize: '0',
      MaxSize: '6',
      MaxInstanceLifetime: 7 * 24 * 3600,
      MixedInstancesPolicy: {
        InstancesDistribution: {
          OnDemandBaseCapacity: 1,
          OnDemandPercentageAboveBaseCapacity: 25,
          SpotAllocationStrategy: 'price-capacity-optimized',
        },
        LaunchTemplate: {
          Overrides: [{ InstanceType: 'm7i.large' }, { InstanceType: 'm6i.large' }],
        },
      },
    });
    const subnets = JSON.stringify(group.Properties!.VPCZoneIdentifier);
    expect(subnets).toContain('Vpcrunners');
    s.template.hasResourceProperties('AWS::AutoScaling::WarmPool', {
      MinSize: 1,
      MaxGroupPreparedCapacity: 2,
      PoolState: 'Stopped',
    });
  });

  it('boots the ECS-optimised AMI from SSM with IMDSv2 (hop limit 1) and encrypted volumes', () => {
    const template = s.resources[logicalId(s, 'AWS::EC2::LaunchTemplate', 'Ec2LaunchTemplate')]!;
    const data = template.Properties!.LaunchTemplateData as Record<string, unknown>;
    expect(data.MetadataOptions).toMatchObject({
      HttpTokens: 'required',
      HttpPutResponseHopLimit: 1,
    });
    expect(data.BlockDeviceMappings).toEqual([
      expect.objectContaining({
        Ebs: expect.objectContaining({ Encrypted: true, VolumeType: 'gp3' }),
      }),
    ]);
    const parameters = s.template.toJSON().Parameters as Record<string, { Default?: string }>;
    expect(Object.values(parameters).map((p) => p.Default)).toContain(
      '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id',
    );
  });

  it('is a capacity provider of the cluster with managed scaling, named as the example pool expects', () => {
    s.template.hasResourceProperties('AWS::ECS::CapacityProvider', {
      Name: 'runnerctl-docker',
      AutoScalingGroupProvider: {
        ManagedScaling: { Status: 'ENABLED', TargetCapacity: 100 },
        ManagedTerminationProtection: 'DISABLED',
        ManagedDraining: 'ENABLED',
      },
    });
    s.template.hasOutput('Ec2CapacityProviderName', {});
    // No draining Lambda: ECS drains the instances itself.
    expect(s.template.findResources('AWS::Lambda::Function')).toEqual({});
  });

  it('has a docker runner task definition: the runner and a privileged dind sidecar sharing a socket', () => {
    const definition =
      s.resources[logicalId(s, 'AWS::ECS::TaskDefinition', 'RunnerTaskDefinitiondocker')]!;
    expect(definition.Properties).toMatchObject({
      Family: 'runnerctl-runner-docker',
      NetworkMode: 'bridge',
      RequiresCompatibilities: ['EC2'],
      Volumes: [{ Name: 'docker-socket' }],
    });
    const containers = definition.Properties!.ContainerDefinitions as Record<string, unknown>[];
    const byName = Object.fromEntries(containers.map((c) => [c.Name, c]));
    expect(Object.keys(byName).sort()).toEqual(['dind', 'runner']);
    expect(byName.dind).toMatchObject({ Privileged: true, Essential: true });
    expect(byName.runner!.Privileged).toBeUndefined();
    expect(byName.runner).toMatchObject({
      Environment: [{ Name: 'DOCKER_HOST', Value: 'unix:///var/run/docker/docker.sock' }],
      MountPoints: [{ SourceVolume: 'docker-socket', ContainerPath: '/var/run/docker' }],
      DependsOn: [{ ContainerName: 'dind', Condition: 'START' }],
    });
    s.template.hasOutput('DockerRunnerTaskDefinitionFamily', { Value: 'runnerctl-runner-docker' });
  });

  it('lets the controller RunTask the docker family too', () => {
    const role = logicalId(s, 'AWS::IAM::Role', 'ControllerTaskRole');
    const runTask = statementsOfRole(s, role).find(
      (statement) => statement.Sid === 'RunRunnerTasks',
    )!;
    expect(JSON.stringify(runTask.Resource)).toContain(
      ':task-definition/runnerctl-runner-docker:*',
    );
  });

  it('creates every size for each architecture, exported per architecture', () => {
    const definitions = Object.values(s.resources).filter(
      (r) => r.Type === 'AWS::ECS::TaskDefinition',
    );
    const byFamily = Object.fromEntries(
      definitions.map((d) => [d.Properties!.Family, d.Properties!.RuntimePlatform]),
    );
    expect(byFamily['runnerctl-runner-small']).toMatchObject({ CpuArchitecture: 'X86_64' });
    expect(byFamily['runnerctl-runner-small-arm64']).toMatchObject({ CpuArchitecture: 'ARM64' });
    s.template.hasOutput('RunnerTaskDefinitionFamiliesARM64', {
      Value:
        'runnerctl-runner-small-arm64,runnerctl-runner-medium-arm64,runnerctl-runner-large-arm64',
    });
    s.template.hasOutput('RunnerTaskDefinitionFamiliesX8664', {
      Value: 'runnerctl-runner-small,runnerctl-runner-medium,runnerctl-runner-large',
    });
    const role = logicalId(s, 'AWS::IAM::Role', 'ControllerTaskRole');
    const runTask = statementsOfRole(s, role).find((st) => st.Sid === 'RunRunnerTasks')!;
    expect(JSON.stringify(runTask.Resource)).toContain(
      ':task-definition/runnerctl-runner-large-arm64:*',
    );
    // The controller learns which architectures have families, so an ARM64 pool naming the plain
    // family launches the -arm64 one (controller/reconcile/runner/task-definition.ts).
    const controller = Object.values(s.resources).find(
      (r) =>
        r.Type === 'AWS::ECS::TaskDefinition' &&
        JSON.stringify(r.Properties!.ContainerDefinitions).includes('RUNNERCTL_TABLE'),
    )!;
    const containers = controller.Properties!.ContainerDefinitions as {
      Environment: { Name: string; Value: unknown }[];
    }[];
    const env = Object.fromEntries(containers[0]!.Environment.map((e) => [e.Name, e.Value]));
    expect(env.RUNNERCTL_RUNNER_ARCHITECTURES).toBe('X86_64,ARM64');
  });

  it('passes cdk-nag with no unacknowledged findings and no warnings', () => {
    expect(unacknowledgedNagFindings(s)).toEqual([]);
    expect(errorAndWarningAnnotations(s)).toEqual([]);
  });
});
