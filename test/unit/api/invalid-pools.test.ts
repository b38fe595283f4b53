// Validation of RunnerPool documents against crds/runnerpool.yaml: a table of invalid documents,
// each with the exact messages it must produce (file:line:column, field path, expected vs got).

import { describe, expect, it } from 'vitest';
import { formatIssue, ValidationError } from '../../../controller/api/errors.ts';
import { validatePoolYaml } from '../../../controller/api/validate.ts';

/** A valid pool; every case below edits one thing in it. Line numbers refer to this text. */
const BASE = `apiVersion: runnerctl.dev/v1alpha1
kind: RunnerPool
metadata:
  name: test-pool
spec:
  github:
    scope: org
    organization: foo-organisation
  labels: [self-hosted, linux]
  maxRunners: 5
  sizes:
    - label: small
      cpu: 256
      memory: 512
    - label: large
      cpu: 1024
      memory: 4096
  defaultSize: small
  ecs:
    cluster: runnerctl
    taskDefinition: runnerctl-runner
    subnets: [subnet-0123456789abcdef0]
  timeouts:
    idle: 10m
`;

const SUBNETS = '    subnets: [subnet-0123456789abcdef0]\n';

interface Case {
  name: string;
  edit: (text: string) => string;
  expected: string[];
}

function issuesOf(text: string): string[] {
  try {
    validatePoolYaml(text, 'pool.yaml');
  } catch (err) {
    if (err instanceof ValidationError) return err.issues.map(formatIssue);
    throw err;
  }
  return [];
}

