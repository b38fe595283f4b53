// `get -o yaml` output applies back unchanged (one pool, a RunnerPoolList, a kind: List), and
// `get pools` never says Ready for a pool whose Degraded condition is true.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { run } from '../../../controller/cli/run.ts';
import { openStore } from '../../../controller/store/factory.ts';

const ROOT = join(import.meta.dirname, '../../..');
const tmpRoot = mkdtempSync(join(tmpdir(), 'runnerctl-rt-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));
let dataDir: string;
let n = 0;
beforeEach(() => {
  dataDir = join(tmpRoot, `data-${++n}`);
});

async function cli(argv: string[], stdin?: string) {
  let out = '';
  let err = '';
  const code = await run(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    stdin: Readable.from(stdin === undefined ? [] : [stdin]),
    env: { RUNNERCTL_DATA_DIR: dataDir },
    cwd: ROOT,
  });
  return { code, out, err };
}

async function setStatus(pool: string, degraded: boolean) {
  const store = await openStore({ kind: 'local', dataDir });
  try {
    const record = (await store.getPool(pool))!;
    const t = new Date().toISOString();
    await store.updatePoolStatus(
      pool,
      {
        observedGeneration: record.generation,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'Reconciled',
            message: 'ok',
            lastTransitionTime: t,
          },
          ...(degraded
            ? [
                {
                  type: 'Degraded',
                  status: 'True' as const,
                  reason: 'SizeRefused',
                  message: 'a job asked for size huge',
                  lastTransitionTime: t,
                },
              ]
            : []),
        ],
        queuedJobs: 0,
        launching: 0,
        idle: 0,
        busy: 0,
      },
      record.resourceVersion,
    );
  } finally {
    await store.close();
  }
}

describe('get -o yaml | apply -f', () => {
  it('one pool, with status and server metadata, applies back unchanged', async () => {
    await cli(['apply', '-f', 'crds/examples']);
    await setStatus('linux-x64', false);
    const yaml = (await cli(['get', 'pool', 'linux-x64', '-o', 'yaml'])).out;
    expect(parse(yaml).metadata).toMatchObject({
      generation: 1,
      resourceVersion: expect.any(String),
    });
    expect(parse(yaml).status).toBeDefined();
    const file = join(tmpRoot, `pool-${n}.yaml`);
    writeFileSync(file, yaml);
    expect(await cli(['apply', '-f', file])).toMatchObject({
      code: 0,
      out: 'runnerpool/linux-x64 unchanged\n',
    });
    // A change made in the saved file is a change.
    writeFileSync(file, yaml.replace('maxRunners: 20', 'maxRunners: 21'));
    expect((await cli(['apply', '-f', file])).out).toBe('runnerpool/linux-x64 configured\n');
  });

  it('a RunnerPoolList and a kind: List apply item by item', async () => {
    await cli(['apply', '-f', 'crds/examples']);
    const list = (await cli(['get', 'pools', '-o', 'yaml'])).out;
    expect(parse(list).kind).toBe('RunnerPoolList');
    expect(await cli(['apply', '-f', '-'], list)).toMatchObject({
      code: 0,
      out: [
        'runnerpool/docker unchanged',
        'runnerpool/jit-fargate-test unchanged',
        'runnerpool/linux-x64 unchanged',
        'runnerpool/seed unchanged',
        '',
      ].join('\n'),
    });
    const generic = stringify({ ...parse(list), apiVersion: 'v1', kind: 'List' });
    expect((await cli(['apply', '-f', '-'], generic)).code).toBe(0);
    // Errors inside a list name the item.
    const broken = parse(list);
    broken.items[1].spec.maxRunners = 'many';
    const bad = await cli(['apply', '-f', '-'], stringify(broken));
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('items[1].spec.maxRunners');
  });
});

describe('get pools STATUS', () => {
  it('shows Degraded/<reason> when Ready is true but Degraded is too', async () => {
    await cli(['apply', '-f', 'crds/examples']);
    await setStatus('linux-x64', true);
    await setStatus('seed', false);
    const out = (await cli(['get', 'pools'])).out;
    expect(out).toMatch(/\nlinux-x64 .* Degraded\/SizeRefused /);
    expect(out).toMatch(/\nseed .* Ready /);
  });
});
