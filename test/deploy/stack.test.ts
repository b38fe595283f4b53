// Synthesises the stack from the minimal config (defaults everywhere) once, and checks the
// resources, the IAM model and cdk-nag's AwsSolutions pack.
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  MINIMAL_CONFIG,
  acknowledgments,
  allIdentityStatements,
  asArray,
  errorAndWarningAnnotations,
  logicalId,
  statementsOfRole,
  synthesize,
  unacknowledgedNagFindings,
} from './helpers.ts';
import type { Statement, Synthesized } from './helpers.ts';

let s: Synthesized;
const id: Record<string, string> = {};

const ecsArn = (...suffix: unknown[]) => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':ecs:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      ...suffix,
    ],
  ],
});
const getAtt = (logical: string, attribute = 'Arn') => ({ 'Fn::GetAtt': [logical, attribute] });

beforeAll(() => {
  s = synthesize(MINIMAL_CONFIG);
  const find = (type: string, prefix: string) => (id[prefix] = logicalId(s, type, prefix));
  find('AWS::DynamoDB::Table', 'Table');
  find('AWS::SQS::Queue', 'EventQueue');
  find('AWS::SQS::Queue', 'DeadLetterQueue');
  find('AWS::Events::Rule', 'WorkflowJobRule');
  find('AWS::Events::Rule', 'EcsTaskEventRule');
  find('AWS::ECS::Cluster', 'Cluster');
  find('AWS::ECS::Service', 'ControllerService');
  find('AWS::ECS::TaskDefinition', 'ControllerTaskDefinition');
  find('AWS::IAM::Role', 'ControllerTaskRole');
  find('AWS::IAM::Role', 'ControllerExecutionRole');
  find('AWS::IAM::Role', 'RunnerTaskRole');
  find('AWS::IAM::Role', 'RunnerExecutionRole');
  find('AWS::Logs::LogGroup', 'ControllerLogs');
  find('AWS::Logs::LogGroup', 'RunnerLogs');
});

describe('state table', () => {
  it('has pk/sk string keys, the gsi1 index, on-demand billing, PITR and the expiresAt TTL', () => {
    s.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'gsi1pk', AttributeType: 'S' },
          { AttributeName: 'gsi1sk', AttributeType: 'S' },
        ]),
        GlobalSecondaryIndexes: [
          {
            IndexName: 'gsi1',
            KeySchema: [
              { AttributeName: 'gsi1pk', KeyType: 'HASH' },
              { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        DeletionProtectionEnabled: true,
      },
    });
  });
});

describe('event queue', () => {
  it('redrives to the dead-letter queue after maxReceiveCount receives', () => {
    s.template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: getAtt(id.DeadLetterQueue!), maxReceiveCount: 5 },
      VisibilityTimeout: 60,
      SqsManagedSseEnabled: true,
    });
    expect(s.resources[id.DeadLetterQueue!]!.Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
  });

  it('denies every request without TLS on both queues', () => {
    for (const queue of [id.EventQueue!, id.DeadLetterQueue!]) {
      s.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queue }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it('lets only the workflow_job rule send to the queue', () => {
    const policies = Object.values(s.resources).filter(
      (resource) =>
        resource.Type === 'AWS::SQS::QueuePolicy' &&
        JSON.stringify(resource.Properties!.Queues) === JSON.stringify([{ Ref: id.EventQueue }]),
    );
    expect(policies).toHaveLength(1);
    const allows = (
      policies[0]!.Properties!.PolicyDocument as {
        Statement: (Statement & { Principal: unknown })[];
      }
    ).Statement.filter((statement) => statement.Effect === 'Allow');
    expect(allows).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
        Resource: getAtt(id.EventQueue!),
        Condition: { ArnEquals: { 'aws:SourceArn': getAtt(id.WorkflowJobRule!) } },
      },
      {
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
        Resource: getAtt(id.EventQueue!),
        Condition: { ArnEquals: { 'aws:SourceArn': getAtt(id.EcsTaskEventRule!) } },
      },
    ]);
  });
});

