// The whole runnerctl installation in one stack: state table, event queue fed by EventBridge,
// ECS cluster, the controller service, one runner task definition per size, alarms.
//
// IAM model: the controller's task role may only touch this stack's table, queue, cluster and
// runner task definitions; the runner task role has no permissions at all, because a job runs
// arbitrary code in that task (and could otherwise read other runners' JIT configs through
// ecs:DescribeTasks). Secrets reach the controller through ECS `secrets`, read by the
// controller's execution role, so the running controller needs no Secrets Manager access.

import { CfnOutput, Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct, IConstruct } from 'constructs';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { CpuArchitecture, DeployConfig } from './config.ts';

/** Port of the controller's HTTP server (/healthz, /readyz, /metrics, /webhook). */
export const CONTROLLER_PORT = 8080;
/** Container name the RunnerPool's `ecs.containerName` defaults to. */
export const RUNNER_CONTAINER_NAME = 'runner';
export const TABLE_INDEX_NAME = 'gsi1';
/** The subnet group of the runners in a VPC the stack creates. */
export const RUNNER_SUBNET_GROUP = 'runners';
export const TABLE_TTL_ATTRIBUTE = 'expiresAt';
/** What the GitHub integration puts on the bus (controller/events/normalise.ts reads it). */
export const GITHUB_EVENT_SOURCE = 'github.com';
export const GITHUB_EVENT_DETAIL_TYPE = 'workflow_job';

// The controller image has no curl; Node's fetch does the probe. Exit 0 only on a 2xx.
const HEALTHCHECK_SCRIPT =
  `fetch('http://127.0.0.1:${CONTROLLER_PORT}/healthz')` +
  '.then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))';

export interface RunnerctlStackProps extends StackProps {
  config: DeployConfig;
}

/**
 * The family name of a runner size's task definition; an architecture other than the
 * configured `runner.cpuArchitecture` adds its suffix (`-arm64`, `-x86_64`).
 */
export function runnerFamily(
  config: DeployConfig,
  sizeName: string,
  architecture: CpuArchitecture = config.runner.cpuArchitecture,
): string {
  const suffix =
    architecture === config.runner.cpuArchitecture ? '' : `-${architecture.toLowerCase()}`;
  return `${config.namePrefix}-runner-${sizeName}${suffix}`;
}

/** The configured architecture first, then the extra ones. */
export function runnerArchitectures(config: DeployConfig): CpuArchitecture[] {
  return [config.runner.cpuArchitecture, ...config.runner.extraArchitectures];
}

/** The docker runner's task definition family (EC2 capacity, dind sidecar). */
export function dockerRunnerFamily(config: DeployConfig): string {
  return `${config.namePrefix}-runner-docker`;
}

/** The EC2 capacity provider's name (crds/examples/docker.yaml names it). */
export function dockerCapacityProviderName(config: DeployConfig): string {
  return `${config.namePrefix}-docker`;
}

const DOCKER_SOCKET_VOLUME = 'docker-socket';
/** The Docker daemon sidecar, from ECR Public (no Docker Hub pull limits). */
const DIND_IMAGE = 'public.ecr.aws/docker/library/docker:dind';

/** A secret from config: its name, or its complete ARN (config.ts refuses partial ARNs). */
function importSecret(scope: Construct, id: string, reference: string): secretsmanager.ISecret {
  return reference.startsWith('arn:')
    ? secretsmanager.Secret.fromSecretCompleteArn(scope, id, reference)
    : secretsmanager.Secret.fromSecretNameV2(scope, id, reference);
}

/**
 * Acknowledges one cdk-nag finding (`Rule` or `Rule[finding]`) with its reason, the way cdk-nag
 * v3 documents it (a bare rule id; CDK records it as `Annotation::<id>`).
 */
function acknowledge(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: rule, reason });
}

/** Acknowledges AwsSolutions-IAM5 for one wildcard resource, named the way cdk-nag names it. */
function acknowledgeWildcard(scope: IConstruct, resource: string, reason: string): void {
  const flat = flattenCfnReference(Stack.of(scope).resolve(resource));
  acknowledge(scope, `AwsSolutions-IAM5[Resource::${flat}]`, reason);
}

export class RunnerctlStack extends Stack {
  readonly table: dynamodb.Table;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  /** The dedicated bus of GitHub events; its policy admits only the integration. */
  readonly eventBus: events.EventBus;
  readonly rule: events.Rule;
  /** ECS Task State Change events of this cluster (default bus) into the same queue. */
  readonly taskEventRule: events.Rule;
  readonly cluster: ecs.Cluster;
  readonly controllerService: ecs.FargateService;
  readonly controllerTaskRole: iam.Role;
  readonly controllerExecutionRole: iam.Role;
  readonly runnerTaskRole: iam.Role;
  readonly runnerExecutionRole: iam.Role;
  readonly runnerTaskDefinitions: Map<string, ecs.FargateTaskDefinition>;

