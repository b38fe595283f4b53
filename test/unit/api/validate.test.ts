// Valid documents, defaults, multi-document files, duplicate names and the schema file itself.

import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatIssue, SchemaError, ValidationError } from '../../../controller/api/errors.ts';
import { DEFAULT_SCHEMA_FILE, loadPoolSchema } from '../../../controller/api/schema.ts';
import { validatePoolSources, validatePoolYaml } from '../../../controller/api/validate.ts';

const EXAMPLES = join(import.meta.dirname, '../../../crds/examples');

function pool(name: string, extra = ''): string {
  return `apiVersion: runnerctl.dev/v1alpha1
kind: RunnerPool
metadata:
  name: ${name}
spec:
  github: { scope: org, organization: foo-organisation }
  labels: [linux]
  maxRunners: 3
  ecs: { cluster: runnerctl, taskDefinition: runnerctl-runner, subnets: [subnet-12345678] }
${extra}`;
}

function issues(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err.issues.map(formatIssue);
    throw err;
  }
  throw new Error('expected a ValidationError');
}

describe('valid pools', () => {
  const files = readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.yaml'))
    .sort();

  it('every example validates, with unique names', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
    const pools = validatePoolSources(
      files.map((f) => ({ file: f, text: readFileSync(join(EXAMPLES, f), 'utf8') })),
    );
    expect(pools.map((p) => p.pool.metadata.name).sort()).toEqual([
      'docker',
      'jit-fargate-test',
      'linux-x64',
      'seed',
    ]);
  });

  it('the seed pool matches jobs [self-hosted, 1] and [self-hosted, 2], and only it does', () => {
    const pools = files.flatMap((f) =>
      validatePoolYaml(readFileSync(join(EXAMPLES, f), 'utf8'), f).map((p) => p.pool),
    );
    const matching = (job: string[]) =>
      pools
        .filter((p) => job.every((l) => p.spec.labels.map((x) => x.toLowerCase()).includes(l)))
        .map((p) => p.metadata.name);
    expect(matching(['self-hosted', '1'])).toEqual(['seed']);
    expect(matching(['self-hosted', '2'])).toEqual(['seed']);
    const seed = pools.find((p) => p.metadata.name === 'seed')!;
    expect(seed.spec.github).toEqual({
      scope: 'org',
      organization: 'foo-organisation',
      runnerGroup: 'Default',
    });
    expect(seed.spec.ecs.capacityProviderStrategy?.[0]?.capacityProvider).toBe('FARGATE_SPOT');
    expect(seed.spec.ecs.onDemandFallback).toBe(true);
  });

  it('applies every default', () => {
    const [result] = validatePoolYaml(pool('defaults'), 'p.yaml');
    expect(result!.pool.spec).toEqual({
      github: { scope: 'org', organization: 'foo-organisation', runnerGroup: 'Default' },
      labels: ['self-hosted', 'linux'],
      maxRunners: 3,
      minIdle: 0,
      priority: 0,
      allowPublicRepositories: false,
      ecs: {
        cluster: 'runnerctl',
        taskDefinition: 'runnerctl-runner',
        containerName: 'runner',
        subnets: ['subnet-12345678'],
        securityGroups: [],
        assignPublicIp: false,
        onDemandFallback: true,
      },
      timeouts: { registration: '5m', idle: '10m', maxJobDuration: '6h' },
    });
    expect(result).toMatchObject({ file: 'p.yaml', line: 4, column: 9 });
  });

  it('keeps self-hosted once, whatever its case', () => {
    const text = pool('x').replace('labels: [linux]', 'labels: [linux, Self-Hosted]');
    expect(validatePoolYaml(text)[0]!.pool.spec.labels).toEqual(['linux', 'Self-Hosted']);
  });

  it('orders keys canonically, so reordered documents are equal', () => {
    const a = validatePoolYaml(pool('x'))[0]!.pool;
    const reordered = `kind: RunnerPool
spec:
  maxRunners: 3
  ecs: { subnets: [subnet-12345678], taskDefinition: runnerctl-runner, cluster: runnerctl }
  labels: [linux]
  github: { organization: foo-organisation, scope: org }
metadata: { name: x }
apiVersion: runnerctl.dev/v1alpha1
`;
    expect(JSON.stringify(validatePoolYaml(reordered)[0]!.pool)).toBe(JSON.stringify(a));
  });

  it('ignores a status block in an applied document (the controller owns it)', () => {
    const text = pool('x', 'status: { observedGeneration: 4, queuedJobs: 2 }\n');
    expect(validatePoolYaml(text)[0]!.pool).not.toHaveProperty('status');
  });

  it('reads multi-document files and skips empty documents', () => {
    const text = `---\n${pool('a')}---\n---\n${pool('b')}...\n`;
    expect(validatePoolYaml(text).map((p) => p.pool.metadata.name)).toEqual(['a', 'b']);
  });

  it('returns nothing for a file of comments only', () => {
    expect(validatePoolYaml('# nothing here\n')).toEqual([]);
  });
});

