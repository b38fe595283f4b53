// A runs-on typo (`[self-hosted, lnux, x64]`) matches no pool: on a running sandbox, the pool it
// nearly names (linux-x64) stays Ready, not Degraded, after a reconcile that saw the job, and
// drift names the nearest pool with a "did you mean".

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../controller/cli/run.ts';
import { SEED_REPOSITORY } from '../../../controller/sandbox/plan.ts';
import { testSandbox, until, type TestSandbox } from '../../e2e/helpers.ts';

const ROOT = join(import.meta.dirname, '../../..');
let sandbox: TestSandbox;

beforeAll(async () => {
  sandbox = await testSandbox();
});

afterAll(async () => {
  await sandbox?.close();
});

async function cli(...args: string[]) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c) => (stdout += String(c)));
  err.on('data', (c) => (stderr += String(c)));
  const code = await run([...args, '--data-dir', sandbox.info.dataDir], {
    stdout: out,
    stderr: err,
    stdin: new PassThrough(),
    env: {},
    cwd: sandbox.dir,
  });
  return { code, stdout, stderr };
}

describe('a runs-on typo', () => {
  it('leaves the unrelated pool Ready and is explained with the nearest pool', async () => {
    await sandbox.queue({
      repo: SEED_REPOSITORY,
      workflowName: 'typo',
      jobs: [{ name: 'typo', runsOn: ['self-hosted', 'lnux', 'x64'], durationMs: 100 }],
    });
    const store = sandbox.app.store;
    await until(
      async () => (await store.listJobs()).some((j) => j.labels.includes('lnux')),
      'the controller recorded the job',
    );
    // A new generation of linux-x64, observed only by a reconcile that ran after the job.
    const file = join(sandbox.dir, 'linux-x64.yaml');
    const text = readFileSync(join(ROOT, 'crds/examples/sized-pool.yaml'), 'utf8');
    writeFileSync(
      file,
      text.replace('  name: linux-x64\n', '  name: linux-x64\n  labels: { typo-test: "1" }\n'),
    );
    expect((await cli('apply', '-f', file)).stdout).toBe('runnerpool/linux-x64 configured\n');
    await until(async () => {
      const pool = await store.getPool('linux-x64');
      return !!pool?.status && pool.status.observedGeneration >= pool.generation;
    }, 'linux-x64 reconciled after the job');

    const listed = await cli('get', 'pools', 'linux-x64', '--no-headers');
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^linux-x64 .* Ready /);
    const pool = await store.getPool('linux-x64');
    expect(pool!.status!.conditions.find((c) => c.type === 'Degraded')?.status).toBe('False');

    const drift = await cli('drift', '--grace', '0s');
    expect(drift.stdout).toContain('lacks lnux (did you mean linux?)');
  });
});
