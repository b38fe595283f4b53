// The other branches of the config, synthesised once: an existing VPC, a named bus with its publisher,
// a fixed account and region, secrets by complete ARN, no webhook secret, one ARM runner size,
// an alarm topic.
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

const KEY_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ci/github-app-key-AbCdEf';
const TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:ci-alarms';
const BUS = 'ci-github';
const RELAY = 'arn:aws:iam::123456789012:role/github-webhook-relay';

let s: Synthesized;

beforeAll(() => {
  s = synthesize({
    ...MINIMAL_CONFIG,
    stackName: 'runnerctl-ci',
    account: '123456789012',
    region: 'eu-west-1',
    namePrefix: 'ci',
    network: {
      vpcId: 'vpc-0abc',
      availabilityZones: ['eu-west-1a', 'eu-west-1b'],
      privateSubnetIds: ['subnet-0a', 'subnet-0b'],
      runnerSubnetIds: ['subnet-0c', 'subnet-0d'],
    },
    github: {
      appId: 42,
      installationId: 7,
      apiUrl: 'https://ghe.example.com/api/v3',
      privateKeySecret: KEY_ARN,
    },
    eventBus: { name: BUS, publisherArns: [RELAY] },
    queue: { maxReceiveCount: 3 },
    table: { deletionProtection: false, retainOnDelete: false },
    controller: {
      image: { repository: 'ci/controller', tag: '1.2.3' },
      environment: { RUNNERCTL_RESYNC_SECONDS: '30' },
    },
    runner: {
      image: { repository: 'ci/runner', tag: '2.337.0-ci.1' },
      sizes: [{ name: 'xl', cpu: 8192, memory: 32768 }],
      cpuArchitecture: 'ARM64',
      egress: [{ protocol: 'tcp', port: 443, cidr: '10.0.0.0/8' }],
    },
    logRetentionDays: 90,
    alarmTopicArn: TOPIC_ARN,
  });
});