describe('EventBridge rule', () => {
  it('has a dedicated GitHub bus that admits only github.com workflow_job events', () => {
    const bus = logicalId(s, 'AWS::Events::EventBus', 'GitHubEventBus');
    expect(s.resources[bus]!.Properties).toMatchObject({ Name: 'runnerctl-github-events' });
    const policies = Object.values(s.resources).filter(
      (resource) => resource.Type === 'AWS::Events::EventBusPolicy',
    );
    // No publishers configured: principals of this account only, and only GitHub's events.
    expect(policies.map((policy) => policy.Properties)).toEqual([
      {
        EventBusName: { Ref: bus },
        StatementId: 'PutGitHubEvents',
        Statement: {
          Sid: 'PutGitHubEvents',
          Effect: 'Allow',
          Action: 'events:PutEvents',
          Resource: getAtt(bus),
          Principal: {
            AWS: {
              'Fn::Join': [
                '',
                ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root'],
              ],
            },
          },
          Condition: {
            StringEquals: { 'events:source': 'github.com', 'events:detail-type': 'workflow_job' },
          },
        },
      },
    ]);
    s.template.hasOutput('GitHubEventBusArn', { Value: getAtt(bus) });
  });

  it('matches github.com workflow_job events of this account on that bus and targets the queue', () => {
    const bus = logicalId(s, 'AWS::Events::EventBus', 'GitHubEventBus');
    expect(s.resources[id.WorkflowJobRule!]!.Properties).toMatchObject({
      EventBusName: { Ref: bus },
      State: 'ENABLED',
      EventPattern: {
        account: [{ Ref: 'AWS::AccountId' }],
        source: ['github.com'],
        'detail-type': ['workflow_job'],
      },
    });
    const targets = s.resources[id.WorkflowJobRule!]!.Properties!.Targets as { Arn: unknown }[];
    expect(targets.map((target) => target.Arn)).toEqual([getAtt(id.EventQueue!)]);
  });

  it("sends the cluster's ECS Task State Change events (default bus) to the same queue", () => {
    expect(s.resources[id.EcsTaskEventRule!]!.Properties).toMatchObject({
      State: 'ENABLED',
      EventPattern: {
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: { clusterArn: [getAtt(id.Cluster!)] },
      },
    });
    // No EventBusName: the default bus, the only one AWS services publish to.
    expect(s.resources[id.EcsTaskEventRule!]!.Properties!.EventBusName).toBeUndefined();
    const targets = s.resources[id.EcsTaskEventRule!]!.Properties!.Targets as { Arn: unknown }[];
    expect(targets.map((target) => target.Arn)).toEqual([getAtt(id.EventQueue!)]);
  });
});