describe('invalid documents across files', () => {
  it('rejects duplicate names across documents and files, naming the first', () => {
    const found = issues(() =>
      validatePoolSources([
        { file: 'a.yaml', text: `${pool('dup')}---\n${pool('other')}` },
        { file: 'b.yaml', text: pool('dup') },
      ]),
    );
    expect(found).toEqual([
      'b.yaml:4:9: metadata.name: duplicate pool name: expected names unique across all applied documents, got "dup" again (first at a.yaml:4:9)',
    ]);
  });

  it('reports every invalid document of every file, in order, with positions', () => {
    const found = issues(() =>
      validatePoolSources([
        { file: 'ok.yaml', text: pool('fine') },
        {
          file: 'bad.yaml',
          text: `${pool('one').replace('maxRunners: 3', 'maxRunners: -1')}---\n${pool('two').replace('labels: [linux]', 'labels: []')}`,
        },
      ]),
    );
    expect(found).toEqual([
      'bad.yaml:8:15: spec.maxRunners: expected an integer from 0 to 1000, got -1',
      'bad.yaml:17:11: spec.labels: expected at least 1 item, got an empty list',
    ]);
  });

  it('quotes map keys that are not plain names in field paths', () => {
    const text = pool('x').replace(
      '  name: x\n',
      '  name: x\n  annotations: { runnerctl.dev/owner: 5 }\n',
    );
    expect(issues(() => validatePoolYaml(text, 'a.yaml'))).toEqual([
      'a.yaml:5:39: metadata.annotations["runnerctl.dev/owner"]: expected a string, got the number 5',
    ]);
  });

  it('reports a document that is not a mapping', () => {
    expect(issues(() => validatePoolYaml('- a\n- b\n', 'list.yaml'))).toEqual([
      'list.yaml:1:1: (document): expected a mapping, got a list of 2',
    ]);
  });

  it('reports duplicate YAML keys as invalid YAML', () => {
    const text = pool('x').replace('maxRunners: 3', 'maxRunners: 3\n  maxRunners: 4');
    expect(issues(() => validatePoolYaml(text, 'd.yaml'))).toEqual([
      'd.yaml:9:3: (document): invalid YAML: Map keys must be unique',
    ]);
  });

  it('reports several problems of one document, sorted by position', () => {
    const text = pool('Bad')
      .replace('maxRunners: 3', 'maxRunners: 0\n  minIdle: 2')
      .replace('scope: org', 'scope: enterprise');
    expect(issues(() => validatePoolYaml(text, 'm.yaml'))).toEqual([
      'm.yaml:4:9: metadata.name: expected a DNS-1123 label (lower-case letters, digits and \'-\', starting and ending with a letter or digit), got "Bad"',
      'm.yaml:6:3: spec.github.enterprise: required for scope enterprise: expected an enterprise slug, got nothing',
      'm.yaml:6:46: spec.github.organization: not allowed for scope enterprise: expected only enterprise and runnerGroup, got "foo-organisation"',
      'm.yaml:9:12: spec.minIdle: minIdle exceeds maxRunners: expected at most maxRunners (0), got 2',
    ]);
  });

  it('the error message lists every issue', () => {
    try {
      validatePoolYaml(pool('x').replace('maxRunners: 3', 'maxRunners: 2000'), 'e.yaml');
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toBe(
        'e.yaml:8:15: spec.maxRunners: expected an integer from 0 to 1000, got 2000',
      );
    }
  });
});

describe('the schema file', () => {
  const crd = readFileSync(DEFAULT_SCHEMA_FILE, 'utf8');
  const dir = mkdtempSync(join(tmpdir(), 'runnerctl-schema-'));

  it('loads crds/runnerpool.yaml', () => {
    const schema = loadPoolSchema();
    expect(schema.schema.properties.spec.required).toEqual([
      'github',
      'labels',
      'maxRunners',
      'ecs',
    ]);
  });

  it('refuses a rule name the code does not implement', () => {
    const file = join(dir, 'unknown-rule.yaml');
    writeFileSync(file, crd.replace('rule: fargateCpuMemory', 'rule: fargateCpuMemroy'));
    expect(() => loadPoolSchema(file)).toThrow(SchemaError);
    expect(() => loadPoolSchema(file)).toThrow(/unknown validation rule "fargateCpuMemroy"/);
  });

  it('refuses a rule declaration with bad parameters', () => {
    const file = join(dir, 'bad-params.yaml');
    writeFileSync(file, crd.replace('min: 30s', 'min: soon'));
    expect(() => loadPoolSchema(file)).toThrow(/rule "durationRange": .*"min"/);
  });

  it('refuses a file that is not the RunnerPool CRD', () => {
    const file = join(dir, 'other.yaml');
    writeFileSync(file, crd.replace('kind: RunnerPool\n    listKind', 'kind: Other\n    listKind'));
    expect(() => loadPoolSchema(file)).toThrow(/kind RunnerPool/);
    expect(() => loadPoolSchema(join(dir, 'missing.yaml'))).toThrow(/cannot load the pool schema/);
  });

  it('a schema change takes effect without code changes', () => {
    const file = join(dir, 'max.yaml');
    writeFileSync(
      file,
      crd.replace('maximum: 1000\n                minIdle', 'maximum: 50\n                minIdle'),
    );
    const schema = loadPoolSchema(file);
    expect(
      issues(() =>
        validatePoolSources(
          [{ file: 'p.yaml', text: pool('x').replace('maxRunners: 3', 'maxRunners: 60') }],
          schema,
        ),
      ),
    ).toEqual(['p.yaml:8:15: spec.maxRunners: expected an integer from 0 to 50, got 60']);
  });
});