const INVALID: Case[] = [
  {
    name: 'unknown top-level field',
    edit: (t) => t.replace('kind: RunnerPool\n', 'kind: RunnerPool\nstatuss: {}\n'),
    expected: [
      'pool.yaml:3:1: statuss: unknown field "statuss": expected one of apiVersion, kind, metadata, spec, status (did you mean "status"?)',
    ],
  },
  {
    name: 'unknown spec field with hint',
    edit: (t) => t.replace('  maxRunners: 5\n', '  maxRunners: 5\n  maxRunner: 5\n'),
    expected: [
      'pool.yaml:11:3: spec.maxRunner: unknown field "maxRunner": expected one of github, labels, maxRunners, minIdle, repositories, allowPublicRepositories, maxRunnersPerRepository, priority, sizes, docker, defaultSize, ecs, timeouts (did you mean "maxRunners"?)',
    ],
  },
  {
    name: 'unknown nested ecs field',
    edit: (t) =>
      t.replace(
        '    cluster: runnerctl\n',
        '    cluster: runnerctl\n    subnet: subnet-0123456789abcdef0\n',
      ),
    expected: [
      'pool.yaml:21:5: spec.ecs.subnet: unknown field "subnet": expected one of cluster, taskDefinition, containerName, subnets, securityGroups, assignPublicIp, launch, networkMode, runtimePlatform, capacityProviderStrategy, onDemandFallback (did you mean "subnets"?)',
    ],
  },
  {
    name: 'unknown metadata field',
    edit: (t) => t.replace('  name: test-pool\n', '  name: test-pool\n  namespace: default\n'),
    expected: [
      'pool.yaml:5:3: metadata.namespace: unknown field "namespace": expected one of name, labels, annotations',
    ],
  },
  {
    name: 'wrong apiVersion',
    edit: (t) => t.replace('apiVersion: runnerctl.dev/v1alpha1', 'apiVersion: runnerctl.dev/v1'),
    expected: [
      'pool.yaml:1:13: apiVersion: expected "runnerctl.dev/v1alpha1", got "runnerctl.dev/v1"',
    ],
  },
  {
    name: 'wrong kind',
    edit: (t) => t.replace('kind: RunnerPool', 'kind: Pool'),
    expected: ['pool.yaml:2:7: kind: expected "RunnerPool", got "Pool"'],
  },
  {
    name: 'missing metadata.name',
    edit: (t) => t.replace('  name: test-pool\n', '  labels: {}\n'),
    expected: [
      "pool.yaml:3:1: metadata.name: missing required field: expected a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit), got nothing",
    ],
  },
  {
    name: 'pool name not DNS-1123',
    edit: (t) => t.replace('name: test-pool', 'name: Test_Pool'),
    expected: [
      'pool.yaml:4:9: metadata.name: expected a DNS-1123 label (lower-case letters, digits and \'-\', starting and ending with a letter or digit), got "Test_Pool"',
    ],
  },
  {
    name: 'pool name too long',
    edit: (t) => t.replace('name: test-pool', 'name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'),
    expected: [
      'pool.yaml:4:9: metadata.name: expected at most 40 characters, got 41: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"',
    ],
  },
  {
    name: 'unknown scope',
    edit: (t) => t.replace('scope: org', 'scope: organisation'),
    expected: [
      'pool.yaml:7:12: spec.github.scope: expected one of "org", "repo", "enterprise", got "organisation"',
    ],
  },
  {
    name: 'org scope without organization',
    edit: (t) => t.replace('    organization: foo-organisation\n', ''),
    expected: [
      'pool.yaml:6:3: spec.github.organization: required for scope org: expected an organization login, got nothing',
    ],
  },
  {
    name: 'repo scope with malformed repository',
    edit: (t) =>
      t.replace(
        '    scope: org\n    organization: foo-organisation\n',
        '    scope: repo\n    repository: jit-fargate-test\n',
      ),
    expected: [
      'pool.yaml:8:17: spec.github.repository: expected owner/name, got "jit-fargate-test"',
    ],
  },
  {
    name: 'repo scope with organization',
    edit: (t) =>
      t.replace(
        '    scope: org\n    organization: foo-organisation\n',
        '    scope: repo\n    repository: foo-organisation/jit-fargate-test\n    organization: foo-organisation\n',
      ),
    expected: [
      'pool.yaml:9:19: spec.github.organization: not allowed for scope repo: expected only repository and runnerGroup, got "foo-organisation"',
    ],
  },
  {
    name: 'repo scope with a custom runner group',
    edit: (t) =>
      t.replace(
        '    scope: org\n    organization: foo-organisation\n',
        '    scope: repo\n    repository: foo-organisation/jit-fargate-test\n    runnerGroup: builders\n',
      ),
    expected: [
      'pool.yaml:9:18: spec.github.runnerGroup: repository runners can only join the Default runner group: expected "Default", got "builders"',
    ],
  },
  {
    name: 'empty label set',
    edit: (t) => t.replace('labels: [self-hosted, linux]', 'labels: []'),
    expected: ['pool.yaml:9:11: spec.labels: expected at least 1 item, got an empty list'],
  },
  {
    name: 'duplicate labels ignoring case',
    edit: (t) => t.replace('labels: [self-hosted, linux]', 'labels: [self-hosted, linux, Linux]'),
    expected: [
      'pool.yaml:9:32: spec.labels[2]: duplicate label: expected labels that differ from each other ignoring case, got "Linux" again (labels[1] is "linux")',
    ],
  },
  {
    name: 'label with a space',
    edit: (t) => t.replace('labels: [self-hosted, linux]', 'labels: [self-hosted, "my label"]'),
    expected: [
      "pool.yaml:9:25: spec.labels[1]: expected a label of letters, digits, '.', '_' and '-', got \"my label\"",
    ],
  },
  {
    name: 'maxRunners not an integer',
    edit: (t) => t.replace('maxRunners: 5', 'maxRunners: "five"'),
    expected: ['pool.yaml:10:15: spec.maxRunners: expected an integer, got the string "five"'],
  },
  {
    name: 'maxRunners out of range',
    edit: (t) => t.replace('maxRunners: 5', 'maxRunners: 5000'),
    expected: ['pool.yaml:10:15: spec.maxRunners: expected an integer from 0 to 1000, got 5000'],
  },
  {
    name: 'negative minIdle',
    edit: (t) => t.replace('  maxRunners: 5\n', '  maxRunners: 5\n  minIdle: -1\n'),
    expected: ['pool.yaml:11:12: spec.minIdle: expected an integer from 0 to 100, got -1'],
  },
  {
    name: 'minIdle above maxRunners',
    edit: (t) => t.replace('  maxRunners: 5\n', '  maxRunners: 5\n  minIdle: 6\n'),
    expected: [
      'pool.yaml:11:12: spec.minIdle: minIdle exceeds maxRunners: expected at most maxRunners (5), got 6',
    ],
  },
  {
    name: 'priority not an integer',
    edit: (t) => t.replace('  maxRunners: 5\n', '  maxRunners: 5\n  priority: 1.5\n'),
    expected: ['pool.yaml:11:13: spec.priority: expected an integer, got the number 1.5'],
  },
  {
    name: 'invalid Fargate pair',
    edit: (t) => t.replace('      memory: 4096', '      memory: 16384'),
    expected: [
      'pool.yaml:17:15: spec.sizes[1].memory: invalid Fargate cpu/memory pair: expected memory (MiB) 2048 to 8192 in steps of 1024 for cpu 1024, got 16384',
    ],
  },
  {
    name: 'cpu that Fargate does not have',
    edit: (t) => t.replace('      cpu: 256', '      cpu: 300'),
    expected: [
      'pool.yaml:13:12: spec.sizes[0].cpu: expected one of 256, 512, 1024, 2048, 4096, 8192, 16384, got 300',
    ],
  },
  {
    name: 'size without memory',
    edit: (t) => t.replace('      memory: 512\n', ''),
    expected: [
      'pool.yaml:12:7: spec.sizes[0].memory: missing required field: expected an integer, got nothing',
    ],
  },
  {
    name: 'defaultSize naming no size',
    edit: (t) => t.replace('defaultSize: small', 'defaultSize: medium'),
    expected: [
      'pool.yaml:18:16: spec.defaultSize: defaultSize does not name a declared size: expected one of "small", "large", got "medium"',
    ],
  },
  {
    name: 'sizes without defaultSize',
    edit: (t) => t.replace('  defaultSize: small\n', ''),
    expected: [
      'pool.yaml:5:1: spec.defaultSize: required when sizes are declared: expected the label of a declared size (one of "small", "large"), got nothing',
    ],
  },
  {
    name: 'duplicate size labels',
    edit: (t) => t.replace('    - label: large', '    - label: SMALL'),
    expected: [
      'pool.yaml:15:14: spec.sizes[1].label: duplicate size label: expected size labels that differ from each other ignoring case, got "SMALL" again (sizes[0].label)',
    ],
  },
  {
    name: 'size label colliding with a pool label',
    edit: (t) => t.replace('    - label: large', '    - label: linux'),
    expected: [
      'pool.yaml:15:14: spec.sizes[1].label: size label collides with a pool label: expected a label that is not one of the pool labels or self-hosted, got "linux"',
    ],
  },
  {
    name: 'empty sizes list',
    edit: (t) =>
      t.replace(
        '  sizes:\n    - label: small\n      cpu: 256\n      memory: 512\n    - label: large\n      cpu: 1024\n      memory: 4096\n  defaultSize: small\n',
        '  sizes: []\n',
      ),
    expected: ['pool.yaml:11:10: spec.sizes: expected at least 1 item, got an empty list'],
  },
  {
    name: 'missing subnets',
    edit: (t) => t.replace('    subnets: [subnet-0123456789abcdef0]\n', ''),
    expected: [
      'pool.yaml:19:3: spec.ecs.subnets: missing required field: expected a list, each item a subnet ID (subnet- and 8 or 17 hex digits), got nothing',
    ],
  },
  {
    name: 'malformed subnet',
    edit: (t) => t.replace('subnets: [subnet-0123456789abcdef0]', 'subnets: [subnet-xyz]'),
    expected: [
      'pool.yaml:22:15: spec.ecs.subnets[0]: expected a subnet ID (subnet- and 8 or 17 hex digits), got "subnet-xyz"',
    ],
  },
  {
    name: 'duplicate subnets',
    edit: (t) =>
      t.replace(
        'subnets: [subnet-0123456789abcdef0]',
        'subnets: [subnet-0123456789abcdef0, subnet-0123456789abcdef0]',
      ),
    expected: [
      'pool.yaml:22:41: spec.ecs.subnets[1]: duplicate item: expected unique items, got "subnet-0123456789abcdef0" again (also [0])',
    ],
  },
  {
    name: 'unknown capacity provider',
    edit: (t) =>
      t.replace(
        '    subnets: [subnet-0123456789abcdef0]\n',
        '    subnets: [subnet-0123456789abcdef0]\n    capacityProviderStrategy:\n      - capacityProvider: SPOT\n',
      ),
    expected: [
      'pool.yaml:24:27: spec.ecs.capacityProviderStrategy[0].capacityProvider: a Fargate pool names only Fargate capacity providers: expected FARGATE or FARGATE_SPOT (or ecs.launch: ec2 for an Auto Scaling group provider), got "SPOT"',
    ],
  },
  {
    name: 'duplicate capacity provider',
    edit: (t) =>
      t.replace(
        '    subnets: [subnet-0123456789abcdef0]\n',
        '    subnets: [subnet-0123456789abcdef0]\n    capacityProviderStrategy:\n      - capacityProvider: FARGATE\n        weight: 1\n      - capacityProvider: FARGATE\n',
      ),
    expected: [
      'pool.yaml:26:27: spec.ecs.capacityProviderStrategy[1].capacityProvider: duplicate capacity provider: expected each capacity provider at most once, got "FARGATE" again (capacityProviderStrategy[0])',
    ],
  },
  {
    name: 'assignPublicIp not a boolean',
    edit: (t) =>
      t.replace(
        '    subnets: [subnet-0123456789abcdef0]\n',
        '    subnets: [subnet-0123456789abcdef0]\n    assignPublicIp: "no"\n',
      ),
    expected: [
      'pool.yaml:23:21: spec.ecs.assignPublicIp: expected true or false, got the string "no"',
    ],
  },
  {
    name: 'malformed duration',
    edit: (t) => t.replace('idle: 10m', 'idle: 10 minutes'),
    expected: [
      'pool.yaml:24:11: spec.timeouts.idle: expected a duration such as 90s, 5m or 1h30m, got "10 minutes"',
    ],
  },
  {
    name: 'duration out of range',
    edit: (t) => t.replace('    idle: 10m\n', '    idle: 10m\n    registration: 2h\n'),
    expected: [
      'pool.yaml:25:19: spec.timeouts.registration: duration out of range: expected a duration from 30s to 1h, got "2h"',
    ],
  },
  {
    name: 'unknown timeout',
    edit: (t) => t.replace('    idle: 10m\n', '    idle: 10m\n    startup: 5m\n'),
    expected: [
      'pool.yaml:25:5: spec.timeouts.startup: unknown field "startup": expected one of registration, idle, maxJobDuration',
    ],
  },
  {
    name: 'spec not a mapping',
    edit: (t) => t.replace(/spec:\n[\s\S]*$/, 'spec: [a, b]\n'),
    expected: ['pool.yaml:5:7: spec: expected a mapping, got a list of 2'],
  },
  {
    name: 'invalid YAML',
    edit: (t) => t.replace('  maxRunners: 5\n', '  maxRunners: [5\n'),
    expected: [
      'pool.yaml:11:3: (document): invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ],
  },
  {
    name: 'labels written as a string',
    edit: (t) => t.replace('labels: [self-hosted, linux]', 'labels: linux'),
    expected: ['pool.yaml:9:11: spec.labels: expected a list, got the string "linux"'],
  },
  {
    name: 'scope of the wrong type reports the type only',
    edit: (t) => t.replace('scope: org', 'scope: 1'),
    expected: ['pool.yaml:7:12: spec.github.scope: expected a string, got the number 1'],
  },
  {
    name: 'empty value',
    edit: (t) => t.replace('maxRunners: 5', 'maxRunners:'),
    expected: ['pool.yaml:10:14: spec.maxRunners: expected an integer, got an empty value (null)'],
  },
  {
    name: 'status placed inside spec',
    edit: (t) => t.replace('  defaultSize: small\n', '  defaultSize: small\n  status: {}\n'),
    expected: [
      'pool.yaml:19:3: spec.status: unknown field "status": expected one of github, labels, maxRunners, minIdle, repositories, allowPublicRepositories, maxRunnersPerRepository, priority, sizes, docker, defaultSize, ecs, timeouts',
    ],
  },
  // Launch platforms: what Fargate cannot run is refused where it is written.
  {
    name: 'docker on a Fargate pool',
    edit: (t) => t.replace('  ecs:\n', '  docker: true\n  ecs:\n'),
    expected: [
      'pool.yaml:19:11: spec.docker: Docker needs a privileged container, which Fargate does not run: expected docker on a pool with ecs.launch: ec2 (ECS on EC2 capacity providers), got docker: true with ecs.launch "fargate"',
    ],
  },
  {
    name: 'EC2 pool naming a Fargate capacity provider',
    edit: (t) =>
      t.replace(
        SUBNETS,
        `${SUBNETS}    launch: ec2\n    capacityProviderStrategy:\n      - capacityProvider: FARGATE_SPOT\n`,
      ),
    expected: [
      'pool.yaml:25:27: spec.ecs.capacityProviderStrategy[0].capacityProvider: an EC2 pool cannot use a Fargate capacity provider: expected an Auto Scaling group capacity provider (or ecs.launch: fargate), got "FARGATE_SPOT"',
    ],
  },
  {
    name: 'EC2 pool without a capacity provider strategy',
    edit: (t) => t.replace(SUBNETS, `${SUBNETS}    launch: ec2\n`),
    expected: [
      'pool.yaml:19:3: spec.ecs.capacityProviderStrategy: an EC2 pool launches through its capacity providers: expected a capacityProviderStrategy naming Auto Scaling group capacity providers, got nothing',
    ],
  },
  {
    name: 'Fargate pool naming an Auto Scaling group provider',
    edit: (t) =>
      t.replace(
        SUBNETS,
        `${SUBNETS}    capacityProviderStrategy:\n      - capacityProvider: runnerctl-docker\n`,
      ),
    expected: [
      'pool.yaml:24:27: spec.ecs.capacityProviderStrategy[0].capacityProvider: a Fargate pool names only Fargate capacity providers: expected FARGATE or FARGATE_SPOT (or ecs.launch: ec2 for an Auto Scaling group provider), got "runnerctl-docker"',
    ],
  },
  {
    name: 'bridge network mode on Fargate',
    edit: (t) => t.replace(SUBNETS, '    networkMode: bridge\n'),
    expected: [
      'pool.yaml:22:18: spec.ecs.networkMode: Fargate supports only the awsvpc network mode: expected "awsvpc" (or ecs.launch: ec2), got "bridge"',
    ],
  },
  {
    name: 'subnets with bridge network mode',
    edit: (t) =>
      t.replace(
        SUBNETS,
        `${SUBNETS}    launch: ec2\n    networkMode: bridge\n    capacityProviderStrategy:\n      - capacityProvider: runnerctl-docker\n`,
      ),
    expected: [
      "pool.yaml:22:14: spec.ecs.subnets: bridge tasks use the container instance's network: expected no subnets with networkMode bridge, got a list of 1",
    ],
  },
  {
    name: 'ephemeral storage on an EC2 pool',
    edit: (t) =>
      t
        .replace('      memory: 512\n', '      memory: 512\n      ephemeralStorageGiB: 50\n')
        .replace(
          SUBNETS,
          `${SUBNETS}    launch: ec2\n    capacityProviderStrategy:\n      - capacityProvider: runnerctl-docker\n`,
        ),
    expected: [
      "pool.yaml:15:28: spec.sizes[0].ephemeralStorageGiB: ephemeral storage is a Fargate setting: expected no ephemeralStorageGiB on an EC2 pool (size the instances' volumes instead), got 50",
    ],
  },
  {
    name: 'ephemeral storage below 21 GiB',
    edit: (t) =>
      t.replace('      memory: 512\n', '      memory: 512\n      ephemeralStorageGiB: 20\n'),
    expected: [
      'pool.yaml:15:28: spec.sizes[0].ephemeralStorageGiB: expected an integer from 21 to 200, got 20',
    ],
  },
];

describe('invalid pool documents', () => {
  it('the base document is valid', () => {
    expect(issuesOf(BASE)).toEqual([]);
  });

  it('the table is large enough', () => {
    expect(INVALID.length).toBeGreaterThanOrEqual(20);
  });

  it('an EC2 docker pool takes bridge mode, ARM64 and sizes that are not Fargate pairs', () => {
    const text = BASE.replace('      memory: 4096\n', '      memory: 1536\n')
      .replace('  ecs:\n', '  docker: true\n  ecs:\n')
      .replace(
        SUBNETS,
        '    launch: ec2\n    networkMode: bridge\n    runtimePlatform: { cpuArchitecture: ARM64 }\n    capacityProviderStrategy:\n      - capacityProvider: runnerctl-docker\n        weight: 1\n',
      );
    expect(issuesOf(text)).toEqual([]);
    const [validated] = validatePoolYaml(text, 'pool.yaml');
    expect(validated!.pool.spec.docker).toBe(true);
    expect(validated!.pool.spec.ecs.runtimePlatform).toEqual({
      cpuArchitecture: 'ARM64',
      operatingSystemFamily: 'LINUX',
    });
  });

  it.each(INVALID)('$name', ({ edit, expected }) => {
    const text = edit(BASE);
    expect(text, 'the edit must change the document').not.toBe(BASE);
    expect(issuesOf(text)).toEqual(expected);
  });
});
