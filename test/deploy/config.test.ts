// The deployment config: defaults, the example file, and clear errors for bad input.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_RUNNER_SIZES,
  isValidFargateSize,
  loadDeployConfig,
  parseDeployConfig,
} from '../../deploy/config.ts';
import { DeployConfigError, DeployConfigErrors, DeployError } from '../../deploy/errors.ts';
import { MINIMAL_CONFIG } from './helpers.ts';

const EXAMPLE = resolve(import.meta.dirname, '../../deploy/runnerctl.config.example.json');
const scratch = mkdtempSync(join(tmpdir(), 'runnerctl-deploy-config-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** MINIMAL_CONFIG with one path replaced (undefined deletes it). */
function withField(path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(MINIMAL_CONFIG) as Record<string, unknown>;
  const keys = path.split('.');
  let node = copy;
  for (const key of keys.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  const last = keys.at(-1)!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

describe('parseDeployConfig', () => {
  it('fills in the defaults around the required fields', () => {
    const config = parseDeployConfig(MINIMAL_CONFIG, 'minimal');
    expect(config).toEqual({
      stackName: 'runnerctl',
      account: undefined,
      region: undefined,
      namePrefix: 'runnerctl',
      network: { mode: 'create', maxAzs: 2, natGateways: 1 },
      github: {
        appId: 123456,
        installationId: undefined,
        apiUrl: undefined,
        privateKeySecret: 'runnerctl/github-app-private-key',
        webhookSecret: 'runnerctl/github-webhook-secret',
      },
      eventBus: { name: 'runnerctl-github-events', publisherArns: [] },
      queue: { maxReceiveCount: 5, visibilityTimeoutSeconds: 60, retentionDays: 4 },
      table: { deletionProtection: true, retainOnDelete: true },
      controller: {
        image: { repository: 'runnerctl/controller', tag: '0.1.0' },
        cpu: 512,
        memory: 1024,
        desiredCount: 2,
        environment: {},
        cpuArchitecture: 'X86_64',
      },
      runner: {
        image: { repository: 'runnerctl/runner', tag: '2.337.0' },
        sizes: DEFAULT_RUNNER_SIZES,
        cpuArchitecture: 'X86_64',
        egress: [
          { protocol: 'tcp', port: 443, cidr: '0.0.0.0/0' },
          { protocol: 'udp', port: 53, cidr: '0.0.0.0/0' },
          { protocol: 'tcp', port: 53, cidr: '0.0.0.0/0' },
        ],
        extraArchitectures: [],
      },
      logRetentionDays: 30,
      alarmTopicArn: undefined,
    });
  });

  it('fills the EC2 capacity defaults, the AMI parameter by architecture', () => {
    const config = parseDeployConfig(
      { ...MINIMAL_CONFIG, ec2: { instanceTypes: ['m7g.large'], cpuArchitecture: 'ARM64' } },
      'ec2',
    );
    expect(config.ec2).toEqual({
      instanceTypes: ['m7g.large'],
      cpuArchitecture: 'ARM64',
      minCapacity: 0,
      maxCapacity: 10,
      onDemandBaseCapacity: 0,
      onDemandPercentageAboveBase: 0,
      amiParameter: '/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id',
      docker: { cpu: 2048, memory: 4096 },
    });
    expect(parseDeployConfig(MINIMAL_CONFIG, 'minimal').ec2).toBeUndefined();
  });

  it('accepts the documented example file', () => {
    const config = loadDeployConfig(EXAMPLE);
    expect(config.github.appId).toBe(123456);
    expect(config.runner.sizes.map((size) => size.name)).toEqual(['small', 'medium', 'large']);
    expect(config.controller.environment).toEqual({ RUNNERCTL_RESYNC_SECONDS: '60' });
  });

  it('reads an existing VPC, a named bus with its publishers and ARN secrets', () => {
    const config = parseDeployConfig(
      {
        ...MINIMAL_CONFIG,
        network: {
          vpcId: 'vpc-0abc',
          availabilityZones: ['eu-west-1a', 'eu-west-1b'],
          privateSubnetIds: ['subnet-0a', 'subnet-0b'],
        },
        eventBus: {
          name: 'ci-github',
          publisherArns: ['arn:aws:iam::123456789012:role/github-webhook-relay'],
        },
        github: {
          appId: 1,
          privateKeySecret: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:key-AbCdEf',
        },
      },
      'variant',
    );
    expect(config.network).toEqual({
      mode: 'existing',
      vpcId: 'vpc-0abc',
      availabilityZones: ['eu-west-1a', 'eu-west-1b'],
      privateSubnetIds: ['subnet-0a', 'subnet-0b'],
    });
    expect(config.eventBus).toEqual({
      name: 'ci-github',
      publisherArns: ['arn:aws:iam::123456789012:role/github-webhook-relay'],
    });
    expect(config.github.webhookSecret).toBeUndefined();
  });

  it.each([
    ['github.appId', undefined, 'github.appId', 'is required'],
    ['github.appId', '123', 'github.appId', 'must be an integer'],
    ['github.privateKeySecret', 'arn:aws:s3:::bucket', 'github.privateKeySecret', 'does not match'],
    [
      'github.webhookSecret',
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ci/key',
      'github.webhookSecret',
      'does not match',
    ],
    ['controller.image.tag', undefined, 'controller.image.tag', 'is required'],
    ['stackname', 'x', 'stackname', 'unknown field'],
    ['runner.sizes', [], 'runner.sizes', 'at least one size'],
    [
      'runner.sizes',
      [{ name: 'tiny', cpu: 1024, memory: 1024 }],
      'runner.sizes[0]',
      'cpu 1024 with memory 1024 MiB is not a valid Fargate task size',
    ],
    [
      'runner.sizes',
      [
        { name: 'a', cpu: 256, memory: 512 },
        { name: 'a', cpu: 512, memory: 1024 },
      ],
      'runner.sizes[1].name',
      'duplicate size name',
    ],
    [
      'runner.sizes',
      [{ name: 'Big One', cpu: 256, memory: 512 }],
      'runner.sizes[0].name',
      'does not match',
    ],
    ['controller.memory', 8192, 'controller.memory', 'not a valid Fargate task size'],
    [
      'controller.environment',
      { RUNNERCTL_TABLE: 't' },
      'controller.environment.RUNNERCTL_TABLE',
      'set by the stack',
    ],
    [
      'controller.environment',
      { GITHUB_APP_PRIVATE_KEY: 'pem' },
      'controller.environment.GITHUB_APP_PRIVATE_KEY',
      'looks like a secret',
    ],
    [
      'controller.environment',
      { RUNNERCTL_LEASE_SECONDS: 15 },
      'controller.environment.RUNNERCTL_LEASE_SECONDS',
      'must be a string',
    ],
    ['network.vpcId', 'vpc-0abc', 'network.availabilityZones', 'is required'],
    ['logRetentionDays', 45, 'logRetentionDays', 'must be one of'],
    ['eventBus.name', 'default', 'eventBus.name', 'does not match'],
    ['eventBus.name', 'aws.partner/github.com/1/ci', 'eventBus.name', 'does not match'],
    [
      'eventBus.publisherArns',
      ['arn:aws:iam::123456789012:root'],
      'eventBus.publisherArns[0]',
      'is not an IAM role or user ARN',
    ],
    ['eventBusName', 'default', 'eventBusName', 'unknown field'],
    ['ec2', { instanceTypes: [] }, 'ec2.instanceTypes', 'at least one instance type'],
    ['runner.extraArchitectures', ['X86_64'], 'runner.extraArchitectures[0]', 'must be ARM64'],
    ['ec2', { instanceTypes: ['large'] }, 'ec2.instanceTypes[0]', 'is not an instance type'],
    [
      'ec2',
      { instanceTypes: ['m7i.large'], minCapacity: 5, maxCapacity: 2 },
      'ec2.maxCapacity',
      'at least minCapacity',
    ],
    [
      'ec2',
      { instanceTypes: ['m7i.large'], onDemandPercentageAboveBase: 101 },
      'ec2.onDemandPercentageAboveBase',
      'from 0 to 100',
    ],
    ['runner.egress', [{ protocol: 'icmp', port: 0 }], 'runner.egress[0].protocol', 'must be'],
    ['runner.egress', [{ protocol: 'tcp', port: 0 }], 'runner.egress[0].port', 'from 1 to 65535'],
    [
      'runner.egress',
      [{ protocol: 'tcp', port: 443, cidr: 'anywhere' }],
      'runner.egress[0].cidr',
      'does not match',
    ],
    [
      'controller.environment',
      { RUNNERCTL_RUNNER_SUBNETS: 'subnet-0a' },
      'controller.environment.RUNNERCTL_RUNNER_SUBNETS',
      'set by the stack',
    ],
    ['queue.maxReceiveCount', 0, 'queue.maxReceiveCount', 'from 1 to 1000'],
    ['runner.cpuArchitecture', 'arm', 'runner.cpuArchitecture', 'must be one of X86_64, ARM64'],
  ])('rejects %s = %j naming the field', (path, value, field, message) => {
    let error: unknown;
    try {
      parseDeployConfig(withField(path, value), 'my.config.json');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DeployConfigError);
    expect(error).toBeInstanceOf(DeployError);
    // (vpcId alone is two errors: both of its lists are missing.)
    const configError =
      error instanceof DeployConfigErrors ? error.issues[0]! : (error as DeployConfigError);
    expect(configError.name).toBe('DeployConfigError');
    expect(configError.source).toBe('my.config.json');
    expect(configError.field).toBe(field);
    expect(configError.message).toContain(`my.config.json (${field}): `);
    expect(configError.message).toContain(message);
  });

  it('never echoes a value that looks like a secret', () => {
    expect(() =>
      parseDeployConfig(
        withField('controller.environment', { GITHUB_WEBHOOK_SECRET: 'hunter2-very-secret' }),
        'c.json',
      ),
    ).toThrow(/^(?!.*hunter2).*looks like a secret/);
  });
});

describe('every config error at once', () => {
  it('reports all invalid fields, one per line, not just the first', () => {
    const raw = withField('queue.maxReceiveCount', 0) as Record<string, unknown>;
    raw.runner = {
      ...(raw.runner as object),
      cpuArchitecture: 'arm',
      sizes: [{ name: 'x', cpu: 3, memory: 1 }],
    };
    raw.typo = true;
    let error: unknown;
    try {
      parseDeployConfig(raw, 'my.config.json');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DeployConfigErrors);
    const all = error as DeployConfigErrors;
    expect(all.issues.map((e) => e.field).sort()).toEqual(
      ['queue.maxReceiveCount', 'runner.cpuArchitecture', 'runner.sizes[0]', 'typo'].sort(),
    );
    const lines = all.message.split('\n');
    expect(lines[0]).toBe('my.config.json: 4 errors:');
    expect(lines).toContain(
      '  my.config.json (runner.sizes[0]): cpu 3 with memory 1 MiB is not a valid Fargate task size',
    );
    expect(all.message).toContain('my.config.json (typo): unknown field');
  });
});

describe('loadDeployConfig', () => {
  it('names a missing file', () => {
    const path = join(scratch, 'absent.json');
    expect(() => loadDeployConfig(path)).toThrow(`${path}: file not found`);
  });

  it('names a file that is not JSON', () => {
    const path = join(scratch, 'broken.json');
    writeFileSync(path, '{ "github": ');
    expect(() => loadDeployConfig(path)).toThrow(`${path}: not valid JSON`);
  });
});

describe('isValidFargateSize', () => {
  it.each([
    [256, 512],
    [256, 2048],
    [512, 1024],
    [512, 4096],
    [1024, 8192],
    [2048, 16384],
    [4096, 30720],
    [8192, 16384],
    [8192, 61440],
    [16384, 32768],
    [16384, 122880],
  ])('accepts %i CPU with %i MiB', (cpu, memory) => {
    expect(isValidFargateSize(cpu, memory)).toBe(true);
  });

  it.each([
    [256, 4096],
    [256, 1536],
    [512, 512],
    [1024, 1024],
    [1024, 2560],
    [2048, 3072],
    [4096, 31744],
    [8192, 18432],
    [16384, 36864],
    [300, 1024],
  ])('rejects %i CPU with %i MiB', (cpu, memory) => {
    expect(isValidFargateSize(cpu, memory)).toBe(false);
  });
});