  constructor(scope: Construct, id: string, props: RunnerctlStackProps) {
    super(scope, id, props);
    const { config } = props;
    const retention = config.logRetentionDays as logs.RetentionDays;

    // ---------------------------------------------------------------- network
    const vpc = this.network(config);
    // The controller's subnets; in a created VPC the runners' group is private too, apart.
    const privateSubnets: ec2.SubnetSelection =
      config.network.mode === 'create'
        ? { subnetGroupName: 'private' }
        : { subnets: vpc.privateSubnets };
    const controllerSecurityGroup = new ec2.SecurityGroup(this, 'ControllerSecurityGroup', {
      vpc,
      description: 'runnerctl controller: no inbound; outbound to the GitHub and AWS APIs',
      allowAllOutbound: true,
    });
    const runnerSubnets = this.runnerSubnets(config, vpc);
    // Only what a runner needs (HTTPS to GitHub, registries and AWS APIs, and DNS) unless the
    // config says otherwise: a job cannot reach internal services or other ports.
    const runnerSecurityGroup = new ec2.SecurityGroup(this, 'RunnerSecurityGroup', {
      vpc,
      description: 'runnerctl runners: no inbound; outbound only as configured (HTTPS and DNS)',
      allowAllOutbound: false,
    });
    for (const rule of config.runner.egress) {
      runnerSecurityGroup.addEgressRule(
        ec2.Peer.ipv4(rule.cidr),
        rule.protocol === 'tcp' ? ec2.Port.tcp(rule.port) : ec2.Port.udp(rule.port),
        `runners: ${rule.protocol.toUpperCase()} ${rule.port}`,
      );
    }

    // ---------------------------------------------------------------- state
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE_TTL_ATTRIBUTE,
      deletionProtection: config.table.deletionProtection,
      removalPolicy: config.table.retainOnDelete ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE_INDEX_NAME,
      partitionKey: { name: 'gsi1pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'gsi1sk', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });

    // ---------------------------------------------------------------- events
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'EventQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(config.queue.visibilityTimeoutSeconds),
      retentionPeriod: Duration.days(config.queue.retentionDays),
      deadLetterQueue: {
        queue: this.deadLetterQueue,
        maxReceiveCount: config.queue.maxReceiveCount,
      },
    });
    this.eventBus = this.githubEventBus(config);
    this.rule = new events.Rule(this, 'WorkflowJobRule', {
      eventBus: this.eventBus,
      description: 'GitHub workflow_job events to the runnerctl controller queue',
      // Events put by this account only (a bus policy could admit others later).
      eventPattern: {
        account: [this.account],
        source: [GITHUB_EVENT_SOURCE],
        detailType: [GITHUB_EVENT_DETAIL_TYPE],
      },
    });
    // Adds a queue policy that lets EventBridge send on behalf of this rule only (aws:SourceArn).
    this.rule.addTarget(new eventsTargets.SqsQueue(this.queue));

