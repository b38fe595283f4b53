// Scenario files: defaults, durations in simulated ms, matrices and repeats kept as written,
// pool files resolved next to the scenario, and errors that name file:line:column and field.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError, formatIssue } from '../../../controller/api/errors.ts';
import { loadScenario, parseScenario } from '../../../controller/simulate/scenario.ts';

const POOL = `
  - apiVersion: runnerctl.dev/v1alpha1
    kind: RunnerPool
    metadata: { name: linux }
    spec:
      github: { scope: org, organization: acme }
      labels: [self-hosted, linux]
      maxRunners: 2
      sizes: [{ label: large, cpu: 4096, memory: 16384 }]
      defaultSize: large
      ecs: { cluster: c, taskDefinition: t, subnets: [subnet-0a1b2c3d] }`;

const WORKLOAD = `
workload:
  - { at: 0s, repo: acme/app, jobs: [{ name: build, runsOn: [linux] }] }`;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rctl-scenario-'));
  await writeFile(
    join(dir, 'pool.yaml'),
    `apiVersion: runnerctl.dev/v1alpha1\nkind: RunnerPool\nmetadata: { name: from-file }\nspec:\n  github: { scope: repo, repository: acme/app }\n  labels: [app]\n  maxRunners: 1\n  ecs: { cluster: c, taskDefinition: t, subnets: [subnet-0a1b2c3d] }\n`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function issuesOf(text: string, file = 's.yaml'): Promise<string[]> {
  try {
    await parseScenario(text, file, dir);
  } catch (err) {
    if (err instanceof ValidationError) return err.issues.map(formatIssue);
    throw err;
  }
  throw new Error('expected a ValidationError');
}

describe('scenario files', () => {
  it('applies defaults and converts durations to simulated milliseconds', async () => {
    const s = await parseScenario(`name: s\npools:${POOL}${WORKLOAD}\n`, 's.yaml', dir);
    expect(s.speed).toBe(100);
    expect(s.seed).toBe(1);
    expect(s.cloud).toEqual({ taskStartMs: 50_000, restPerHour: 5_000 });
    expect(s.controller).toEqual({
      resyncMs: 60_000,
      runnerPollMs: 10_000,
      ingestion: 'both',
      coldStart: false,
    });
    // Last arrival (0 s) plus two hours.
    expect(s.timeoutMs).toBe(2 * 3600_000);
    expect(s.workload[0]!.jobs[0]).toEqual({
      name: 'build',
      runsOn: ['linux'],
      durationMs: 60_000,
      matrix: 1,
      conclusion: 'success',
    });
    expect(s.faults.github.serverErrorRate).toBe(0);
    expect(s.faults.controller.restarts).toEqual([]);
    // The pool got its defaults and the implicit self-hosted label, as `apply` gives it.
    expect(s.pools[0]!.spec.labels).toContain('self-hosted');
  });

  it('reads every field of the format', async () => {
    const s = await parseScenario(
      `name: full
seed: 9
speed: 20
timeout: 1h30m
drainTimeout: 5m
cloud: { taskStartTime: 10s, restPerHour: 15000 }
controller: { resyncInterval: 30s, runnerPollInterval: 5s, leaseDuration: 1m, ingestion: sqs, coldStart: true }
pools:${POOL}
  - file: pool.yaml
workload:
  - at: 1m
    repo: acme/app
    workflow: ci
    repeat: { count: 3, every: 2m }
    cancelAfter: 10m
    rerunAfter: 30s
    jobs:
      - { name: t, runsOn: [linux, large], duration: 90s, matrix: 4, conclusion: failure, cancelAfter: 1m }
      - { name: a, runsOn: [app] }
faults:
  github: { serverErrorRate: 0.1, tooManyRequestsRate: 0.2, secondaryLimitRate: 0.3, retryAfter: 10s }
  webhooks: { dropRate: 0.1, duplicateRate: 0.2, reorderRate: 0.3, delayRate: 0.4, delay: 1m }
  ecs: { throttleRate: 0.1, spotCapacityShortageRate: 0.2, taskStartFailureRate: 0.3, spotInterruptionRate: 0.4 }
  runners: { crashBeforeRegistrationRate: 0.5 }
  controller: { restarts: [{ at: 5m, downtime: 30s }, { at: 2m }] }
`,
      'full.yaml',
      dir,
    );
    expect(s.pools.map((p) => p.metadata.name)).toEqual(['linux', 'from-file']);
    expect(s.timeoutMs).toBe(5_400_000);
    expect(s.drainTimeoutMs).toBe(300_000);
    expect(s.cloud).toEqual({ taskStartMs: 10_000, restPerHour: 15_000 });
    expect(s.controller).toEqual({
      resyncMs: 30_000,
      runnerPollMs: 5_000,
      leaseMs: 60_000,
      ingestion: 'sqs',
      coldStart: true,
    });
    const run = s.workload[0]!;
    expect(run).toMatchObject({
      atMs: 60_000,
      workflow: 'ci',
      repeat: { count: 3, everyMs: 120_000 },
      cancelAfterMs: 600_000,
      rerunAfterMs: 30_000,
    });
    expect(run.jobs[0]).toEqual({
      name: 't',
      runsOn: ['linux', 'large'],
      durationMs: 90_000,
      matrix: 4,
      conclusion: 'failure',
      cancelAfterMs: 60_000,
    });
    expect(s.faults).toEqual({
      github: {
        serverErrorRate: 0.1,
        tooManyRequestsRate: 0.2,
        secondaryLimitRate: 0.3,
        retryAfterMs: 10_000,
      },
      webhooks: {
        dropRate: 0.1,
        duplicateRate: 0.2,
        reorderRate: 0.3,
        delayRate: 0.4,
        delayMs: 60_000,
      },
      ecs: {
        throttleRate: 0.1,
        spotCapacityShortageRate: 0.2,
        taskStartFailureRate: 0.3,
        spotInterruptionRate: 0.4,
      },
      runners: { crashBeforeRegistrationRate: 0.5 },
      // Sorted by time.
      controller: {
        restarts: [
          { atMs: 120_000, downtimeMs: 0 },
          { atMs: 300_000, downtimeMs: 30_000 },
        ],
      },
    });
  });

  it('names file, line, column and field for schema errors', async () => {
    expect(
      await issuesOf(
        `name: s\nspeed: 0\npools:${POOL}\nworkload:\n  - at: 1m\n    repo: app\n    jobs: [{ name: b, runsOn: [linux], durations: 1m }]\nfaults:\n  webhooks: { dropRate: 2 }\n`,
      ),
    ).toEqual([
      's.yaml:2:8: speed: expected a number from 1 to 10000, got 0',
      's.yaml:16:11: workload[0].repo: expected a repository as owner/name, got "app"',
      's.yaml:17:40: workload[0].jobs[0].durations: unknown field "durations": expected one of name, runsOn, duration, matrix, conclusion, cancelAfter (did you mean "duration"?)',
      's.yaml:19:25: faults.webhooks.dropRate: expected a number from 0 to 1, got 2',
    ]);
    expect(await issuesOf(`name: s\npools: []\n`)).toEqual([
      's.yaml:1:1: workload: missing required field: expected a list, each item a mapping with at, repo, workflow, jobs, repeat, cancelAfter, rerunAfter, got nothing',
      's.yaml:2:8: pools: expected at least 1 item, got an empty list',
    ]);
  });

  it('checks inline pools against the RunnerPool schema, at their place in the scenario', async () => {
    const text = `name: s\npools:${POOL.replace('maxRunners: 2', 'maxRunners: -1')}${WORKLOAD}\n`;
    expect(await issuesOf(text)).toEqual([
      's.yaml:9:19: pools[0].spec.maxRunners: expected an integer from 0 to 1000, got -1',
    ]);
  });

  it('reports pool files that are missing or invalid, and duplicate pool names', async () => {
    expect(await issuesOf(`name: s\npools:\n  - file: nope.yaml${WORKLOAD}\n`)).toEqual([
      's.yaml:3:11: pools[0].file: cannot read nope.yaml: ENOENT',
    ]);
    await writeFile(join(dir, 'bad.yaml'), 'apiVersion: runnerctl.dev/v1alpha1\nkind: Pool\n');
    const bad = await issuesOf(`name: s\npools:\n  - file: bad.yaml${WORKLOAD}\n`);
    expect(bad[0]).toMatch(/^bad\.yaml:\d+:\d+: /);
    const dup = await issuesOf(`name: s\npools:${POOL}${POOL}${WORKLOAD}\n`);
    expect(dup).toEqual([
      expect.stringMatching(
        /^s\.yaml:15:23: pools\[1\]\.metadata\.name: duplicate pool name: .* "linux" again \(first at s\.yaml:5:23\)$/,
      ),
    ]);
  });

  it('refuses jobs that no pool would run', async () => {
    const text = `name: s\npools:${POOL}\nworkload:\n  - at: 0s\n    repo: acme/app\n    jobs:\n      - { name: a, runsOn: [gpu, cuda] }\n      - { name: b, runsOn: [linux, xlarge] }\n`;
    expect(await issuesOf(text)).toEqual([
      's.yaml:17:28: workload[0].jobs[0].runsOn: no pool matches [gpu, cuda]: nearest pool linux [self-hosted, linux; sizes large] lacks gpu, cuda',
      's.yaml:18:28: workload[0].jobs[1].runsOn: no runner would take this job: size xlarge not offered by pool linux',
    ]);
  });

  it('reports invalid YAML and empty files', async () => {
    expect(await issuesOf('name: [unclosed\n')).toEqual([
      expect.stringMatching(/^s\.yaml:\d+:\d+: \(document\): invalid YAML: /),
    ]);
    expect(await issuesOf('')).toEqual([
      's.yaml:1:1: (document): empty scenario: expected a mapping with name, pools and workload',
    ]);
  });

  it('loads the example scenarios of test/scenarios/', async () => {
    const base = new URL('../../scenarios/', import.meta.url).pathname;
    for (const name of ['basic', 'matrix-rerun-cancel', 'faults/all-faults']) {
      const s = await loadScenario(`${base}${name}.yaml`);
      expect(s.pools.length).toBeGreaterThan(0);
      expect(s.workload.length).toBeGreaterThan(0);
    }
  });
});
