// The simulation fails when the world is not clean: a GitHub runner and a runner record leaked
// on purpose after a clean run are reported as violations; a job that cannot finish in time
// makes `runnerctl simulate` exit 1 with the invariants it broke; usage errors exit 2 and an
// invalid scenario exits 1 naming file, line and field.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../controller/cli/run.ts';
import { OctokitGitHubProvider } from '../../../controller/github/octokit-provider.ts';
import { runSimulation } from '../../../controller/simulate/run.ts';
import { parseScenario } from '../../../controller/simulate/scenario.ts';

const POOL = `
  - apiVersion: runnerctl.dev/v1alpha1
    kind: RunnerPool
    metadata: { name: linux }
    spec:
      github: { scope: org, organization: acme }
      labels: [self-hosted, linux]
      maxRunners: 2
      ecs: { cluster: runnerctl, taskDefinition: runnerctl-runner, subnets: [subnet-0a1b2c3d] }`;

const TINY = `name: tiny
speed: 100
pools:${POOL}
workload:
  - { at: 0s, repo: acme/app, jobs: [{ name: build, runsOn: [linux], duration: 1m }] }
`;

/** A job that outlives the scenario: it is still running at the timeout, its runner busy. */
const TOO_LONG = `name: too-long
speed: 150
timeout: 8m
drainTimeout: 2m
pools:${POOL}
workload:
  - { at: 0s, repo: acme/app, jobs: [{ name: soak, runsOn: [linux], duration: 3h }] }
`;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rctl-sim-violations-'));
  await writeFile(join(dir, 'too-long.yaml'), TOO_LONG);
  await writeFile(
    join(dir, 'invalid.yaml'),
    `name: invalid\npools:${POOL}\nworkload:\n  - at: soon\n    repo: acme/app\n    jobs: [{ name: x, runsOn: [gpu] }]\n`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(argv: string[]) {
  let out = '';
  let err = '';
  const code = await run(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    stdin: Readable.from([]),
    env: {},
    cwd: dir,
  });
  return { code, out, err };
}

describe('invariant violations', () => {
  it('reports a GitHub runner and a runner record leaked after a clean run', async () => {
    const scenario = await parseScenario(TINY, 'tiny.yaml', dir);
    const { ok, report } = await runSimulation(scenario, {
      logLevel: 'warn',
      async beforeCheck(world) {
        // A registration nobody removes (no runner prefix: the garbage collector would not
        // touch it anyway), through the GitHub API as the App.
        const app = await world.cloud.github.control.app();
        const github = new OctokitGitHubProvider({
          appId: app.appId,
          privateKey: app.privateKeyPem,
          baseUrl: world.githubUrl,
        });
        await github.generateJitConfig(
          { kind: 'org', org: 'acme' },
          { name: 'leaked-runner', runnerGroupId: 1, labels: ['self-hosted', 'linux'] },
        );
        const now = new Date(world.clock.now()).toISOString();
        await world.store.createRunner({
          name: 'rctl-linux-leaked',
          pool: 'linux',
          state: 'idle',
          labels: ['self-hosted', 'linux'],
          attempts: 1,
          createdAt: now,
          timeline: [],
        });
      },
    });
    expect(ok).toBe(false);
    expect(report.ok).toBe(false);
    const byName = Object.fromEntries(report.invariants.map((i) => [i.name, i]));
    // The workload itself went fine.
    expect(byName['jobs-completed']!.ok).toBe(true);
    expect(byName['jobs-on-matching-pools']!.ok).toBe(true);
    expect(byName['no-github-runners-left']!.ok).toBe(false);
    expect(byName['no-github-runners-left']!.violations.join('\n')).toMatch(/leaked-runner/);
    expect(byName['no-unfinished-records']!.ok).toBe(false);
    expect(byName['no-unfinished-records']!.violations).toEqual([
      'runner record rctl-linux-leaked of pool linux is idle',
    ]);
  });

  it('runnerctl simulate exits 1 and names what is left when a job cannot finish', async () => {
    const { code, out, err } = await cli(['simulate', 'too-long.yaml', '-q', '--report', 'r.json']);
    expect(code, err).toBe(1);
    expect(out).toMatch(/FAIL jobs-completed/);
    expect(out).toMatch(/job \d+ "soak" .* is still in_progress/);
    // The busy runner is never stopped, so its runner, task and record are still there.
    expect(out).toMatch(/FAIL no-github-runners-left/);
    expect(out).toMatch(/FAIL no-tasks-running/);
    expect(out).toMatch(/FAIL no-unfinished-records/);
    expect(err).toMatch(/invariants violated: jobs-completed, /);
    expect(err).toMatch(/logs and store kept in /);
    const kept = /logs and store kept in (\S+)/.exec(err)![1]!;
    await rm(kept, { recursive: true, force: true });
  }, 60_000);

  it('exits 2 on usage errors and 1 on an invalid scenario, naming file, line and field', async () => {
    expect((await cli(['simulate'])).code).toBe(2);
    const speed = await cli(['simulate', 'too-long.yaml', '--speed', '0']);
    expect(speed.code).toBe(2);
    expect(speed.err).toMatch(/--speed must be a number from 1 to 10000, got "0"/);
    const missing = await cli(['simulate', 'nope.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/cannot read the scenario nope\.yaml: ENOENT/);

    const invalid = await cli(['simulate', 'invalid.yaml']);
    expect(invalid.code).toBe(1);
    expect(invalid.err).toMatch(
      /invalid\.yaml:12:9: workload\[0\]\.at: expected a duration such as 90s, 5m, 2h or 1h30m, got "soon"/,
    );
    expect(invalid.err).toMatch(/1 validation error in invalid\.yaml; nothing was simulated/);
  });
});