describe('variant stack', () => {
  it('uses the existing VPC and its private subnets instead of creating one', () => {
    expect(s.template.findResources('AWS::EC2::VPC')).toEqual({});
    expect(s.template.findResources('AWS::EC2::NatGateway')).toEqual({});
    const service = s.resources[logicalId(s, 'AWS::ECS::Service', 'ControllerService')]!;
    expect(service.Properties).toMatchObject({
      NetworkConfiguration: {
        AwsvpcConfiguration: { AssignPublicIp: 'DISABLED', Subnets: ['subnet-0a', 'subnet-0b'] },
      },
    });
    s.template.hasOutput('RunnerSubnetIds', { Value: 'subnet-0c,subnet-0d' });
  });

  it('uses the configured runner subnets and egress, and tells the controller', () => {
    const group = s.resources[logicalId(s, 'AWS::EC2::SecurityGroup', 'RunnerSecurityGroup')]!;
    expect(group.Properties!.SecurityGroupEgress).toEqual([
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        CidrIp: '10.0.0.0/8',
      }),
    ]);
    const definition =
      s.resources[logicalId(s, 'AWS::ECS::TaskDefinition', 'ControllerTaskDefinition')]!;
    const container = (
      definition.Properties!.ContainerDefinitions as Record<string, unknown>[]
    )[0]!;
    const environment = Object.fromEntries(
      (container.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]),
    );
    expect(environment.RUNNERCTL_RUNNER_SUBNETS).toBe('subnet-0c,subnet-0d');
  });

  it('puts the rule on the named bus and honours maxReceiveCount', () => {
    const bus = logicalId(s, 'AWS::Events::EventBus', 'GitHubEventBus');
    expect(s.resources[bus]!.Properties).toMatchObject({ Name: BUS });
    s.template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: bus },
      EventPattern: {
        account: ['123456789012'],
        source: ['github.com'],
        'detail-type': ['workflow_job'],
      },
    });
    const queue = s.resources[logicalId(s, 'AWS::SQS::Queue', 'EventQueue')]!;
    expect(queue.Properties).toMatchObject({ RedrivePolicy: { maxReceiveCount: 3 } });
  });

  it("admits only the integration's principal to the bus and denies every other one", () => {
    const bus = logicalId(s, 'AWS::Events::EventBus', 'GitHubEventBus');
    const statements = Object.values(s.resources)
      .filter((resource) => resource.Type === 'AWS::Events::EventBusPolicy')
      .map((policy) => policy.Properties!.Statement);
    const arn = { 'Fn::GetAtt': [bus, 'Arn'] };
    expect(statements).toEqual([
      {
        Sid: 'PutGitHubEvents',
        Effect: 'Allow',
        Action: 'events:PutEvents',
        Resource: arn,
        Principal: { AWS: [RELAY] },
        Condition: {
          StringEquals: { 'events:source': 'github.com', 'events:detail-type': 'workflow_job' },
        },
      },
      {
        Sid: 'OnlyTheIntegration',
        Effect: 'Deny',
        Action: 'events:PutEvents',
        Resource: arn,
        Principal: '*',
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': [RELAY] } },
      },
    ]);
  });

  it('deletes the table with the stack when asked to', () => {
    s.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: { DeletionProtectionEnabled: false },
    });
  });

  it('injects only the configured secret, by its ARN, and passes the GitHub settings', () => {
    const definition =
      s.resources[logicalId(s, 'AWS::ECS::TaskDefinition', 'ControllerTaskDefinition')]!
        .Properties!;
    const [container] = definition.ContainerDefinitions as Record<string, unknown>[];
    expect(container!.Secrets).toEqual([{ Name: 'GITHUB_APP_PRIVATE_KEY', ValueFrom: KEY_ARN }]);
    const environment = Object.fromEntries(
      (container!.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]),
    );
    expect(environment).toMatchObject({
      GITHUB_APP_ID: '42',
      GITHUB_INSTALLATION_ID: '7',
      GITHUB_API_URL: 'https://ghe.example.com/api/v3',
      RUNNERCTL_RESYNC_SECONDS: '30',
      AWS_REGION: 'eu-west-1',
    });
    expect(JSON.stringify(container!.Image)).toContain('123456789012.dkr.ecr.eu-west-1.');
    const executionRole = logicalId(s, 'AWS::IAM::Role', 'ControllerExecutionRole');
    const secretStatements = statementsOfRole(s, executionRole).filter((statement) =>
      JSON.stringify(statement.Action).includes('secretsmanager:'),
    );
    expect(secretStatements.map((statement) => statement.Resource)).toEqual([KEY_ARN]);
  });

  it('creates one ARM64 runner task definition and lets the controller run only it', () => {
    const definitions = Object.values(s.template.findResources('AWS::ECS::TaskDefinition')).filter(
      (resource) => String(resource.Properties.Family).startsWith('ci-runner-'),
    );
    expect(definitions).toHaveLength(1);
    expect(definitions[0]!.Properties).toMatchObject({
      Family: 'ci-runner-xl',
      Cpu: '8192',
      Memory: '32768',
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
    });
    const taskRole = logicalId(s, 'AWS::IAM::Role', 'ControllerTaskRole');
    const runTask = statementsOfRole(s, taskRole).find(
      (statement) => statement.Sid === 'RunRunnerTasks',
    );
    expect(runTask!.Resource).toEqual({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':ecs:eu-west-1:123456789012:task-definition/ci-runner-xl:*',
        ],
      ],
    });
    s.template.hasOutput('RunnerTaskDefinitionFamilies', { Value: 'ci-runner-xl' });
  });

  it('sends every alarm to the topic and keeps logs for the configured days', () => {
    const alarms = Object.values(s.template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(3);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([TOPIC_ARN]);
      expect(alarm.Properties.OKActions).toEqual([TOPIC_ARN]);
    }
    const groups = Object.values(s.template.findResources('AWS::Logs::LogGroup'));
    expect(groups).toHaveLength(2); // controller and runners; no VPC flow logs for a foreign VPC
    for (const group of groups) expect(group.Properties.RetentionInDays).toBe(90);
  });

  it('passes cdk-nag with no unacknowledged findings and no warnings', () => {
    expect(unacknowledgedNagFindings(s)).toEqual([]);
    expect(errorAndWarningAnnotations(s)).toEqual([]);
  });
});