describe('cluster and controller service', () => {
  it('has FARGATE and FARGATE_SPOT capacity providers and container insights', () => {
    s.template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
    s.template.hasResourceProperties('AWS::ECS::ClusterCapacityProviderAssociations', {
      Cluster: { Ref: id.Cluster },
      CapacityProviders: Match.arrayWith(['FARGATE', 'FARGATE_SPOT']),
    });
  });

  it('runs two controller tasks on on-demand Fargate in private subnets', () => {
    expect(s.resources[id.ControllerService!]!.Properties).toMatchObject({
      Cluster: { Ref: id.Cluster },
      DesiredCount: 2,
      CapacityProviderStrategy: [{ CapacityProvider: 'FARGATE', Weight: 1 }],
      DeploymentConfiguration: {
        MinimumHealthyPercent: 100,
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      },
      NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'DISABLED' } },
    });
  });

  it('checks /healthz, logs to its log group and is configured through env and secrets', () => {
    const taskDefinition = s.resources[id.ControllerTaskDefinition!]!.Properties!;
    expect(taskDefinition).toMatchObject({
      Family: 'runnerctl-controller',
      Cpu: '512',
      Memory: '1024',
      NetworkMode: 'awsvpc',
      RequiresCompatibilities: ['FARGATE'],
      TaskRoleArn: getAtt(id.ControllerTaskRole!),
      ExecutionRoleArn: getAtt(id.ControllerExecutionRole!),
    });
    const containers = taskDefinition.ContainerDefinitions as Record<string, unknown>[];
    expect(containers).toHaveLength(1);
    const container = containers[0]!;
    expect(container.Name).toBe('controller');
    expect(container.LinuxParameters).toMatchObject({ InitProcessEnabled: true });
    expect(container.PortMappings).toEqual([{ ContainerPort: 8080, Protocol: 'tcp' }]);
    expect(JSON.stringify(container.Image)).toContain('/runnerctl/controller:0.1.0');
    // The image's ENTRYPOINT (with its Node memory flags, docs/operations.md) is not overridden.
    expect(container.EntryPoint).toBeUndefined();
    expect(container.Command).toBeUndefined();
    const healthCheck = container.HealthCheck as { Command: string[] };
    expect(healthCheck.Command.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
    expect(healthCheck.Command[3]).toContain('http://127.0.0.1:8080/healthz');
    expect(container.LogConfiguration).toMatchObject({
      LogDriver: 'awslogs',
      Options: { 'awslogs-group': { Ref: id.ControllerLogs } },
    });

    const environment = Object.fromEntries(
      (container.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]),
    );
    expect(environment).toMatchObject({
      RUNNERCTL_TABLE: { Ref: id.Table },
      RUNNERCTL_QUEUE_URL: { Ref: id.EventQueue },
      RUNNERCTL_DEAD_LETTER_QUEUE_URL: { Ref: id.DeadLetterQueue },
      RUNNERCTL_PORT: '8080',
      AWS_REGION: { Ref: 'AWS::Region' },
      GITHUB_APP_ID: '123456',
      RUNNERCTL_RUNNER_SUBNETS: expect.anything(),
      RUNNERCTL_RUNNER_SECURITY_GROUPS: getAtt(
        logicalId(s, 'AWS::EC2::SecurityGroup', 'RunnerSecurityGroup'),
        'GroupId',
      ),
      RUNNERCTL_RUNNER_ARCHITECTURES: 'X86_64',
    });
    expect(Object.keys(environment)).toHaveLength(9);
    const secrets = container.Secrets as { Name: string; ValueFrom: unknown }[];
    expect(secrets.map((secret) => secret.Name).sort()).toEqual([
      'GITHUB_APP_PRIVATE_KEY',
      'GITHUB_WEBHOOK_SECRET',
    ]);
    expect(JSON.stringify(secrets)).toContain(':secret:runnerctl/github-app-private-key');
    expect(JSON.stringify(secrets)).toContain(':secret:runnerctl/github-webhook-secret');
  });
});

describe('runner network', () => {
  const subnetsOf = (group: string) =>
    Object.entries(s.resources)
      .filter(([, r]) => r.Type === 'AWS::EC2::Subnet')
      .filter(([, r]) =>
        (r.Properties!.Tags as { Key: string; Value: string }[]).some(
          (t) => t.Key === 'aws-cdk:subnet-name' && t.Value === group,
        ),
      )
      .map(([logical]) => logical);

  it('gives the runners subnets of their own, apart from the controller', () => {
    const runners = subnetsOf('runners');
    const controller = subnetsOf('private');
    expect(runners).toHaveLength(2);
    expect(controller).toHaveLength(2);
    const service = s.resources[id.ControllerService!]!.Properties!;
    const serviceSubnets = JSON.stringify(service.NetworkConfiguration);
    for (const subnet of controller) expect(serviceSubnets).toContain(subnet);
    for (const subnet of runners) expect(serviceSubnets).not.toContain(subnet);
    s.template.hasOutput('RunnerSubnetIds', {
      Value: { 'Fn::Join': [',', runners.map((subnet) => ({ Ref: subnet }))] },
    });
  });

  it('lets runners out only on TCP 443 and TCP/UDP 53, and never in', () => {
    const group = s.resources[logicalId(s, 'AWS::EC2::SecurityGroup', 'RunnerSecurityGroup')]!;
    const egress = (group.Properties!.SecurityGroupEgress as Record<string, unknown>[]).map(
      (rule) => [rule.IpProtocol, rule.FromPort, rule.ToPort, rule.CidrIp],
    );
    expect(egress.sort()).toEqual(
      [
        ['tcp', 443, 443, '0.0.0.0/0'],
        ['tcp', 53, 53, '0.0.0.0/0'],
        ['udp', 53, 53, '0.0.0.0/0'],
      ].sort(),
    );
    expect(group.Properties!.SecurityGroupIngress).toBeUndefined();
  });
});

