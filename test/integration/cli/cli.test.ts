// The runnerctl CLI in-process (run(argv, io)) against the embedded local store (dynalite) in a
// temporary data directory. Assertions read the store back through the CLI itself.

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { run } from '../../../controller/cli/run.ts';
import { ConflictError } from '../../../controller/store/errors.ts';
import { openStore, type StoreOptions } from '../../../controller/store/factory.ts';
import type { Store } from '../../../controller/store/types.ts';
import type { Clock } from '../../../controller/util/clock.ts';

const ROOT = join(import.meta.dirname, '../../..');
const EXAMPLES = 'crds/examples';
const START = Date.parse('2026-11-23T12:00:00Z');

const tmpRoot = mkdtempSync(join(tmpdir(), 'runnerctl-cli-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

let dataDir: string;
let now: number;
const clock: Clock = { now: () => now, sleep: async () => {} };
let counter = 0;

beforeEach(() => {
  dataDir = join(tmpRoot, `data-${++counter}`);
  now = START;
});

interface Result {
  code: number;
  out: string;
  err: string;
}

async function cli(
  argv: string[],
  opts: { stdin?: string; env?: Record<string, string>; wrap?: (s: Store) => Store } = {},
): Promise<Result> {
  let out = '';
  let err = '';
  const code = await run(
    argv,
    {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
      stdin: Readable.from(opts.stdin === undefined ? [] : [opts.stdin]),
      env: { RUNNERCTL_DATA_DIR: dataDir, ...opts.env },
      cwd: ROOT,
    },
    {
      clock,
      openStore: async (o: StoreOptions) => {
        const store = await openStore(o);
        return opts.wrap ? opts.wrap(store) : store;
      },
    },
  );
  return { code, out, err };
}

async function poolsJson(): Promise<{
  items: { metadata: Record<string, unknown>; spec: Record<string, unknown> }[];
}> {
  const r = await cli(['get', 'pools', '-o', 'json']);
  expect(r.code).toBe(0);
  return JSON.parse(r.out);
}

/** A temp copy of crds/examples that a test may edit. */
function examplesCopy(): string {
  const dir = join(tmpRoot, `examples-${++counter}`);
  cpSync(join(ROOT, EXAMPLES), dir, { recursive: true });
  return dir;
}

const CREATED = [
  'runnerpool/docker created',
  'runnerpool/jit-fargate-test created',
  'runnerpool/seed created',
  'runnerpool/linux-x64 created',
  '',
].join('\n');

describe('runnerctl apply', () => {
  it('applying every example twice prints created, then unchanged, without a generation bump', async () => {
    const first = await cli(['apply', '-f', EXAMPLES]);
    expect(first).toEqual({ code: 0, out: CREATED, err: '' });
    const second = await cli(['apply', '-f', EXAMPLES]);
    expect(second).toEqual({ code: 0, out: CREATED.replaceAll('created', 'unchanged'), err: '' });
    const { items } = await poolsJson();
    expect(items.map((i) => [i.metadata.name, i.metadata.generation])).toEqual([
      ['docker', 1],
      ['jit-fargate-test', 1],
      ['linux-x64', 1],
      ['seed', 1],
    ]);
  });

  it('a changed field prints configured and bumps the generation', async () => {
    const dir = examplesCopy();
    expect((await cli(['apply', '-f', dir])).code).toBe(0);
    const file = join(dir, 'seed-org-pool.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('maxRunners: 10', 'maxRunners: 12'));
    const r = await cli(['apply', '-f', file]);
    expect(r).toEqual({ code: 0, out: 'runnerpool/seed configured\n', err: '' });
    const { items } = await poolsJson();
    const seed = items.find((i) => i.metadata.name === 'seed')!;
    expect(seed.metadata.generation).toBe(2);
    expect(seed.spec.maxRunners).toBe(12);
    expect(items.find((i) => i.metadata.name === 'linux-x64')!.metadata.generation).toBe(1);
  });

  it('a reordered but equal document is unchanged', async () => {
    const dir = examplesCopy();
    expect((await cli(['apply', '-f', dir])).code).toBe(0);
    const file = join(dir, 'repo-pool.yaml');
    const text = readFileSync(file, 'utf8')
      .replace('  maxRunners: 5\n', '')
      .replace('spec:\n', 'spec:\n  maxRunners: 5\n  minIdle: 0\n');
    writeFileSync(file, text);
    expect(await cli(['apply', '-f', file])).toMatchObject({
      code: 0,
      out: 'runnerpool/jit-fargate-test unchanged\n',
    });
  });

  it('reads stdin with -f -', async () => {
    const text = readFileSync(join(ROOT, EXAMPLES, 'sized-pool.yaml'), 'utf8');
    const r = await cli(['apply', '-f', '-'], { stdin: text });
    expect(r).toEqual({ code: 0, out: 'runnerpool/linux-x64 created\n', err: '' });
  });

  it('--dry-run validates without writing', async () => {
    const r = await cli(['apply', '--dry-run', '-f', EXAMPLES]);
    expect(r).toEqual({
      code: 0,
      out: CREATED.replaceAll('created', 'created (dry run)'),
      err: '',
    });
    expect((await poolsJson()).items).toEqual([]);
  });

  it('an invalid document among valid ones writes nothing and names file, line and field', async () => {
    const dir = examplesCopy();
    writeFileSync(
      join(dir, 'zz-bad.yaml'),
      [
        'apiVersion: runnerctl.dev/v1alpha1',
        'kind: RunnerPool',
        'metadata: { name: good-one }',
        'spec:',
        '  github: { scope: org, organization: foo-organisation }',
        '  labels: [gpu]',
        '  maxRunners: 1',
        '  ecs: { cluster: runnerctl, taskDefinition: runnerctl-runner, subnets: [subnet-12345678] }',
        '---',
        'apiVersion: runnerctl.dev/v1alpha1',
        'kind: RunnerPool',
        'metadata: { name: bad-one }',
        'spec:',
        '  github: { scope: org, organization: foo-organisation }',
        '  labels: [gpu]',
        '  maxRunners: 1',
        '  sizes: [{ label: big, cpu: 256, memory: 8192 }]',
        '  defaultSize: big',
        '  ecs: { cluster: runnerctl, taskDefinition: runnerctl-runner, subnets: [subnet-12345678] }',
        '',
      ].join('\n'),
    );
    const r = await cli(['apply', '-f', dir]);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe(
      `${join(dir, 'zz-bad.yaml')}:17:43: spec.sizes[0].memory: invalid Fargate cpu/memory pair: expected memory (MiB) 512, 1024 or 2048 for cpu 256, got 8192\n` +
        'error: 1 validation error; nothing was applied\n',
    );
    expect((await poolsJson()).items).toEqual([]);
  });

  it('rejects the same pool name in two files and writes nothing', async () => {
    const seed = join(ROOT, EXAMPLES, 'seed-org-pool.yaml');
    const r = await cli(['apply', '-f', seed, '-f', seed]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      `${seed}:6:9: metadata.name: duplicate pool name: expected names unique across all applied documents, got "seed" again (first at ${seed}:6:9)`,
    );
    expect((await poolsJson()).items).toEqual([]);
  });

  it('names a missing file and an empty directory', async () => {
    const missing = await cli(['apply', '-f', 'no/such.yaml']);
    expect(missing).toEqual({
      code: 1,
      out: '',
      err: 'error: no/such.yaml: cannot read: no such file or directory\n',
    });
    const empty = mkdtempSync(join(tmpRoot, 'empty-'));
    const r = await cli(['apply', '-f', empty]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`error: ${empty}: no .yaml or .yml files in this directory\n`);
    const none = await cli(['apply', '-f', '-'], { stdin: '# nothing\n' });
    expect(none).toMatchObject({ code: 1, err: 'error: no RunnerPool documents in -\n' });
  });

  it('surfaces a stale write as a clear conflict error', async () => {
    const r = await cli(['apply', '-f', EXAMPLES], {
      wrap: (store) =>
        Object.assign(Object.create(store) as Store, {
          applyPool: async () => {
            throw new ConflictError(
              'stale update of pool "jit-fargate-test": expected generation 1, stored generation is 2; read it again and retry',
              'POOL#jit-fargate-test',
            );
          },
        }),
    });
    expect(r).toEqual({
      code: 1,
      out: '',
      err: 'error: conflict: stale update of pool "jit-fargate-test": expected generation 1, stored generation is 2; read it again and retry\n',
    });
  });
});

describe('runnerctl get, describe, delete', () => {
  it('get pools prints a table, a wide table, YAML and JSON', async () => {
    expect((await cli(['get', 'pools'])).err).toBe('No runner pools found.\n');
    await cli(['apply', '-f', EXAMPLES]);
    now = START + 3 * 60_000;
    const table = await cli(['get', 'pools']);
    expect(table.code).toBe(0);
    expect(table.out.split('\n')).toEqual([
      'NAME               SCOPE                                    LABELS                         MAX   QUEUED   LAUNCHING   IDLE   BUSY   STATUS    AGE',
      'docker             org/foo-organisation                     self-hosted,linux,x64,docker   8     -        -           -      -      Pending   3m',
      'jit-fargate-test   repo/foo-organisation/jit-fargate-test   self-hosted,jit-fargate-test   5     -        -           -      -      Pending   3m',
      'linux-x64          org/foo-organisation                     self-hosted,linux,x64          20    -        -           -      -      Pending   3m',
      'seed               org/foo-organisation                     self-hosted,1,2                10    -        -           -      -      Pending   3m',
      '',
    ]);
    const wide = await cli(['get', 'pools', 'linux-x64', '-o', 'wide']);
    expect(wide.out).toMatch(/MIN-IDLE\s+PRIORITY\s+SIZES\s+CAPACITY\s+CLUSTER\s+GENERATION/);
    expect(wide.out).toContain(
      'small*=1024/2048,medium=2048/8192,large=4096/16384   FARGATE_SPOT:3,FARGATE:1+fallback   runnerctl   1/-',
    );
    const yaml = parse((await cli(['get', 'pool', 'seed', '-o', 'yaml'])).out);
    expect(yaml).toMatchObject({
      apiVersion: 'runnerctl.dev/v1alpha1',
      kind: 'RunnerPool',
      metadata: { name: 'seed', generation: 1, creationTimestamp: '2026-11-23T12:00:00.000Z' },
      spec: { labels: ['self-hosted', '1', '2'], github: { organization: 'foo-organisation' } },
    });
    const json = await poolsJson();
    expect(json).toMatchObject({ kind: 'RunnerPoolList' });
    expect(json.items).toHaveLength(4);
  });

  it('get pools NAME fails for an unknown pool', async () => {
    await cli(['apply', '-f', EXAMPLES]);
    expect(await cli(['get', 'pools', 'nope'])).toEqual({
      code: 1,
      out: '',
      err: 'error: runnerpool "nope" not found\n',
    });
    // As kubectl: what exists is listed, each missing name is an error, exit 1.
    const some = await cli(['get', 'pools', 'seed', 'nope', 'nah']);
    expect(some.code).toBe(1);
    expect(some.out).toMatch(/^NAME .*\nseed /);
    expect(some.err).toBe(
      'error: runnerpool "nope" not found\nerror: runnerpool "nah" not found\n',
    );
  });

  it('describe pool shows spec, status, counts and the deletion mark', async () => {
    await cli(['apply', '-f', EXAMPLES]);
    const before = await cli(['describe', 'pool', 'linux-x64']);
    expect(before.code).toBe(0);
    expect(before.out).toContain('Name:                   linux-x64\n');
    expect(before.out).toContain('  GitHub:               org/foo-organisation\n');
    expect(before.out).toContain('    small: cpu 1024, memory 2048 MiB (default)\n');
    expect(before.out).toContain('  Per repository:       no cap (maxRunners only)\n');
    expect(before.out).toContain('  Repositories:         all of the scope\n');
    expect(before.out).toContain('  Public repos:         not served\n');
    expect(before.out).toContain('  Timeouts:             registration 5m, idle 15m, max job 6h\n');
    expect(before.out).toContain('not reconciled yet');

    // The controller's status write, through the real store.
    const store = await openStore({ kind: 'local', dataDir, clock });
    try {
      const record = (await store.getPool('linux-x64'))!;
      await store.updatePoolStatus(
        'linux-x64',
        {
          observedGeneration: 1,
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'Reconciled',
              message: '2 runners launching',
              lastTransitionTime: new Date(START).toISOString(),
            },
          ],
          queuedJobs: 3,
          launching: 2,
          idle: 1,
          busy: 4,
        },
        record.resourceVersion,
      );
    } finally {
      await store.close();
    }
    now = START + 90 * 60_000;
    const after = await cli(['describe', 'pool', 'linux-x64']);
    expect(after.out).toContain('  Observed generation:  1 (up to date)\n');
    expect(after.out).toContain('  Queued jobs:          3\n');
    expect(after.out).toContain('  Busy:                 4\n');
    expect(after.out).toContain('  Ready   True     Reconciled   1h30m   2 runners launching\n');
    expect((await cli(['get', 'pools', 'linux-x64'])).out).toMatch(
      /linux-x64 .* 20\s+3\s+2\s+1\s+4\s+Ready\s+1h30m/,
    );

    await cli(['delete', 'pool', 'linux-x64']);
    const deleting = await cli(['describe', 'pool', 'linux-x64']);
    expect(deleting.out).toMatch(
      /Deletion requested:\s+2026-11-23T13:30:00.000Z: the controller is draining its runners/,
    );
    expect(deleting.out).toContain('Phase:                  Deleting\n');
  });

  it('describe pool fails for an unknown pool', async () => {
    expect(await cli(['describe', 'pool', 'nope'])).toEqual({
      code: 1,
      out: '',
      err: 'error: runnerpool "nope" not found\n',
    });
  });

  it('delete pool marks it for deletion; apply is refused until it is gone', async () => {
    await cli(['apply', '-f', EXAMPLES]);
    const r = await cli(['delete', 'pool', 'seed']);
    expect(r).toEqual({
      code: 0,
      out: 'runnerpool/seed marked for deletion; the controller will drain its runners, then remove it\n',
      err: '',
    });
    const again = await cli(['delete', 'pool', 'seed']);
    expect(again.out).toBe(
      'runnerpool/seed already marked for deletion at 2026-11-23T12:00:00.000Z; the controller is draining it\n',
    );
    const { items } = await poolsJson();
    expect(items.find((i) => i.metadata.name === 'seed')!.metadata.deletionTimestamp).toBe(
      '2026-11-23T12:00:00.000Z',
    );
    expect((await cli(['get', 'pools', 'seed'])).out).toMatch(/seed .* Deleting /);

    const reapply = await cli(['apply', '-f', EXAMPLES]);
    expect(reapply.code).toBe(1);
    expect(reapply.out).toBe('');
    expect(reapply.err).toBe(
      'error: runnerpool/seed is being deleted (since 2026-11-23T12:00:00.000Z): wait until the controller has drained and removed it, then apply again (no controller running? runnerctl delete pool seed --force removes it now)\n',
    );
    expect(await cli(['delete', 'pool', 'nope'])).toMatchObject({
      code: 1,
      err: 'error: runnerpool "nope" not found\n',
    });
  });
});

describe('runnerctl flags and exit codes', () => {
  it('--data-dir wins over RUNNERCTL_DATA_DIR', async () => {
    const other = join(tmpRoot, `flag-dir-${++counter}`);
    // A --data-dir store is made by init only: a typo never reads an empty store.
    expect(await cli(['get', 'pools', '--data-dir', other])).toMatchObject({
      code: 1,
      err: expect.stringContaining('does not exist: no local store in'),
    });
    expect((await cli(['init', '--data-dir', other])).code).toBe(0);
    expect((await cli(['apply', '-f', EXAMPLES, '--data-dir', other])).code).toBe(0);
    expect((await cli(['get', 'pools'])).err).toBe('No runner pools found.\n');
    expect((await cli(['get', 'pools', '--data-dir', other])).out).toContain('seed');
  });

  it.each([
    [['frobnicate'], "error: unknown command 'frobnicate'"],
    [['get', 'pools', '--colour'], "error: unknown option '--colour'"],
    [['describe', 'pool'], "error: missing required argument 'name'"],
    [['delete', 'pool'], "error: missing required argument 'names'"],
    [
      ['get', 'pools', '-o', 'xml'],
      "error: option '-o, --output <format>' argument 'xml' is invalid",
    ],
    [
      ['get', 'pools', '--store', 'sqlite'],
      "error: option '--store <kind>' argument 'sqlite' is invalid",
    ],
    [['apply'], 'error: apply needs -f FILE, -f DIR or -f - (stdin)'],
    [['apply', '-f', '-', '-f', '-'], 'error: stdin (-f -) can be given only once'],
    [['get'], 'Usage: runnerctl get'],
    [[], 'Usage: runnerctl'],
  ])('usage error %j exits 2', async (argv, message) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain(message);
  });

  it('--help prints usage on stdout and exits 0', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Usage: runnerctl/);
    for (const cmd of ['apply', 'get', 'describe', 'delete']) expect(r.out).toContain(cmd);
    const apply = await cli(['apply', '--help']);
    for (const flag of ['--store', '--data-dir', '--table', '--region', '--endpoint', '-f']) {
      expect(apply.out).toContain(flag);
    }
  });
});
