// apply's per-object result (created / configured / unchanged), `apply --dry-run` answering
// the same against the store without writing, and `runnerctl diff -f` (kubectl diff).

import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../../controller/cli/run.ts';

const ROOT = join(import.meta.dirname, '../../..');
const tmpRoot = mkdtempSync(join(tmpdir(), 'runnerctl-apply-diff-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));
let n = 0;
let dataDir: string;
let pools: string;

beforeEach(() => {
  dataDir = join(tmpRoot, `data-${++n}`);
  pools = join(tmpRoot, `pools-${n}`);
  cpSync(join(ROOT, 'crds/examples'), pools, { recursive: true });
});

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

/** linux-x64 with maxRunners 20 -> 25. */
function editLinux(): void {
  const file = join(pools, 'sized-pool.yaml');
  const text = readFileSync(file, 'utf8');
  expect(text).toContain('maxRunners: 20\n');
  writeFileSync(file, text.replace('maxRunners: 20\n', 'maxRunners: 25\n'));
}

const maxRunners = async () =>
  (await cli(['get', 'pools', 'linux-x64', '-o', 'jsonpath={.spec.maxRunners}'])).out;

describe('apply --dry-run against the store', () => {
  it('says created for a store never used, and creates nothing', async () => {
    const r = await cli(['apply', '-f', pools, '--dry-run']);
    expect(r).toMatchObject({
      code: 0,
      out:
        'runnerpool/docker created (dry run)\nrunnerpool/jit-fargate-test created (dry run)\n' +
        'runnerpool/seed created (dry run)\nrunnerpool/linux-x64 created (dry run)\n',
    });
    expect(existsSync(join(dataDir, 'dynamodb'))).toBe(false);
  });

  it('says configured and unchanged per object, as apply then does, and writes nothing', async () => {
    expect((await cli(['apply', '-f', pools])).out).toContain('runnerpool/linux-x64 created\n');
    editLinux();
    const dry = await cli(['apply', '-f', pools, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain('runnerpool/linux-x64 configured (dry run)\n');
    expect(dry.out).toContain('runnerpool/seed unchanged (dry run)\n');
    expect(await maxRunners()).toBe('20');

    const applied = await cli(['apply', '-f', pools]);
    expect(applied.out).toBe(dry.out.replaceAll(' (dry run)', ''));
    expect(await maxRunners()).toBe('25');
    expect((await cli(['apply', '-f', pools, '--dry-run'])).out).not.toContain('configured');
  });

  it('refuses a pool being deleted, as apply does', async () => {
    await cli(['apply', '-f', pools]);
    await cli(['delete', 'pool', 'seed']);
    const dry = await cli(['apply', '-f', pools, '--dry-run']);
    expect(dry.code).toBe(1);
    expect(dry.err).toContain('runnerpool/seed is being deleted');
  });
});

describe('runnerctl diff -f', () => {
  it('prints nothing and exits 0 when apply would change nothing', async () => {
    await cli(['apply', '-f', pools]);
    expect(await cli(['diff', '-f', pools])).toMatchObject({ code: 0, out: '' });
  });

  it('prints a unified diff of each changed pool and exits 1', async () => {
    await cli(['apply', '-f', pools]);
    editLinux();
    const r = await cli(['diff', '-f', pools]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /^--- live\/runnerpool\/linux-x64\n\+\+\+ applied\/runnerpool\/linux-x64\n@@ /,
    );
    expect(r.out).toContain('\n-  maxRunners: 20\n+  maxRunners: 25\n');
    expect(r.out).not.toContain('runnerpool/seed');
    // A pool not in the store yet: every line is added.
    await cli(['delete', 'pool', 'docker', '--force']);
    const added = await cli(['diff', '-f', join(pools, 'docker.yaml')]);
    expect(added.code).toBe(1);
    expect(added.out.split('\n').filter((l) => l.startsWith('-')).length).toBe(1); // the --- line
    expect(added.out).toContain('+  name: docker\n');
    expect(await maxRunners()).toBe('20');
  });

  it('needs -f (usage error)', async () => {
    expect((await cli(['diff'])).code).toBe(2);
  });
});