describe('runner task definitions', () => {
  const sizes = [
    ['small', '1024', '2048'],
    ['medium', '2048', '4096'],
    ['large', '4096', '8192'],
  ] as const;

  it.each(sizes)('%s: a runner container, the no-permission task role', (size, cpu, memory) => {
    const [definition] = Object.values(s.resources).filter(
      (resource) =>
        resource.Type === 'AWS::ECS::TaskDefinition' &&
        resource.Properties!.Family === `runnerctl-runner-${size}`,
    );
    expect(definition).toBeDefined();
    expect(definition!.Properties).toMatchObject({
      Cpu: cpu,
      Memory: memory,
      RequiresCompatibilities: ['FARGATE'],
      TaskRoleArn: getAtt(id.RunnerTaskRole!),
      ExecutionRoleArn: getAtt(id.RunnerExecutionRole!),
    });
    const containers = definition!.Properties!.ContainerDefinitions as Record<string, unknown>[];
    expect(containers).toHaveLength(1);
    expect(containers[0]).toMatchObject({
      Name: 'runner',
      Essential: true,
      StopTimeout: 120,
      LinuxParameters: { InitProcessEnabled: true },
      LogConfiguration: {
        LogDriver: 'awslogs',
        Options: { 'awslogs-group': { Ref: id.RunnerLogs }, 'awslogs-stream-prefix': size },
      },
    });
    expect(JSON.stringify(containers[0]!.Image)).toContain('/runnerctl/runner:2.337.0');
    // The JIT config arrives as a RunTask override, never in the task definition.
    expect(containers[0]!.Environment).toBeUndefined();
    expect(containers[0]!.Secrets).toBeUndefined();
  });

  it('has no other task definitions than the three runners and the controller', () => {
    expect(s.template.findResources('AWS::ECS::TaskDefinition')).toSatisfy(
      (found: object) => Object.keys(found).length === 4,
    );
  });
});

