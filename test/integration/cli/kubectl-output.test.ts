// kubectl's output and argument habits: -o jsonpath=, TYPE/NAME arguments, get runners|jobs
// -o yaml|json as List documents, delete -f FILE.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { run } from '../../../controller/cli/run.ts';
import { openStore } from '../../../controller/store/factory.ts';

const ROOT = join(import.meta.dirname, '../../..');
const tmpRoot = mkdtempSync(join(tmpdir(), 'runnerctl-kubectl-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));
let dataDir = join(tmpRoot, 'data-0');

async function cli(argv: string[], stdin = '') {
  let out = '';
  let err = '';
  const code = await run(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    stdin: Readable.from(stdin ? [stdin] : []),
    env: { RUNNERCTL_DATA_DIR: dataDir },
    cwd: ROOT,
  });
  return { code, out, err };
}

beforeAll(async () => {
  expect((await cli(['apply', '-f', 'crds/examples'])).code).toBe(0);
  // Two runner records and a job, written as the controller would.
  const store = await openStore({ kind: 'local', dataDir, createTable: false });
  try {
    const at = '2026-11-23T12:00:00.000Z';
    for (const [name, pool, state] of [
      ['rctl-seed-a', 'seed', 'finished'],
      ['rctl-linux-b', 'linux-x64', 'idle'],
    ] as const) {
      await store.createRunner({
        name,
        pool,
        state,
        labels: ['self-hosted', 'linux'],
        attempts: 1,
        createdAt: at,
        timeline: [{ at, event: 'created' }],
      });
    }
    await store.recordJob({
      id: 41,
      runId: 7,
      runAttempt: 1,
      repository: 'acme/web',
      owner: 'acme',
      labels: ['self-hosted', 'linux'],
      status: 'queued',
      pool: 'seed',
      createdAt: at,
    });
  } finally {
    await store.close();
  }
});

describe('-o jsonpath=TEMPLATE', () => {
  it('prints the fields of a list and of one pool', async () => {
    expect(await cli(['get', 'pools', '-o', 'jsonpath={.items[*].metadata.name}'])).toMatchObject({
      code: 0,
      out: 'docker jit-fargate-test linux-x64 seed',
    });
    const one = await cli(['get', 'pools', 'linux-x64', '-o', 'jsonpath={.spec.maxRunners}']);
    expect(one.code).toBe(0);
    expect(Number(one.out)).toBeGreaterThan(0);
    const ranged = await cli([
      'get',
      'pools',
      '-o',
      'jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.spec.maxRunners}{"\\n"}{end}',
    ]);
    const lines = ranged.out.split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).map((l) => l.split('\t')[0])).toEqual([
      'docker',
      'jit-fargate-test',
      'linux-x64',
      'seed',
    ]);
    expect(lines[2]).toBe(`linux-x64\t${one.out}`);
    const filtered = await cli([
      'get',
      'pools',
      '-o',
      'jsonpath={.items[?(@.metadata.name=="seed")].kind}',
    ]);
    expect(filtered.out).toBe('RunnerPool');
  });

  it.each([
    ['jsonpath={.items[*].metadata.name', 'unclosed "{"'],
    ['jsonpath={range .items[*]}{.metadata.name}', '{range} without {end}'],
    ['jsonpath={.items[bogus]}', 'unsupported [bogus]'],
    ['jsonpath', 'jsonpath needs a template'],
  ])('a bad template %s is a usage error naming it', async (format, reason) => {
    const r = await cli(['get', 'pools', '-o', format]);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain(reason);
    if (format.includes('=')) expect(r.err).toContain(JSON.stringify(format.slice(9)));
  });

  it('works on runners and jobs', async () => {
    expect((await cli(['get', 'runners', '-o', 'jsonpath={.items[*].metadata.name}'])).out).toBe(
      'rctl-linux-b rctl-seed-a',
    );
    expect(
      (await cli(['get', 'jobs', '-o', 'jsonpath={.items[*].metadata.labels.repository}'])).out,
    ).toBe('acme/web');
  });
});

describe('TYPE/NAME arguments', () => {
  it('get, describe and delete take runnerpool/NAME and its aliases', async () => {
    expect((await cli(['get', 'runnerpool/seed', '-o', 'name'])).out).toBe('runnerpool/seed\n');
    expect((await cli(['get', 'rp/seed', 'pool/linux-x64', '-o', 'name'])).out).toBe(
      'runnerpool/seed\nrunnerpool/linux-x64\n',
    );
    expect((await cli(['get', 'rp', 'seed', '-o', 'name'])).out).toBe('runnerpool/seed\n');
    const described = await cli(['describe', 'runnerpool/seed']);
    expect(described.code).toBe(0);
    expect(described.out).toMatch(/^Name:\s+seed$/m);
    expect((await cli(['describe', 'runner/rctl-seed-a'])).out).toMatch(/rctl-seed-a/);
    expect((await cli(['get', 'runnerpool/nope'])).err).toBe(
      'error: runnerpool "nope" not found\n',
    );
  });

  it('mixing types, or a type and TYPE/NAME, is a usage error', async () => {
    const mixed = await cli(['get', 'runnerpool/seed', 'runner/rctl-seed-a']);
    expect(mixed.code).toBe(2);
    expect(mixed.err).toContain('one resource type at a time');
    const both = await cli(['get', 'pools', 'runnerpool/seed']);
    expect(both.code).toBe(2);
    expect(both.err).toContain('"pools": give every resource as TYPE/NAME');
    expect((await cli(['get', 'runnerpool/'])).code).toBe(2);
  });
});

