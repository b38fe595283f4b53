// `npx runnerctl` runs bin/runnerctl.js: TypeScript through tsx, no build step. These tests start
// the real binary as a child process.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'bin/runnerctl.js');
const dataDir = mkdtempSync(join(tmpdir(), 'runnerctl-bin-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const exec = promisify(execFile);

async function runBinary(args: string[]) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, RUNNERCTL_DATA_DIR: dataDir },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('bin/runnerctl.js', () => {
  it('--help works without a build step', async () => {
    const r = await runBinary(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: runnerctl /);
    expect(r.stdout).toContain('apply [options]');
  });

  it('applies the examples for real and exits with the right codes', async () => {
    const r = await runBinary(['apply', '-f', 'crds/examples']);
    expect(r).toEqual({
      code: 0,
      stdout:
        'runnerpool/docker created\nrunnerpool/jit-fargate-test created\nrunnerpool/seed created\nrunnerpool/linux-x64 created\n',
      stderr: '',
    });
    const usage = await runBinary(['apply']);
    expect(usage.code).toBe(2);
    const missing = await runBinary(['describe', 'pool', 'nope']);
    expect(missing).toMatchObject({ code: 1, stderr: 'error: runnerpool "nope" not found\n' });
  });
});