    // ---------------------------------------------------------------- cluster
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
      enableFargateCapacityProviders: true,
    });
    const taskArnsInCluster = this.formatArn({
      service: 'ecs',
      resource: 'task',
      resourceName: `${this.cluster.clusterName}/*`,
    });
    const inThisCluster = { ArnEquals: { 'ecs:cluster': this.cluster.clusterArn } };
    // AWS services publish only to the default bus: the task events' rule lives there, whatever
    // bus the GitHub events use. The controller's cache reads them instead of polling ECS.
    this.taskEventRule = new events.Rule(this, 'EcsTaskEventRule', {
      description: "ECS Task State Change events of runnerctl's cluster to the controller queue",
      eventPattern: {
        source: ['aws.ecs'],
        detailType: ['ECS Task State Change'],
        detail: { clusterArn: [this.cluster.clusterArn] },
      },
    });
    this.taskEventRule.addTarget(new eventsTargets.SqsQueue(this.queue));

    // ---------------------------------------------------------------- runners
    const runnerLogs = new logs.LogGroup(this, 'RunnerLogs', {
      retention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.runnerTaskRole = new iam.Role(this, 'RunnerTaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description:
        'runnerctl runner tasks: deliberately no permissions (jobs run arbitrary code here)',
    });
    this.runnerExecutionRole = new iam.Role(this, 'RunnerExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'runnerctl runner tasks: pull the runner image and write its logs',
    });
    const runnerImage = ecs.ContainerImage.fromEcrRepository(
      ecr.Repository.fromRepositoryName(this, 'RunnerRepository', config.runner.image.repository),
      config.runner.image.tag,
    );
    this.runnerTaskDefinitions = new Map();
    // One family per size and architecture: the configured one keeps the plain name, each
    // extra architecture gets a suffix (`-arm64`).
    for (const architecture of runnerArchitectures(config)) {
      for (const size of config.runner.sizes) {
        const family = runnerFamily(config, size.name, architecture);
        const id = family.slice(config.namePrefix.length + '-runner-'.length);
        const taskDefinition = new ecs.FargateTaskDefinition(this, `RunnerTaskDefinition-${id}`, {
          family,
          cpu: size.cpu,
          memoryLimitMiB: size.memory,
          taskRole: this.runnerTaskRole,
          executionRole: this.runnerExecutionRole,
          runtimePlatform: {
            operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
            cpuArchitecture: ecs.CpuArchitecture.of(architecture),
          },
        });
        taskDefinition.addContainer(RUNNER_CONTAINER_NAME, {
          containerName: RUNNER_CONTAINER_NAME,
          image: runnerImage,
          essential: true,
          // Fargate's maximum: the runner gets this long between SIGTERM and SIGKILL.
          stopTimeout: Duration.seconds(120),
          // An init process reaps the zombies that job steps leave behind.
          linuxParameters: new ecs.LinuxParameters(taskDefinition, 'LinuxParameters', {
            initProcessEnabled: true,
          }),
          logging: ecs.LogDrivers.awsLogs({ logGroup: runnerLogs, streamPrefix: id }),
        });
        this.runnerTaskDefinitions.set(id, taskDefinition);
      }
    }

    // ---------------------------------------------------------------- EC2 capacity (Docker)
    const docker = config.ec2
      ? this.ec2Capacity(config, config.ec2, vpc, runnerSubnets, runnerLogs, runnerImage)
      : undefined;
    const runnableFamilies = [
      ...runnerArchitectures(config).flatMap((architecture) =>
        config.runner.sizes.map((size) => runnerFamily(config, size.name, architecture)),
      ),
      ...(docker ? [dockerRunnerFamily(config)] : []),
    ];

    // ---------------------------------------------------------------- controller
    const controllerLogs = new logs.LogGroup(this, 'ControllerLogs', {
      retention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.controllerTaskRole = new iam.Role(this, 'ControllerTaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'runnerctl controller: launch and stop runner tasks, its table, its queue',
    });
    this.controllerExecutionRole = new iam.Role(this, 'ControllerExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'runnerctl controller: pull its image, write its logs, inject its secrets',
    });
    const controllerPolicy = new iam.Policy(this, 'ControllerPolicy', {
      roles: [this.controllerTaskRole],
      statements: [
        new iam.PolicyStatement({
          sid: 'RunRunnerTasks',
          actions: ['ecs:RunTask'],
          // Any revision of the runner families, and only into this cluster.
          resources: runnableFamilies.map((family) => this.familyArnPattern(family)),
          conditions: inThisCluster,
        }),
        new iam.PolicyStatement({
          sid: 'TagRunnerTasksAtLaunch',
          // RunTask with tags also needs ecs:TagResource, limited here to tagging at launch.
          actions: ['ecs:TagResource'],
          resources: [taskArnsInCluster],
          conditions: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
        }),
        new iam.PolicyStatement({
          sid: 'ManageTasksInCluster',
          actions: ['ecs:StopTask', 'ecs:DescribeTasks'],
          resources: [taskArnsInCluster],
          conditions: inThisCluster,
        }),
        new iam.PolicyStatement({
          sid: 'ListTasksInCluster',
          // ListTasks has no task resource to scope: AWS requires "*", the condition pins the cluster.
          actions: ['ecs:ListTasks'],
          resources: ['*'],
          conditions: inThisCluster,
        }),
        new iam.PolicyStatement({
          sid: 'PassRunnerRoles',
          actions: ['iam:PassRole'],
          resources: [this.runnerTaskRole.roleArn, this.runnerExecutionRole.roleArn],
          conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
        }),
        new iam.PolicyStatement({
          sid: 'StateTable',
          // Exactly the calls controller/store makes: no Scan, batch reads or transactions.
          actions: [
            'dynamodb:DescribeTable',
            'dynamodb:GetItem',
            'dynamodb:Query',
            'dynamodb:PutItem',
            'dynamodb:UpdateItem',
            'dynamodb:DeleteItem',
          ],
          resources: [this.table.tableArn, `${this.table.tableArn}/index/${TABLE_INDEX_NAME}`],
        }),
        new iam.PolicyStatement({
          sid: 'ConsumeEventQueue',
          actions: [
            'sqs:ReceiveMessage',
            'sqs:DeleteMessage',
            'sqs:ChangeMessageVisibility',
            'sqs:GetQueueAttributes',
            'sqs:GetQueueUrl',
          ],
          resources: [this.queue.queueArn],
        }),
        new iam.PolicyStatement({
          sid: 'SendToDeadLetterQueue',
          actions: ['sqs:SendMessage'],
          resources: [this.deadLetterQueue.queueArn],
        }),
      ],
    });

    const controllerTaskDefinition = new ecs.FargateTaskDefinition(
      this,
      'ControllerTaskDefinition',
      {
        family: `${config.namePrefix}-controller`,
        cpu: config.controller.cpu,
        memoryLimitMiB: config.controller.memory,
        taskRole: this.controllerTaskRole,
        executionRole: this.controllerExecutionRole,
        runtimePlatform: {
          operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
          cpuArchitecture: ecs.CpuArchitecture.of(config.controller.cpuArchitecture),
        },
      },
    );
    const secrets: Record<string, ecs.Secret> = {
      GITHUB_APP_PRIVATE_KEY: ecs.Secret.fromSecretsManager(
        importSecret(this, 'GitHubAppPrivateKey', config.github.privateKeySecret),
      ),
    };
    if (config.github.webhookSecret) {
      secrets.GITHUB_WEBHOOK_SECRET = ecs.Secret.fromSecretsManager(
        importSecret(this, 'GitHubWebhookSecret', config.github.webhookSecret),
      );
    }
    const environment: Record<string, string> = {
      ...config.controller.environment,
      RUNNERCTL_TABLE: this.table.tableName,
      RUNNERCTL_QUEUE_URL: this.queue.queueUrl,
      // Where the SQS consumer moves poison messages at once (the redrive policy would only
      // move them after maxReceiveCount receives).
      RUNNERCTL_DEAD_LETTER_QUEUE_URL: this.deadLetterQueue.queueUrl,
      RUNNERCTL_PORT: String(CONTROLLER_PORT),
      AWS_REGION: this.region,
      GITHUB_APP_ID: String(config.github.appId),
      // The controller launches runners only into these (and apply refuses other ones).
      RUNNERCTL_RUNNER_SUBNETS: Fn.join(
        ',',
        runnerSubnets.map((subnet) => subnet.subnetId),
      ),
      RUNNERCTL_RUNNER_SECURITY_GROUPS: runnerSecurityGroup.securityGroupId,
      // Pools declaring another of these architectures launch its `-arm64`/`-x86_64` family.
      RUNNERCTL_RUNNER_ARCHITECTURES: runnerArchitectures(config).join(','),
    };
    if (config.github.installationId !== undefined) {
      environment.GITHUB_INSTALLATION_ID = String(config.github.installationId);
    }
    if (config.github.apiUrl) environment.GITHUB_API_URL = config.github.apiUrl;
    controllerTaskDefinition.addContainer('controller', {
      containerName: 'controller',
      image: ecs.ContainerImage.fromEcrRepository(
        ecr.Repository.fromRepositoryName(
          this,
          'ControllerRepository',
          config.controller.image.repository,
        ),
        config.controller.image.tag,
      ),
      essential: true,
      environment,
      secrets,
      portMappings: [{ containerPort: CONTROLLER_PORT }],
      healthCheck: {
        command: ['CMD', 'node', '-e', HEALTHCHECK_SCRIPT],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
      stopTimeout: Duration.seconds(30),
      // Node as PID 1 would ignore SIGTERM unless it installs a handler; an init process
      // forwards ECS's SIGTERM to it.
      linuxParameters: new ecs.LinuxParameters(controllerTaskDefinition, 'LinuxParameters', {
        initProcessEnabled: true,
      }),
      logging: ecs.LogDrivers.awsLogs({ logGroup: controllerLogs, streamPrefix: 'controller' }),
    });

    this.controllerService = new ecs.FargateService(this, 'ControllerService', {
      cluster: this.cluster,
      taskDefinition: controllerTaskDefinition,
      desiredCount: config.controller.desiredCount,
      // Both tasks stay up during a deployment; the lease hands leadership over.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { rollback: true },
      // The control plane stays on on-demand capacity; runners may use Spot.
      capacityProviderStrategies: [{ capacityProvider: 'FARGATE', weight: 1 }],
      vpcSubnets: privateSubnets,
      securityGroups: [controllerSecurityGroup],
      assignPublicIp: false,
    });
    this.controllerService.node.addDependency(controllerPolicy);

    // ---------------------------------------------------------------- alarms
    this.alarms(config);

    // ---------------------------------------------------------------- outputs
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'QueueUrl', { value: this.queue.queueUrl });
    new CfnOutput(this, 'GitHubEventBusArn', {
      description: 'Where the GitHub integration puts workflow_job events',
      value: this.eventBus.eventBusArn,
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'ClusterName', { value: this.cluster.clusterName });
    new CfnOutput(this, 'ControllerServiceName', { value: this.controllerService.serviceName });
    new CfnOutput(this, 'RunnerTaskDefinitionFamilies', {
      description: 'For RunnerPool spec.ecs.taskDefinition (one per size)',
      value: config.runner.sizes.map((size) => runnerFamily(config, size.name)).join(','),
    });
    for (const architecture of runnerArchitectures(config)) {
      new CfnOutput(this, `RunnerTaskDefinitionFamilies${architecture.replace('_', '')}`, {
        description: `For RunnerPool spec.ecs.taskDefinition of ${architecture} pools (one per size)`,
        value: config.runner.sizes
          .map((size) => runnerFamily(config, size.name, architecture))
          .join(','),
      });
    }
    new CfnOutput(this, 'RunnerSubnetIds', {
      description: 'For RunnerPool spec.ecs.subnets',
      value: Fn.join(
        ',',
        runnerSubnets.map((subnet) => subnet.subnetId),
      ),
    });
    new CfnOutput(this, 'RunnerSecurityGroupId', {
      description: 'For RunnerPool spec.ecs.securityGroups',
      value: runnerSecurityGroup.securityGroupId,
    });

    this.acknowledgeFindings(
      runnableFamilies,
      controllerTaskDefinition,
      controllerPolicy,
      taskArnsInCluster,
    );
  }

  /**
   * A bus of its own for GitHub events, so that PutEvents on the default bus (which many
   * principals have) cannot forge them. Its policy admits only `github.com` / `workflow_job`
   * events, put by the configured integration principals (all others are denied, whatever
   * their IAM policies say), or, without any configured, by principals of this account.
   */
  private githubEventBus(config: DeployConfig): events.EventBus {
    const bus = new events.EventBus(this, 'GitHubEventBus', {
      eventBusName: config.eventBus.name,
      description: 'runnerctl: GitHub workflow_job events from the GitHub integration only',
    });
    const publishers = config.eventBus.publisherArns;
    const onlyGitHubEvents = {
      StringEquals: {
        'events:source': GITHUB_EVENT_SOURCE,
        'events:detail-type': GITHUB_EVENT_DETAIL_TYPE,
      },
    };
    // CfnEventBusPolicy with a whole statement (the L2's addToResourcePolicy goes through the
    // deprecated `principal` property and warns at every synthesis).
    const statement = (sid: string, fields: Record<string, unknown>) =>
      new events.CfnEventBusPolicy(this, `GitHubEventBusPolicy${sid}`, {
        eventBusName: bus.eventBusName,
        statementId: sid,
        statement: {
          Sid: sid,
          Action: 'events:PutEvents',
          Resource: bus.eventBusArn,
          ...fields,
        },
      });
    statement('PutGitHubEvents', {
      Effect: 'Allow',
      Principal: {
        AWS:
          publishers.length > 0
            ? publishers
            : this.formatArn({
                service: 'iam',
                region: '',
                resource: 'root',
              }),
      },
      Condition: onlyGitHubEvents,
    });
    if (publishers.length > 0) {
      // An explicit deny: within the account, IAM policies alone would otherwise be enough.
      statement('OnlyTheIntegration', {
        Effect: 'Deny',
        Principal: '*',
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': publishers } },
      });
    }
    return bus;
  }

  /** The runners' own subnets: created with the VPC, or given for an existing one. */
  private runnerSubnets(config: DeployConfig, vpc: ec2.IVpc): ec2.ISubnet[] {
    const { network } = config;
    if (network.mode === 'existing') {
      if (!network.runnerSubnetIds) return vpc.privateSubnets;
      return network.runnerSubnetIds.map((id, i) => {
        const subnet = ec2.Subnet.fromSubnetAttributes(this, `RunnerSubnet${i}`, {
          subnetId: id,
          availabilityZone: network.availabilityZones[i],
        });
        Validations.of(subnet).acknowledge({
          id: '@aws-cdk/aws-ec2:noSubnetRouteTableId',
          reason:
            'Runner tasks are only placed in the existing subnet; the stack never reads or ' +
            'changes its route table, so its id is not needed.',
        });
        return subnet;
      });
    }
    return vpc.selectSubnets({ subnetGroupName: RUNNER_SUBNET_GROUP }).subnets;
  }

  private network(config: DeployConfig): ec2.IVpc {
    const { network } = config;
    if (network.mode === 'existing') {
      const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: network.vpcId,
        availabilityZones: network.availabilityZones,
        privateSubnetIds: network.privateSubnetIds,
      });
      Validations.of(vpc).acknowledge({
        id: '@aws-cdk/aws-ec2:noSubnetRouteTableId',
        reason:
          'The stack only places tasks in the existing subnets; it never reads or changes ' +
          'their route tables, so their ids are not needed.',
      });
      return vpc;
    }
    const flowLogs = new logs.LogGroup(this, 'VpcFlowLogs', {
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    return new ec2.Vpc(this, 'Vpc', {
      maxAzs: network.maxAzs,
      natGateways: network.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        {
          name: 'private',
          subnetType:
            network.natGateways > 0
              ? ec2.SubnetType.PRIVATE_WITH_EGRESS
              : ec2.SubnetType.PRIVATE_ISOLATED,
          cidrMask: 20,
        },
        // Runners apart from the controller, so that network ACLs, flow logs and endpoint
        // policies can treat job traffic on its own.
        {
          name: RUNNER_SUBNET_GROUP,
          subnetType:
            network.natGateways > 0
              ? ec2.SubnetType.PRIVATE_WITH_EGRESS
              : ec2.SubnetType.PRIVATE_ISOLATED,
          cidrMask: 20,
        },
      ],
      // Avoids a custom-resource Lambda; nothing here uses the default security group.
      restrictDefaultSecurityGroup: false,
      flowLogs: {
        rejected: {
          trafficType: ec2.FlowLogTrafficType.REJECT,
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
        },
      },
    });
  }

  private alarms(config: DeployConfig): void {
    const period = Duration.minutes(1);
    const alarms: cloudwatch.Alarm[] = [];

    alarms.push(
      new cloudwatch.Alarm(this, 'DeadLetterMessagesAlarm', {
        alarmDescription:
          'runnerctl: workflow_job events the controller failed to process reached the dead-letter queue',
        metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period,
          statistic: 'Maximum',
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    // Container Insights publishes the service's desired and running task counts.
    const serviceMetric = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: 'ECS/ContainerInsights',
        metricName,
        dimensionsMap: {
          ClusterName: this.cluster.clusterName,
          ServiceName: this.controllerService.serviceName,
        },
        statistic: 'Minimum',
        period,
      });
    alarms.push(
      new cloudwatch.Alarm(this, 'ControllerUnhealthyAlarm', {
        alarmDescription:
          'runnerctl: fewer controller tasks running than desired for 5 minutes (crash loop, failing health check or no capacity)',
        metric: new cloudwatch.MathExpression({
          expression: `FILL(desired, ${config.controller.desiredCount}) - FILL(running, 0)`,
          usingMetrics: {
            desired: serviceMetric('DesiredTaskCount'),
            running: serviceMetric('RunningTaskCount'),
          },
          label: 'Controller tasks missing',
          period,
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 5,
        datapointsToAlarm: 5,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    );

    alarms.push(
      new cloudwatch.Alarm(this, 'EventBacklogAlarm', {
        alarmDescription:
          'runnerctl: the oldest workflow_job event has waited more than 5 minutes (controller not consuming)',
        metric: this.queue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum' }),
        threshold: 300,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    if (config.alarmTopicArn) {
      const topic = sns.Topic.fromTopicArn(this, 'AlarmTopic', config.alarmTopicArn);
      for (const alarm of alarms) {
        alarm.addAlarmAction(new cloudwatchActions.SnsAction(topic));
        alarm.addOkAction(new cloudwatchActions.SnsAction(topic));
      }
    }
  }

  /** cdk-nag (AwsSolutions) findings that are intended, each acknowledged with its reason. */
  private acknowledgeFindings(
    runnableFamilies: string[],
    controllerTaskDefinition: ecs.FargateTaskDefinition,
    controllerPolicy: iam.Policy,
    taskArnsInCluster: string,
  ): void {
    acknowledge(
      controllerTaskDefinition,
      'AwsSolutions-ECS2',
      'Only non-secret settings (table name, queue URL, region, App ID, port) are plain ' +
        'environment variables; the App private key and webhook secret come from Secrets ' +
        'Manager through ECS secrets.',
    );
    acknowledgeWildcard(
      controllerPolicy,
      '*',
      'ecs:ListTasks cannot be scoped to a resource; the statement is limited to this ' +
        'cluster by the ecs:cluster condition.',
    );
    acknowledgeWildcard(
      controllerPolicy,
      taskArnsInCluster,
      'Runner task ARNs are only known at launch; the wildcard covers tasks of this ' +
        'cluster only (StopTask, DescribeTasks, and TagResource at RunTask).',
    );
    for (const family of runnableFamilies) {
      acknowledgeWildcard(
        controllerPolicy,
        this.familyArnPattern(family),
        'RunTask names the runner family without a revision; the wildcard covers the ' +
          'revisions of this one family, launched only into this cluster.',
      );
    }
    for (const role of [this.controllerExecutionRole, this.runnerExecutionRole]) {
      acknowledgeWildcard(
        role,
        '*',
        'ecr:GetAuthorizationToken does not support resource-level permissions; the image ' +
          'pull actions themselves are limited to the configured repository.',
      );
    }
  }

  private familyArnPattern(family: string): string {
    return this.formatArn({
      service: 'ecs',
      resource: 'task-definition',
      resourceName: `${family}:*`,
    });
  }

  /**
   * The optional ECS-on-EC2 capacity for Docker jobs: an Auto Scaling group of ECS-optimised
   * instances (AMI from SSM, IMDSv2 with hop limit 1, encrypted volumes, Spot/on-demand mix,
   * optional warm pool) behind a capacity provider with managed scaling, and the docker runner
   * task definition (runner + privileged dind sidecar sharing a socket volume; docs/deploy.md).
   */
  private ec2Capacity(
    config: DeployConfig,
    ec2Config: NonNullable<DeployConfig['ec2']>,
    vpc: ec2.IVpc,
    subnets: ec2.ISubnet[],
    logGroup: logs.ILogGroup,
    runnerImage: ecs.ContainerImage,
  ): ecs.Ec2TaskDefinition {
    const instanceSecurityGroup = new ec2.SecurityGroup(this, 'Ec2InstanceSecurityGroup', {
      vpc,
      description:
        'runnerctl EC2 instances: no inbound; outbound as the runners (ECS agent, pulls)',
      allowAllOutbound: false,
    });
    for (const rule of config.runner.egress) {
      instanceSecurityGroup.addEgressRule(
        ec2.Peer.ipv4(rule.cidr),
        rule.protocol === 'tcp' ? ec2.Port.tcp(rule.port) : ec2.Port.udp(rule.port),
        `instances: ${rule.protocol.toUpperCase()} ${rule.port}`,
      );
    }
    const instanceRole = new iam.Role(this, 'Ec2InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description:
        'runnerctl EC2 instances: the ECS agent only (tasks cannot reach it: IMDS hop 1)',
    });
    const launchTemplate = new ec2.LaunchTemplate(this, 'Ec2LaunchTemplate', {
      machineImage: ec2.MachineImage.fromSsmParameter(ec2Config.amiParameter, {
        os: ec2.OperatingSystemType.LINUX,
      }),
      // The capacity provider adds the ECS agent's cluster settings to it.
      userData: ec2.UserData.forLinux(),
      instanceType: new ec2.InstanceType(ec2Config.instanceTypes[0]!),
      role: instanceRole,
      securityGroup: instanceSecurityGroup,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(100, {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
          }),
        },
      ],
    });
    const group = new autoscaling.AutoScalingGroup(this, 'Ec2AutoScalingGroup', {
      vpc,
      vpcSubnets: { subnets },
      minCapacity: ec2Config.minCapacity,
      maxCapacity: ec2Config.maxCapacity,
      // Instances are replaced, not reused for long (docs/deploy.md, Docker jobs).
      maxInstanceLifetime: Duration.days(7),
      mixedInstancesPolicy: {
        launchTemplate,
        launchTemplateOverrides: ec2Config.instanceTypes.map((type) => ({
          instanceType: new ec2.InstanceType(type),
        })),
        instancesDistribution: {
          onDemandBaseCapacity: ec2Config.onDemandBaseCapacity,
          onDemandPercentageAboveBaseCapacity: ec2Config.onDemandPercentageAboveBase,
          spotAllocationStrategy: autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
        },
      },
    });
    if (ec2Config.warmPool) {
      group.addWarmPool({
        minSize: ec2Config.warmPool.minSize,
        ...(ec2Config.warmPool.maxPreparedCapacity !== undefined
          ? { maxGroupPreparedCapacity: ec2Config.warmPool.maxPreparedCapacity }
          : {}),
        poolState: autoscaling.PoolState.STOPPED,
      });
    }
    const capacityProvider = new ecs.AsgCapacityProvider(this, 'Ec2CapacityProvider', {
      capacityProviderName: dockerCapacityProviderName(config),
      autoScalingGroup: group,
      enableManagedScaling: true,
      targetCapacityPercent: 100,
      // Scale-in protection would need every task's instance protected; a drained instance's
      // runner is replaced like a Spot interruption.
      enableManagedTerminationProtection: false,
      // ECS drains an instance itself before the group terminates it; no Lambda hook needed.
      enableManagedDraining: true,
      machineImageType: ecs.MachineImageType.AMAZON_LINUX_2,
    });
    this.cluster.addAsgCapacityProvider(capacityProvider, {
      machineImageType: ecs.MachineImageType.AMAZON_LINUX_2,
    });
    // Warm-pool instances must not register with the cluster before they are needed.
    if (ec2Config.warmPool)
      group.addUserData('echo ECS_WARM_POOLS_CHECK=true >> /etc/ecs/ecs.config');

    const taskDefinition = new ecs.Ec2TaskDefinition(this, 'RunnerTaskDefinition-docker', {
      family: dockerRunnerFamily(config),
      networkMode: ecs.NetworkMode.BRIDGE,
      taskRole: this.runnerTaskRole,
      executionRole: this.runnerExecutionRole,
      volumes: [{ name: DOCKER_SOCKET_VOLUME }],
    });
    const socketMount = {
      sourceVolume: DOCKER_SOCKET_VOLUME,
      containerPath: '/var/run/docker',
      readOnly: false,
    };
    const dind = taskDefinition.addContainer('dind', {
      containerName: 'dind',
      image: ecs.ContainerImage.fromRegistry(DIND_IMAGE),
      essential: true,
      // The daemon needs it (docs/deploy.md: the trade-off); the runner itself is unprivileged.
      privileged: true,
      command: ['dockerd', '--host=unix:///var/run/docker/docker.sock'],
      memoryReservationMiB: 512,
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'docker-dind' }),
    });
    dind.addMountPoints(socketMount);
    const runner = taskDefinition.addContainer(RUNNER_CONTAINER_NAME, {
      containerName: RUNNER_CONTAINER_NAME,
      image: runnerImage,
      essential: true,
      cpu: ec2Config.docker.cpu,
      memoryLimitMiB: ec2Config.docker.memory,
      environment: { DOCKER_HOST: 'unix:///var/run/docker/docker.sock' },
      stopTimeout: Duration.seconds(120),
      linuxParameters: new ecs.LinuxParameters(taskDefinition, 'DockerLinuxParameters', {
        initProcessEnabled: true,
      }),
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'docker' }),
    });
    runner.addMountPoints(socketMount);
    runner.addContainerDependencies({
      container: dind,
      condition: ecs.ContainerDependencyCondition.START,
    });

    acknowledgeWildcard(
      instanceRole,
      '*',
      'The ECS agent policy ECS attaches to container instances (RegisterContainerInstance, ' +
        'Poll, Submit*, DiscoverPollEndpoint...) takes no resource-level permissions for ' +
        'most actions; the instances run only this cluster.',
    );
    acknowledge(
      instanceRole,
      'AwsSolutions-IAM5[Action::ecs:Submit*]',
      'ecs:Submit* are the ECS agent state-reporting actions (SubmitTaskStateChange, ' +
        'SubmitContainerStateChange, SubmitAttachmentStateChanges) as CDK grants them.',
    );
    acknowledge(
      taskDefinition,
      'AwsSolutions-ECS2',
      'The only plain variable is DOCKER_HOST, the dind socket path: not a secret.',
    );
    acknowledge(
      group,
      'AwsSolutions-AS3',
      'Scaling is managed by the ECS capacity provider and visible in ECS events and the ' +
        'group activity history; no SNS notification topic is configured for it.',
    );
    acknowledge(
      group,
      'AwsSolutions-EC26',
      'The launch template gives the root volume encrypted: true (gp3); the rule cannot ' +
        'read it through the launch template reference.',
    );

    new CfnOutput(this, 'DockerRunnerTaskDefinitionFamily', {
      description: 'For a docker RunnerPool spec.ecs.taskDefinition (ecs.launch: ec2)',
      value: dockerRunnerFamily(config),
    });
    new CfnOutput(this, 'Ec2CapacityProviderName', {
      description: 'For a docker RunnerPool spec.ecs.capacityProviderStrategy',
      value: capacityProvider.capacityProviderName,
    });
    return taskDefinition;
  }
}