describe('IAM', () => {
  const clusterArn = () => getAtt(id.Cluster!);
  const tasksInCluster = () => ecsArn(':task/', { Ref: id.Cluster }, '/*');

  it('gives the runner task role no permissions at all', () => {
    const role = s.resources[id.RunnerTaskRole!]!.Properties!;
    expect(role.Policies).toBeUndefined();
    expect(role.ManagedPolicyArns).toBeUndefined();
    expect(statementsOfRole(s, id.RunnerTaskRole!)).toEqual([]);
    expect(role.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'ecs-tasks.amazonaws.com' },
        },
      ],
    });
  });

  it('lets the runner execution role only pull the runner image and write runner logs', () => {
    const statements = statementsOfRole(s, id.RunnerExecutionRole!);
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: [
          'ecr:BatchCheckLayerAvailability',
          'ecr:GetDownloadUrlForLayer',
          'ecr:BatchGetImage',
        ],
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':ecr:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':repository/runnerctl/runner',
            ],
          ],
        },
      },
      { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: getAtt(id.RunnerLogs!),
      },
    ]);
  });

  it('lets the controller execution role read exactly its two secrets, besides pull and logs', () => {
    const statements = statementsOfRole(s, id.ControllerExecutionRole!);
    const actions = new Set(statements.flatMap((statement) => asArray(statement.Action)));
    expect([...actions].sort()).toEqual([
      'ecr:BatchCheckLayerAvailability',
      'ecr:BatchGetImage',
      'ecr:GetAuthorizationToken',
      'ecr:GetDownloadUrlForLayer',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ]);
    const secretResources = statements
      .filter((statement) => asArray(statement.Action).some((a) => a.startsWith('secretsmanager:')))
      .map((statement) => JSON.stringify(statement.Resource));
    expect(secretResources).toHaveLength(2);
    expect(secretResources[0]).toContain(':secret:runnerctl/github-app-private-key-??????');
    expect(secretResources[1]).toContain(':secret:runnerctl/github-webhook-secret-??????');
  });

  describe('controller task role', () => {
    let bySid: Map<string, Statement>;
    beforeAll(() => {
      const statements = statementsOfRole(s, id.ControllerTaskRole!);
      bySid = new Map(statements.map((statement) => [statement.Sid ?? '(no sid)', statement]));
      // Nothing else is granted to the running controller (e.g. no Secrets Manager access).
      expect([...bySid.keys()].sort()).toEqual([
        'ConsumeEventQueue',
        'ListTasksInCluster',
        'ManageTasksInCluster',
        'PassRunnerRoles',
        'RunRunnerTasks',
        'SendToDeadLetterQueue',
        'StateTable',
        'TagRunnerTasksAtLaunch',
      ]);
      expect(statements).toHaveLength(8);
    });

    it('may RunTask only the runner task definitions, only in its cluster', () => {
      expect(bySid.get('RunRunnerTasks')).toEqual({
        Sid: 'RunRunnerTasks',
        Effect: 'Allow',
        Action: 'ecs:RunTask',
        Resource: ['small', 'medium', 'large'].map((size) =>
          ecsArn(`:task-definition/runnerctl-runner-${size}:*`),
        ),
        Condition: { ArnEquals: { 'ecs:cluster': clusterArn() } },
      });
    });

    it('may tag tasks of its cluster only while launching them', () => {
      expect(bySid.get('TagRunnerTasksAtLaunch')).toEqual({
        Sid: 'TagRunnerTasksAtLaunch',
        Effect: 'Allow',
        Action: 'ecs:TagResource',
        Resource: tasksInCluster(),
        Condition: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
      });
    });

    it('may StopTask / DescribeTasks only tasks of its cluster, and ListTasks only in it', () => {
      expect(bySid.get('ManageTasksInCluster')).toEqual({
        Sid: 'ManageTasksInCluster',
        Effect: 'Allow',
        Action: ['ecs:StopTask', 'ecs:DescribeTasks'],
        Resource: tasksInCluster(),
        Condition: { ArnEquals: { 'ecs:cluster': clusterArn() } },
      });
      expect(bySid.get('ListTasksInCluster')).toEqual({
        Sid: 'ListTasksInCluster',
        Effect: 'Allow',
        Action: 'ecs:ListTasks',
        Resource: '*',
        Condition: { ArnEquals: { 'ecs:cluster': clusterArn() } },
      });
    });

    it('may pass only the runner task and execution roles, only to ECS tasks', () => {
      expect(bySid.get('PassRunnerRoles')).toEqual({
        Sid: 'PassRunnerRoles',
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: [getAtt(id.RunnerTaskRole!), getAtt(id.RunnerExecutionRole!)],
        Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      });
    });

    it('may use only its table and its index', () => {
      const statement = bySid.get('StateTable')!;
      expect(statement.Resource).toEqual([
        getAtt(id.Table!),
        { 'Fn::Join': ['', [getAtt(id.Table!), '/index/gsi1']] },
      ]);
      expect(asArray(statement.Action).every((action) => action.startsWith('dynamodb:'))).toBe(
        true,
      );
      expect(asArray(statement.Action)).not.toContain('dynamodb:DeleteTable');
      // Only what controller/store sends (no Scan, no batch reads, no transactions).
      expect([...asArray(statement.Action)].sort()).toEqual([
        'dynamodb:DeleteItem',
        'dynamodb:DescribeTable',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ]);
      expect(statement.Condition).toBeUndefined();
    });

    it('may receive, delete and change visibility only on its queue, and send only to its DLQ', () => {
      expect(bySid.get('ConsumeEventQueue')).toEqual({
        Sid: 'ConsumeEventQueue',
        Effect: 'Allow',
        Action: [
          'sqs:ReceiveMessage',
          'sqs:DeleteMessage',
          'sqs:ChangeMessageVisibility',
          'sqs:GetQueueAttributes',
          'sqs:GetQueueUrl',
        ],
        Resource: getAtt(id.EventQueue!),
      });
      expect(bySid.get('SendToDeadLetterQueue')).toEqual({
        Sid: 'SendToDeadLetterQueue',
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Resource: getAtt(id.DeadLetterQueue!),
      });
    });
  });

  it('uses Resource "*" only where AWS requires it: ecs:ListTasks and ecr:GetAuthorizationToken', () => {
    const statements = allIdentityStatements(s);
    expect(statements.length).toBeGreaterThan(10);
    const starActions = statements
      .filter((statement) => asArray(statement.Resource as unknown).includes('*'))
      .flatMap((statement) => asArray(statement.Action));
    expect(new Set(starActions)).toEqual(new Set(['ecs:ListTasks', 'ecr:GetAuthorizationToken']));
    // And no wildcard actions anywhere.
    for (const statement of statements) {
      for (const action of asArray(statement.Action)) expect(action).not.toContain('*');
    }
  });
});

