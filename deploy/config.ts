// The deployment's settings: a small typed config with defaults, read from a JSON file
// (deploy/runnerctl.config.example.json documents every field). Pure: no CDK imports, so the
// validation is testable on its own.

import { existsSync, readFileSync } from 'node:fs';
import { DeployConfigError, DeployConfigErrors } from './errors.ts';

/** One runner task definition family: a valid Fargate cpu/memory pair. */
export interface RunnerSizeConfig {
  /** Becomes the family suffix: `<namePrefix>-runner-<name>`. */
  name: string;
  /** Fargate CPU units. */
  cpu: number;
  /** MiB. */
  memory: number;
}

export interface ImageConfig {
  /** Name of an existing ECR repository in the stack's account and region. */
  repository: string;
  /** Image tag. Pin a version; a moving tag makes deployments unrepeatable. */
  tag: string;
}

/** Create a VPC (default), or use an existing one by id (no lookups at synthesis). */
export type NetworkConfig =
  | { mode: 'create'; maxAzs: number; natGateways: number }
  | {
      mode: 'existing';
      vpcId: string;
      availabilityZones: string[];
      privateSubnetIds: string[];
      /** Subnets for the runners only (one per zone). Absent: the private subnets. */
      runnerSubnetIds?: string[];
    };

/** One egress rule of the runners' security group. */
export interface EgressRule {
  protocol: 'tcp' | 'udp';
  port: number;
  /** IPv4 CIDR. Default 0.0.0.0/0. */
  cidr: string;
}

/** HTTPS (GitHub, registries, AWS APIs) and DNS: what a runner needs to take and run a job. */
export const DEFAULT_RUNNER_EGRESS: readonly EgressRule[] = [
  { protocol: 'tcp', port: 443, cidr: '0.0.0.0/0' },
  { protocol: 'udp', port: 53, cidr: '0.0.0.0/0' },
  { protocol: 'tcp', port: 53, cidr: '0.0.0.0/0' },
];

export type CpuArchitecture = 'X86_64' | 'ARM64';

export interface Ec2CapacityConfig {
  /** Instance types the group may launch (one architecture), first preferred. */
  instanceTypes: string[];
  cpuArchitecture: CpuArchitecture;
  minCapacity: number;
  maxCapacity: number;
  /** Instances always on on-demand capacity. Default 0. */
  onDemandBaseCapacity: number;
  /** Share of on-demand instances above the base, 0-100. Default 0 (all Spot). */
  onDemandPercentageAboveBase: number;
  /** Stopped, pre-initialised instances kept ready. Absent: no warm pool. */
  warmPool?: { minSize: number; maxPreparedCapacity?: number };
  /** SSM parameter holding the ECS-optimised AMI id. Default: Amazon Linux 2023 for the architecture. */
  amiParameter: string;
  /** Size of the docker runner task (runner + dind sidecar), cpu units and MiB. */
  docker: { cpu: number; memory: number };
}

/** The ECS-optimised Amazon Linux 2023 AMI, as ECS publishes it in SSM (per architecture). */
export function ecsOptimizedAmiParameter(architecture: CpuArchitecture): string {
  return architecture === 'ARM64'
    ? '/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id'
    : '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id';
}