describe('get runners|jobs -o yaml|json', () => {
  it('prints List documents whose items carry metadata', async () => {
    const yaml = parse((await cli(['get', 'runners', '-o', 'yaml'])).out);
    expect(yaml).toMatchObject({ apiVersion: 'runnerctl.dev/v1alpha1', kind: 'RunnerList' });
    expect(yaml.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual([
      'rctl-linux-b',
      'rctl-seed-a',
    ]);
    expect(yaml.items[0]).toMatchObject({
      kind: 'Runner',
      metadata: { labels: { pool: 'linux-x64', state: 'idle' } },
      state: 'idle',
    });
    const jobs = JSON.parse((await cli(['get', 'jobs', '-o', 'json'])).out);
    expect(jobs).toMatchObject({
      kind: 'JobList',
      items: [{ kind: 'Job', metadata: { name: '41' }, id: 41, repository: 'acme/web' }],
    });
  });
});

describe('-l/--selector', () => {
  it('selects pools by metadata.labels', async () => {
    const label = (file: string, name: string, labels: string) =>
      readFileSync(join(ROOT, 'crds/examples', file), 'utf8').replace(
        `  name: ${name}\n`,
        `  name: ${name}\n  labels: ${labels}\n`,
      );
    const docs = [
      label('seed-org-pool.yaml', 'seed', '{ team: ci, tier: gold }'),
      label('docker.yaml', 'docker', '{ team: infra }'),
    ].join('\n---\n');
    expect((await cli(['apply', '-f', '-'], docs)).out).toBe(
      'runnerpool/seed configured\nrunnerpool/docker configured\n',
    );
    const names = async (selector: string) =>
      (await cli(['get', 'pools', '-l', selector, '-o', 'name'])).out.trim().split('\n');
    expect(await names('team=ci')).toEqual(['runnerpool/seed']);
    expect(await names('team')).toEqual(['runnerpool/docker', 'runnerpool/seed']);
    expect(await names('team!=ci,team')).toEqual(['runnerpool/docker']);
    expect(await names('!team')).toEqual(['runnerpool/jit-fargate-test', 'runnerpool/linux-x64']);
    expect(await names('team in (ci, infra),tier!=gold')).toEqual(['runnerpool/docker']);
    expect((await cli(['get', 'pools', '-l', 'team=nobody'])).err).toBe('No runner pools found.\n');
  });

  it('selects runners and jobs by their pool, state, repository labels', async () => {
    expect((await cli(['get', 'runners', '-l', 'pool=seed', '-o', 'name'])).out).toBe(
      'runner/rctl-seed-a\n',
    );
    expect((await cli(['get', 'runners', '-l', 'state!=finished', '-o', 'name'])).out).toBe(
      'runner/rctl-linux-b\n',
    );
    expect((await cli(['get', 'jobs', '-l', 'repository=acme/web', '-o', 'name'])).out).toBe(
      'job/41\n',
    );
    expect((await cli(['get', 'jobs', '-l', 'status=completed', '-o', 'name'])).out).toBe('');
  });

  it('a bad selector, or names with a selector, is a usage error', async () => {
    const bad = await cli(['get', 'pools', '-l', 'team=(x']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('bad selector "team=(x"');
    expect((await cli(['get', 'pools', '-l', 'a=b,', '-o', 'name'])).code).toBe(2);
    const both = await cli(['get', 'pools', 'seed', '-l', 'team=ci']);
    expect(both.code).toBe(2);
    expect(both.err).toContain('not both');
  });
});

describe('delete -f FILE', () => {
  it('deletes every pool the file names and reports the missing ones (exit 1)', async () => {
    dataDir = join(tmpRoot, 'data-delete');
    await cli(['apply', '-f', 'crds/examples/seed-org-pool.yaml']);
    const listed = await cli(['get', 'pools', '-o', 'yaml']);
    const file = join(tmpRoot, 'pools.yaml');
    writeFileSync(file, listed.out);
    const gone = await cli(['delete', '-f', file, '--force']);
    expect(gone).toMatchObject({ code: 0, out: 'runnerpool/seed deleted (forced)\n' });
    expect((await cli(['get', 'pools', '-o', 'name'])).out).toBe('');

    await cli(['apply', '-f', 'crds/examples/sized-pool.yaml']);
    const some = await cli(['delete', '-f', 'crds/examples']);
    expect(some.code).toBe(1);
    expect(some.out).toBe(
      'runnerpool/linux-x64 marked for deletion; the controller will drain its runners, then remove it\n',
    );
    expect(some.err).toContain('error: runnerpool "seed" not found\n');
    expect(some.err).toContain('error: runnerpool "docker" not found\n');
  });

  it('names or -f, not both and not neither', async () => {
    expect((await cli(['delete', 'pool', 'seed', '-f', 'crds/examples'])).code).toBe(2);
    expect((await cli(['delete', 'pool'])).err).toContain("missing required argument 'names'");
    expect((await cli(['delete', '-f', 'no-such-file.yaml'])).err).toContain(
      'no-such-file.yaml: cannot read: no such file or directory',
    );
  });
});