describe('logs and alarms', () => {
  it('gives every log group a retention', () => {
    const groups = Object.values(s.template.findResources('AWS::Logs::LogGroup'));
    expect(groups.length).toBe(3); // controller, runners, VPC flow logs
    for (const group of groups) expect(group.Properties.RetentionInDays).toBe(30);
  });

  it('alarms on any message in the dead-letter queue', () => {
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(id.DeadLetterQueue!, 'QueueName') }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('alarms when fewer controller tasks run than desired', () => {
    const serviceDimensions = [
      { Name: 'ClusterName', Value: { Ref: id.Cluster } },
      { Name: 'ServiceName', Value: getAtt(id.ControllerService!, 'Name') },
    ];
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 5,
      TreatMissingData: 'breaching',
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'FILL(desired, 2) - FILL(running, 0)' }),
        Match.objectLike({
          Id: 'running',
          MetricStat: Match.objectLike({
            Metric: {
              Namespace: 'ECS/ContainerInsights',
              MetricName: 'RunningTaskCount',
              Dimensions: serviceDimensions,
            },
          }),
        }),
      ]),
    });
  });
});

describe('outputs', () => {
  it('exports what RunnerPools and operators need', () => {
    s.template.hasOutput('TableName', { Value: { Ref: id.Table } });
    s.template.hasOutput('QueueUrl', { Value: { Ref: id.EventQueue } });
    s.template.hasOutput('ClusterName', { Value: { Ref: id.Cluster } });
    s.template.hasOutput('RunnerTaskDefinitionFamilies', {
      Value: 'runnerctl-runner-small,runnerctl-runner-medium,runnerctl-runner-large',
    });
    s.template.hasOutput('RunnerSecurityGroupId', { Value: Match.anyValue() });
    s.template.hasOutput('RunnerSubnetIds', { Value: Match.anyValue() });
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('has no unacknowledged findings', () => {
    expect(unacknowledgedNagFindings(s)).toEqual([]);
  });

  it('has no error or warning annotations', () => {
    expect(errorAndWarningAnnotations(s)).toEqual([]);
  });

  it('acknowledges only the expected findings, each with a real reason', () => {
    const found = acknowledgments(s);
    for (const { id: rule, reason } of found) {
      expect(reason.trim().length, rule).toBeGreaterThan(20);
    }
    // Ours: AwsSolutions rules. (aws-cdk-lib acknowledges a few of its own CloudFormation
    // validator rules on the constructs it generates; those carry its own reasons.)
    const ours = found.filter(({ id: rule }) => rule.startsWith('AwsSolutions-'));
    for (const { id: rule, reason } of ours) {
      expect(reason.length, rule).toBeGreaterThan(60);
      expect(reason, rule).not.toMatch(/todo|fixme|tbd|n\/a/i);
    }
    const rules = ours.map(({ path, id: rule }) => `${path.replace(/^runnerctl\//, '')} ${rule}`);
    const iam5 = (resource: string) => `AwsSolutions-IAM5[Resource::${resource}]`;
    const arnPrefix = 'arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>';
    expect(rules.sort()).toEqual(
      [
        'ControllerTaskDefinition AwsSolutions-ECS2',
        `ControllerPolicy ${iam5('*')}`,
        `ControllerPolicy ${iam5(`${arnPrefix}:task/<${id.Cluster}>/*`)}`,
        ...['small', 'medium', 'large'].map(
          (size) =>
            `ControllerPolicy ${iam5(`${arnPrefix}:task-definition/runnerctl-runner-${size}:*`)}`,
        ),
        `ControllerExecutionRole ${iam5('*')}`,
        `RunnerExecutionRole ${iam5('*')}`,
      ].sort(),
    );
    expect(found.filter(({ id: rule }) => !rule.startsWith('AwsSolutions-'))).toSatisfy(
      (others: { id: string }[]) =>
        others.every(({ id: rule }) => rule.startsWith('CloudFormation-Validate::')),
    );
  });
});