export interface DeployConfig {
  /** CloudFormation stack name. Default `runnerctl`. */
  stackName: string;
  /** Account and region of the stack. Absent: taken from the CDK CLI's environment. */
  account?: string;
  region?: string;
  /** Prefix of the names the stack chooses (task definition families, cluster). Default `runnerctl`. */
  namePrefix: string;
  network: NetworkConfig;
  github: {
    appId: number;
    /** Absent: the controller discovers installations per owner. */
    installationId?: number;
    /** GitHub Enterprise Server API URL. Absent: https://api.github.com */
    apiUrl?: string;
    /** Existing Secrets Manager secret holding the App's PEM private key: name or complete ARN. */
    privateKeySecret: string;
    /** Existing Secrets Manager secret holding the webhook secret: name or complete ARN. Optional. */
    webhookSecret?: string;
  };
  /**
   * The dedicated EventBridge bus the stack creates for GitHub events. Its resource policy
   * admits PutEvents of `github.com` / `workflow_job` events only.
   */
  eventBus: {
    /** Default `<namePrefix>-github-events`. */
    name: string;
    /**
     * IAM principals (role or user ARNs) of the GitHub integration: the only ones that may put
     * events on the bus; every other principal is denied. Empty (default): the account's
     * principals that IAM allows events:PutEvents on the bus.
     */
    publisherArns: string[];
  };
  queue: {
    /** Receives before a message moves to the dead-letter queue. Default 5. */
    maxReceiveCount: number;
    /** Default 60. */
    visibilityTimeoutSeconds: number;
    /** Default 4. */
    retentionDays: number;
  };
  table: {
    /** Default true. */
    deletionProtection: boolean;
    /** Keep the table when the stack is deleted. Default true. */
    retainOnDelete: boolean;
  };
  controller: {
    image: ImageConfig;
    /** Default 512 / 1024. */
    cpu: number;
    memory: number;
    /** Default 2: the tasks elect a leader through a DynamoDB lease. */
    desiredCount: number;
    /** Extra non-secret settings of controller/config/types.ts (e.g. RUNNERCTL_RESYNC_SECONDS). */
    environment: Record<string, string>;
    cpuArchitecture: CpuArchitecture;
  };
  runner: {
    image: ImageConfig;
    /** One task definition per size. */
    sizes: RunnerSizeConfig[];
    cpuArchitecture: CpuArchitecture;
    /** The runners' security group allows only this outbound traffic. Default HTTPS and DNS. */
    egress: EgressRule[];
    /** More architectures to create every size for (families suffixed `-arm64`). Default none. */
    extraArchitectures: CpuArchitecture[];
  };
  /**
   * An optional ECS-on-EC2 capacity provider for Docker jobs: an Auto Scaling group (managed
   * scaling) and the docker runner task definition (privileged dind sidecar). Absent: none.
   */
  ec2?: Ec2CapacityConfig;
  /** Retention of every log group the stack creates. Default 30. */
  logRetentionDays: number;
  /** SNS topic that receives the alarms. Optional. */
  alarmTopicArn?: string;
}

export const DEFAULT_RUNNER_SIZES: readonly RunnerSizeConfig[] = [
  { name: 'small', cpu: 1024, memory: 2048 },
  { name: 'medium', cpu: 2048, memory: 4096 },
  { name: 'large', cpu: 4096, memory: 8192 },
];

/** Values CloudWatch Logs accepts for retention (days). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
] as const;

/** Settings the stack sets itself; `controller.environment` may not override them. */
const MANAGED_ENVIRONMENT = new Set([
  'RUNNERCTL_TABLE',
  'RUNNERCTL_QUEUE_URL',
  'RUNNERCTL_DEAD_LETTER_QUEUE_URL',
  'RUNNERCTL_PORT',
  'AWS_REGION',
  'GITHUB_APP_ID',
  'GITHUB_INSTALLATION_ID',
  'GITHUB_API_URL',
  'RUNNERCTL_RUNNER_SUBNETS',
  'RUNNERCTL_RUNNER_SECURITY_GROUPS',
]);

/** Valid Fargate task sizes (ECS developer guide, task size). */
export function isValidFargateSize(cpu: number, memory: number): boolean {
  const gib = memory / 1024;
  switch (cpu) {
    case 256:
      return [512, 1024, 2048].includes(memory);
    case 512:
      return Number.isInteger(gib) && gib >= 1 && gib <= 4;
    case 1024:
      return Number.isInteger(gib) && gib >= 2 && gib <= 8;
    case 2048:
      return Number.isInteger(gib) && gib >= 4 && gib <= 16;
    case 4096:
      return Number.isInteger(gib) && gib >= 8 && gib <= 30;
    case 8192:
      return Number.isInteger(gib) && gib >= 16 && gib <= 60 && gib % 4 === 0;
    case 16384:
      return Number.isInteger(gib) && gib >= 32 && gib <= 120 && gib % 8 === 0;
    default:
      return false;
  }
}