describe('repositories and allowPublicRepositories', () => {
  it('the documented example validates', () => {
    const file = join(import.meta.dirname, '../../../docs/examples/restricted-pool.yaml');
    const [doc] = validatePoolYaml(readFileSync(file, 'utf8'), file);
    expect(doc!.pool.spec.repositories).toEqual(['api-*', 'foo-organisation/billing']);
  });

  it('accepts names, globs and owner/name entries; defaults allowPublicRepositories to false', () => {
    const [doc] = validatePoolYaml(
      pool('p', '  repositories: [api-*, acme/web, "svc-?"]\n'),
      'p.yaml',
    );
    expect(doc!.pool.spec.repositories).toEqual(['api-*', 'acme/web', 'svc-?']);
    expect(doc!.pool.spec.allowPublicRepositories).toBe(false);
  });

  it('names the file, position and entry of a bad one', () => {
    const found = issues(() =>
      validatePoolYaml(
        pool('p', '  repositories: [api-*, "bad name"]\n  allowPublicRepositories: yes-please\n'),
        'p.yaml',
      ),
    );
    expect(found.join('\n')).toMatch(
      /p\.yaml:\d+:\d+: spec\.repositories\[1\]: expected a repository name or glob/,
    );
    expect(found.join('\n')).toMatch(
      /p\.yaml:\d+:\d+: spec\.allowPublicRepositories: expected true or false/,
    );
  });
});

describe('maxRunnersPerRepository', () => {
  it('the documented example sets it', () => {
    const file = join(import.meta.dirname, '../../../docs/examples/restricted-pool.yaml');
    const [doc] = validatePoolYaml(readFileSync(file, 'utf8'), file);
    expect(doc!.pool.spec.maxRunnersPerRepository).toBe(4);
  });

  it('is optional; absent means no cap', () => {
    const [doc] = validatePoolYaml(pool('p'), 'p.yaml');
    expect(doc!.pool.spec.maxRunnersPerRepository).toBeUndefined();
  });

  it('names the file, position and value of one below 1 or not an integer', () => {
    expect(
      issues(() => validatePoolYaml(pool('p', '  maxRunnersPerRepository: 0\n'), 'p.yaml')),
    ).toEqual([
      'p.yaml:10:28: spec.maxRunnersPerRepository: expected an integer from 1 to 1000, got 0',
    ]);
    expect(
      issues(() => validatePoolYaml(pool('p', '  maxRunnersPerRepository: 2.5\n'), 'p.yaml')),
    ).toEqual([
      'p.yaml:10:28: spec.maxRunnersPerRepository: expected an integer, got the number 2.5',
    ]);
  });
});

describe('the runner network the deployment allows', () => {
  const networked = (subnets: string, groups: string) =>
    pool('net').replace(
      'subnets: [subnet-12345678]',
      `subnets: ${subnets}, securityGroups: ${groups}`,
    );

  it('refuses a subnet or security group outside the allowed lists, naming each by position', () => {
    const found = issues(() =>
      validatePoolSources(
        [
          {
            file: 'net.yaml',
            text: networked('[subnet-12345678, subnet-0bad0bad]', '[sg-0bad0bad]'),
          },
        ],
        undefined,
        { network: { subnets: ['subnet-12345678'], securityGroups: ['sg-11111111'] } },
      ),
    );
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(
      /^net\.yaml:9:\d+: spec\.ecs\.subnets\[1\]: not one of the runner subnets/,
    );
    expect(found[0]).toContain('subnet-12345678 (RUNNERCTL_RUNNER_SUBNETS), got "subnet-0bad0bad"');
    expect(found[1]).toMatch(
      /spec\.ecs\.securityGroups\[0\]: not one of the runner security groups/,
    );
  });

  it('accepts pools inside the lists, and checks nothing when no list is given', () => {
    const text = networked('[subnet-12345678]', '[sg-11111111]');
    const allowed = { subnets: ['subnet-12345678'], securityGroups: ['sg-11111111'] };
    expect(
      validatePoolSources([{ file: 'a.yaml', text }], undefined, { network: allowed }),
    ).toHaveLength(1);
    const other = networked('[subnet-0bad0bad]', '[sg-0bad0bad]');
    expect(validatePoolSources([{ file: 'b.yaml', text: other }])).toHaveLength(1);
    expect(
      validatePoolSources([{ file: 'b.yaml', text: other }], undefined, {
        network: { subnets: [] },
      }),
    ).toHaveLength(1);
  });
});
