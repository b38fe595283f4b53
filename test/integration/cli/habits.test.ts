// kubectl habits: version, completion, -o name, --no-headers, --help order, delete --force.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../../controller/cli/run.ts';

const ROOT = join(import.meta.dirname, '../../..');
const tmpRoot = mkdtempSync(join(tmpdir(), 'runnerctl-habits-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));
let n = 0;
let dataDir = join(tmpRoot, 'data-0');

async function cli(argv: string[]) {
  let out = '';
  let err = '';
  const code = await run(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    stdin: Readable.from([]),
    env: { RUNNERCTL_DATA_DIR: dataDir },
    cwd: ROOT,
  });
  return { code, out, err };
}

describe('kubectl habits', () => {
  it('version and --version', async () => {
    expect((await cli(['--version'])).out).toMatch(/^runnerctl \d+\.\d+\.\d+\n$/);
    expect((await cli(['version'])).out).toMatch(/^runnerctl \d+\.\d+\.\d+ \(Node\.js v/);
  });

  it('--help lists commands in kubectl order', async () => {
    const help = (await cli(['--help'])).out;
    const order = ['get', 'delete', 'describe', 'apply', 'completion', 'config', 'version'].map(
      (c) => help.indexOf(`\n  ${c} `),
    );
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('completion bash|zsh|fish', async () => {
    expect((await cli(['completion', 'bash'])).out).toContain('complete -F _runnerctl runnerctl');
    expect((await cli(['completion', 'zsh'])).out).toMatch(/^#compdef runnerctl/);
    expect((await cli(['completion', 'fish'])).out).toContain('-a apply');
    expect((await cli(['completion', 'tcsh'])).code).toBe(2);
  });

  it('-o name and --no-headers', async () => {
    dataDir = join(tmpRoot, `data-${++n}`);
    await cli(['apply', '-f', 'crds/examples']);
    expect((await cli(['get', 'pools', '-o', 'name'])).out).toBe(
      'runnerpool/docker\nrunnerpool/jit-fargate-test\nrunnerpool/linux-x64\nrunnerpool/seed\n',
    );
    const bare = (await cli(['get', 'pools', '--no-headers'])).out;
    expect(bare).not.toContain('NAME');
    expect(bare.split('\n')[0]).toMatch(/^docker /);
  });

  it('delete pool --force removes a pool without a controller; a Deleting pool names --force', async () => {
    dataDir = join(tmpRoot, `data-${++n}`);
    await cli(['apply', '-f', 'crds/examples']);
    await cli(['delete', 'pool', 'seed']);
    const again = await cli(['apply', '-f', 'crds/examples']);
    expect(again.code).toBe(1);
    expect(again.err).toContain('runnerctl delete pool seed --force removes it now');
    const forced = await cli(['delete', 'pool', 'seed', 'linux-x64', '--force']);
    expect(forced).toMatchObject({
      code: 0,
      out: 'runnerpool/seed deleted (forced)\nrunnerpool/linux-x64 deleted (forced)\n',
    });
    expect(forced.err).toContain('warning: runnerpool/seed was removed without a controller');
    expect((await cli(['get', 'pools', '-o', 'name'])).out).toBe(
      'runnerpool/docker\nrunnerpool/jit-fargate-test\n',
    );
    expect((await cli(['apply', '-f', 'crds/examples'])).out).toContain('runnerpool/seed created');
  });
});