type Json = Record<string, unknown>;

/**
 * Reads typed fields of one JSON object. A bad field is recorded in `issues` (with the file and
 * field path) and a harmless stand-in value is returned, so that every error of the config is
 * reported at once; parseDeployConfig throws them together at the end.
 */
class FieldReader {
  constructor(
    private readonly source: string,
    private readonly object: Json,
    private readonly path: string,
    allowed: readonly string[],
    readonly issues: DeployConfigError[],
  ) {
    for (const key of Object.keys(object)) {
      if (!allowed.includes(key)) {
        this.report(this.at(key), `unknown field; allowed: ${allowed.join(', ')}`);
      }
    }
  }

  at(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  /** Records an error and goes on. */
  report(field: string, message: string): void {
    this.issues.push(new DeployConfigError(message, { source: this.source, field }));
  }

  private fail(field: string, message: string): never {
    throw new DeployConfigError(message, { source: this.source, field });
  }

  /** Runs one read; its error is recorded and `fallback` stands in for the value. */
  private guard<T>(read: () => T, fallback: T): T {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof DeployConfigError)) throw err;
      this.issues.push(err);
      return fallback;
    }
  }

  has(key: string): boolean {
    return this.object[key] !== undefined;
  }

  string(key: string, fallback?: string, pattern?: RegExp): string {
    return this.guard(() => {
      const value = this.object[key] ?? fallback;
      if (value === undefined) this.fail(this.at(key), 'is required');
      if (typeof value !== 'string' || value.length === 0) {
        this.fail(this.at(key), `must be a non-empty string, got ${JSON.stringify(value)}`);
      }
      if (pattern && !pattern.test(value)) {
        this.fail(this.at(key), `${JSON.stringify(value)} does not match ${pattern}`);
      }
      return value;
    }, fallback ?? '');
  }

  optionalString(key: string, pattern?: RegExp): string | undefined {
    return this.has(key) ? this.string(key, undefined, pattern) : undefined;
  }

  integer(key: string, fallback?: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    return this.guard(() => {
      const value = this.object[key] ?? fallback;
      if (value === undefined) this.fail(this.at(key), 'is required');
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        this.fail(
          this.at(key),
          `must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
        );
      }
      return value;
    }, fallback ?? min);
  }

  boolean(key: string, fallback: boolean): boolean {
    return this.guard(() => {
      const value = this.object[key] ?? fallback;
      if (typeof value !== 'boolean') {
        this.fail(this.at(key), `must be true or false, got ${JSON.stringify(value)}`);
      }
      return value;
    }, fallback);
  }

  object_(key: string, allowed: readonly string[]): FieldReader {
    const value = this.record(key);
    return new FieldReader(this.source, value, this.at(key), allowed, this.issues);
  }

  /** A free-form object (its keys are checked by the caller). */
  record(key: string): Json {
    return this.guard(() => {
      const value = this.object[key] ?? {};
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        this.fail(this.at(key), `must be an object, got ${JSON.stringify(value)}`);
      }
      return value as Json;
    }, {});
  }

  array(key: string): unknown[] | undefined {
    return this.guard(() => {
      const value = this.object[key];
      if (value === undefined) return undefined;
      if (!Array.isArray(value))
        this.fail(this.at(key), `must be an array, got ${JSON.stringify(value)}`);
      return value;
    }, undefined);
  }
}

const NAME = /^[a-z][a-z0-9-]{0,30}$/;
const ARCHITECTURES: readonly CpuArchitecture[] = ['X86_64', 'ARM64'];

function readImage(parent: FieldReader, key: string, defaultRepository: string): ImageConfig {
  const image: FieldReader = parent.object_(key, ['repository', 'tag']);
  return {
    repository: image.string('repository', defaultRepository, /^[a-z0-9][a-z0-9._/-]{1,255}$/),
    tag: image.string('tag', undefined, /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/),
  };
}

function readArchitecture(reader: FieldReader): CpuArchitecture {
  const value = reader.string('cpuArchitecture', 'X86_64');
  if (!ARCHITECTURES.includes(value as CpuArchitecture)) {
    reader.report(
      reader.at('cpuArchitecture'),
      `must be one of ${ARCHITECTURES.join(', ')}, got ${JSON.stringify(value)}`,
    );
    return 'X86_64';
  }
  return value as CpuArchitecture;
}

function readSize(
  source: string,
  raw: unknown,
  field: string,
  issues: DeployConfigError[],
): RunnerSizeConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    issues.push(
      new DeployConfigError(`must be an object, got ${JSON.stringify(raw)}`, { source, field }),
    );
    return { name: '', cpu: 0, memory: 0 };
  }
  const before = issues.length;
  const size: FieldReader = new FieldReader(
    source,
    raw as Json,
    field,
    ['name', 'cpu', 'memory'],
    issues,
  );
  const result = {
    name: size.string('name', undefined, NAME),
    cpu: size.integer('cpu'),
    memory: size.integer('memory'),
  };
  // Only sizes whose fields are valid are checked as a whole.
  if (issues.length === before && !isValidFargateSize(result.cpu, result.memory)) {
    size.report(
      field,
      `cpu ${result.cpu} with memory ${result.memory} MiB is not a valid Fargate task size`,
    );
  }
  return result;
}

function readEgress(
  source: string,
  raw: unknown,
  field: string,
  issues: DeployConfigError[],
): EgressRule {
  const fallback: EgressRule = { protocol: 'tcp', port: 443, cidr: '0.0.0.0/0' };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    issues.push(
      new DeployConfigError(`must be an object, got ${JSON.stringify(raw)}`, { source, field }),
    );
    return fallback;
  }
  const rule: FieldReader = new FieldReader(
    source,
    raw as Json,
    field,
    ['protocol', 'port', 'cidr'],
    issues,
  );
  const protocol = rule.string('protocol');
  if (protocol !== 'tcp' && protocol !== 'udp') {
    rule.report(rule.at('protocol'), `must be "tcp" or "udp", got ${JSON.stringify(protocol)}`);
  }
  return {
    protocol: protocol === 'udp' ? 'udp' : 'tcp',
    port: rule.integer('port', undefined, 1, 65535),
    cidr: rule.string('cidr', '0.0.0.0/0', /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/),
  };
}

function readEc2(root: FieldReader): Ec2CapacityConfig {
  const e: FieldReader = root.object_('ec2', [
    'instanceTypes',
    'cpuArchitecture',
    'minCapacity',
    'maxCapacity',
    'onDemandBaseCapacity',
    'onDemandPercentageAboveBase',
    'warmPool',
    'amiParameter',
    'docker',
  ]);
  const types = e.array('instanceTypes') ?? [];
  if (types.length === 0) e.report(e.at('instanceTypes'), 'needs at least one instance type');
  const instanceTypes = types.map((type, i) => {
    if (typeof type !== 'string' || !/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(type)) {
      e.report(
        `${e.at('instanceTypes')}[${i}]`,
        `${JSON.stringify(type)} is not an instance type such as m7i.large`,
      );
    }
    return String(type);
  });
  const cpuArchitecture = readArchitecture(e);
  const minCapacity = e.integer('minCapacity', 0, 0, 1000);
  const maxCapacity = e.integer('maxCapacity', 10, 1, 1000);
  if (maxCapacity < minCapacity) {
    e.report(
      e.at('maxCapacity'),
      `must be at least minCapacity (${minCapacity}), got ${maxCapacity}`,
    );
  }
  let warmPool: Ec2CapacityConfig['warmPool'];
  if (e.has('warmPool')) {
    const w: FieldReader = e.object_('warmPool', ['minSize', 'maxPreparedCapacity']);
    warmPool = { minSize: w.integer('minSize', 0, 0, 1000) };
    if (w.has('maxPreparedCapacity')) {
      warmPool.maxPreparedCapacity = w.integer('maxPreparedCapacity', undefined, 0, 1000);
    }
  }
  const d: FieldReader = e.object_('docker', ['cpu', 'memory']);
  return {
    instanceTypes,
    cpuArchitecture,
    minCapacity,
    maxCapacity,
    onDemandBaseCapacity: e.integer('onDemandBaseCapacity', 0, 0, 1000),
    onDemandPercentageAboveBase: e.integer('onDemandPercentageAboveBase', 0, 0, 100),
    ...(warmPool ? { warmPool } : {}),
    amiParameter: e.string(
      'amiParameter',
      ecsOptimizedAmiParameter(cpuArchitecture),
      /^\/[A-Za-z0-9_./-]{1,2047}$/,
    ),
    docker: {
      cpu: d.integer('cpu', 2048, 128, 16384),
      memory: d.integer('memory', 4096, 512, 120 * 1024),
    },
  };
}

/** Validates a parsed config object and fills in the defaults. `source` names it in errors. */
export function parseDeployConfig(raw: unknown, source: string): DeployConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new DeployConfigError('the config must be a JSON object', { source });
  }
  const issues: DeployConfigError[] = [];
  const config = readDeployConfig(raw as Json, source, issues);
  if (issues.length === 1) throw issues[0]!;
  if (issues.length > 1) throw new DeployConfigErrors(source, issues);
  return config;
}

function readDeployConfig(raw: Json, source: string, issues: DeployConfigError[]): DeployConfig {
  const root: FieldReader = new FieldReader(
    source,
    raw,
    '',
    [
      '$comment',
      'stackName',
      'account',
      'region',
      'namePrefix',
      'network',
      'github',
      'eventBus',
      'queue',
      'table',
      'controller',
      'runner',
      'logRetentionDays',
      'alarmTopicArn',
      'ec2',
    ],
    issues,
  );

  const net: FieldReader = root.object_('network', [
    'vpcId',
    'availabilityZones',
    'privateSubnetIds',
    'runnerSubnetIds',
    'maxAzs',
    'natGateways',
  ]);
  let network: NetworkConfig;
  if (net.has('vpcId')) {
    const strings = (key: string, pattern: RegExp): string[] => {
      const list = net.array(key);
      if (!list || list.length === 0) {
        net.report(net.at(key), 'is required (non-empty) with vpcId');
        return [];
      }
      return list.map((item, i) => {
        if (typeof item !== 'string' || !pattern.test(item)) {
          net.report(`${net.at(key)}[${i}]`, `${JSON.stringify(item)} does not match ${pattern}`);
        }
        return String(item);
      });
    };
    const availabilityZones = strings('availabilityZones', /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/);
    const privateSubnetIds = strings('privateSubnetIds', /^subnet-[0-9a-f]+$/);
    if (availabilityZones.length !== privateSubnetIds.length) {
      net.report(
        net.at('privateSubnetIds'),
        'needs exactly one subnet per entry of availabilityZones',
      );
    }
    network = {
      mode: 'existing',
      vpcId: net.string('vpcId', undefined, /^vpc-[0-9a-f]+$/),
      availabilityZones,
      privateSubnetIds,
    };
    if (net.has('runnerSubnetIds')) {
      const runnerSubnetIds = strings('runnerSubnetIds', /^subnet-[0-9a-f]+$/);
      if (runnerSubnetIds.length !== availabilityZones.length) {
        net.report(
          net.at('runnerSubnetIds'),
          'needs exactly one subnet per entry of availabilityZones',
        );
      }
      network.runnerSubnetIds = runnerSubnetIds;
    }
  } else {
    network = {
      mode: 'create',
      maxAzs: net.integer('maxAzs', 2, 1, 6),
      natGateways: net.integer('natGateways', 1, 0, 6),
    };
  }

  const gh: FieldReader = root.object_('github', [
    'appId',
    'installationId',
    'apiUrl',
    'privateKeySecret',
    'webhookSecret',
  ]);
  // A secret name, or its complete ARN (with the 6-character suffix Secrets Manager appends).
  // Partial ARNs are refused: they cannot be told apart from complete ones reliably.
  const secretRef =
    /^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}|[A-Za-z0-9/_+=.@-]{1,512})$/;
  const github: DeployConfig['github'] = {
    appId: gh.integer('appId', undefined, 1),
    installationId: gh.has('installationId')
      ? gh.integer('installationId', undefined, 1)
      : undefined,
    apiUrl: gh.optionalString('apiUrl', /^https:\/\/\S+$/),
    privateKeySecret: gh.string('privateKeySecret', undefined, secretRef),
    webhookSecret: gh.optionalString('webhookSecret', secretRef),
  };

  const bus: FieldReader = root.object_('eventBus', ['name', 'publisherArns']);
  const publisherArns = (bus.array('publisherArns') ?? []).map((arn, i) => {
    // A role, assumed-role session or user: the aws:PrincipalArn forms PutEvents callers have.
    const principal = /^arn:aws[a-z-]*:(iam::\d{12}:(role|user)|sts::\d{12}:assumed-role)\/\S+$/;
    if (typeof arn !== 'string' || !principal.test(arn)) {
      bus.report(
        `${bus.at('publisherArns')}[${i}]`,
        `${JSON.stringify(arn)} is not an IAM role or user ARN (arn:aws:iam::<account>:role/<name>)`,
      );
    }
    return String(arn);
  });

  const q: FieldReader = root.object_('queue', [
    'maxReceiveCount',
    'visibilityTimeoutSeconds',
    'retentionDays',
  ]);
  const t: FieldReader = root.object_('table', ['deletionProtection', 'retainOnDelete']);

  const c: FieldReader = root.object_('controller', [
    'image',
    'cpu',
    'memory',
    'desiredCount',
    'environment',
    'cpuArchitecture',
  ]);
  const controllerCpu = c.integer('cpu', 512);
  const controllerMemory = c.integer('memory', 1024);
  if (!isValidFargateSize(controllerCpu, controllerMemory)) {
    c.report(
      c.at('memory'),
      `cpu ${controllerCpu} with memory ${controllerMemory} MiB is not a valid Fargate task size`,
    );
  }
  const rawEnv = c.record('environment');
  const environment: Record<string, string> = {};
  for (const [name, value] of Object.entries(rawEnv)) {
    const field = `controller.environment.${name}`;
    const problem = !/^[A-Z][A-Z0-9_]*$/.test(name)
      ? 'variable names are upper case letters, digits and _'
      : MANAGED_ENVIRONMENT.has(name)
        ? 'is set by the stack itself; use the matching config field'
        : /(SECRET|PRIVATE_KEY|TOKEN|PASSWORD)/.test(name)
          ? 'looks like a secret; plain environment variables are visible in the task definition, use Secrets Manager'
          : typeof value !== 'string'
            ? `must be a string, got ${JSON.stringify(value)}`
            : undefined;
    if (problem) {
      c.report(field, problem);
      continue;
    }
    environment[name] = value as string;
  }

  const r: FieldReader = root.object_('runner', [
    'image',
    'sizes',
    'cpuArchitecture',
    'egress',
    'extraArchitectures',
  ]);
  const runnerArchitecture = readArchitecture(r);
  const extraArchitectures = (r.array('extraArchitectures') ?? []).map((value, i) => {
    const field = `${r.at('extraArchitectures')}[${i}]`;
    if (!ARCHITECTURES.includes(value as CpuArchitecture) || value === runnerArchitecture) {
      r.report(
        field,
        `must be ${ARCHITECTURES.filter((a) => a !== runnerArchitecture).join(' or ')} ` +
          `(not runner.cpuArchitecture), got ${JSON.stringify(value)}`,
      );
    }
    return value as CpuArchitecture;
  });
  const rawEgress = r.array('egress');
  const egress = rawEgress
    ? rawEgress.map((rule, i) => readEgress(source, rule, `runner.egress[${i}]`, issues))
    : DEFAULT_RUNNER_EGRESS.map((rule) => ({ ...rule }));
  const rawSizes = r.array('sizes');
  const sizes = rawSizes
    ? rawSizes.map((size, i) => readSize(source, size, `runner.sizes[${i}]`, issues))
    : DEFAULT_RUNNER_SIZES.map((size) => ({ ...size }));
  if (sizes.length === 0) r.report(r.at('sizes'), 'needs at least one size');
  const seen = new Set<string>();
  sizes.forEach((size, i) => {
    if (seen.has(size.name))
      r.report(`runner.sizes[${i}].name`, `duplicate size name ${JSON.stringify(size.name)}`);
    seen.add(size.name);
  });

  const namePrefix = root.string('namePrefix', 'runnerctl', NAME);
  const logRetentionDays = root.integer('logRetentionDays', 30, 1);
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(logRetentionDays)) {
    root.report(
      'logRetentionDays',
      `must be one of ${LOG_RETENTION_DAYS.join(', ')}, got ${logRetentionDays}`,
    );
  }

  const ec2 = root.has('ec2') ? readEc2(root) : undefined;

  return {
    ...(ec2 ? { ec2 } : {}),
    stackName: root.string('stackName', 'runnerctl', /^[A-Za-z][A-Za-z0-9-]{0,127}$/),
    account: root.optionalString('account', /^\d{12}$/),
    region: root.optionalString('region', /^[a-z]{2}(-[a-z]+)+-\d$/),
    namePrefix,
    network,
    github,
    eventBus: {
      // A custom bus: not `default`, not a partner bus (`aws.` names are AWS's).
      name: bus.string(
        'name',
        `${namePrefix}-github-events`,
        /^(?!default$)(?!aws\.)[A-Za-z0-9._-]{1,256}$/,
      ),
      publisherArns,
    },
    queue: {
      maxReceiveCount: q.integer('maxReceiveCount', 5, 1, 1000),
      visibilityTimeoutSeconds: q.integer('visibilityTimeoutSeconds', 60, 0, 43_200),
      retentionDays: q.integer('retentionDays', 4, 1, 14),
    },
    table: {
      deletionProtection: t.boolean('deletionProtection', true),
      retainOnDelete: t.boolean('retainOnDelete', true),
    },
    controller: {
      image: readImage(c, 'image', 'runnerctl/controller'),
      cpu: controllerCpu,
      memory: controllerMemory,
      desiredCount: c.integer('desiredCount', 2, 1, 10),
      environment,
      cpuArchitecture: readArchitecture(c),
    },
    runner: {
      image: readImage(r, 'image', 'runnerctl/runner'),
      sizes,
      cpuArchitecture: runnerArchitecture,
      egress,
      extraArchitectures: [...new Set(extraArchitectures)],
    },
    logRetentionDays,
    alarmTopicArn: root.optionalString(
      'alarmTopicArn',
      /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/,
    ),
  };
}

/** Reads and validates a JSON config file. */
export function loadDeployConfig(path: string): DeployConfig {
  if (!existsSync(path)) {
    throw new DeployConfigError('file not found', { source: path });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new DeployConfigError(
      `not valid JSON: ${(error as Error).message}`,
      { source: path },
      { cause: error },
    );
  }
  return parseDeployConfig(raw, path);
}
