// `get -w`: the table, then one line per change read from the store, until interrupted.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../controller/cli/run.ts';
import { openStore } from '../../../controller/store/factory.ts';
import type { Store } from '../../../controller/store/types.ts';
import { validatePoolYaml } from '../../../controller/api/validate.ts';
import { until } from '../../e2e/helpers.ts';

const ROOT = join(import.meta.dirname, '../../..');
const dataDir = mkdtempSync(join(tmpdir(), 'runnerctl-watch-'));
let store: Store;

beforeAll(async () => {
  store = await openStore({ kind: 'local', dataDir, createTable: true });
});
afterAll(async () => {
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The store with a close() that leaves it open. */
function shared(target: Store): Store {
  return new Proxy(target, {
    get(t, key) {
      if (key === 'close') return async () => {};
      const value = Reflect.get(t, key, t) as unknown;
      return typeof value === 'function' ? value.bind(t) : value;
    },
  });
}

/** Starts the CLI on the test's store (kept open: the watch and the test share it). */
function start(argv: string[]) {
  const io = { out: '', err: '' };
  const interrupt = new AbortController();
  const done = run(
    argv,
    {
      stdout: { write: (s: string) => (io.out += s) },
      stderr: { write: (s: string) => (io.err += s) },
      stdin: Readable.from([]),
      env: { RUNNERCTL_DATA_DIR: dataDir },
      cwd: ROOT,
    },
    { openStore: async () => shared(store), signal: interrupt.signal },
  );
  return { io, done, stop: () => interrupt.abort() };
}

const pool = (file: string) =>
  validatePoolYaml(readFileSync(join(ROOT, 'crds/examples', file), 'utf8'))[0]!.pool;

describe('get -w', () => {
  it('prints the table, then a row per change and a line per removal, until interrupted', async () => {
    await store.applyPool(pool('seed-org-pool.yaml'));
    const w = start(['get', 'pools', '-w', '--poll-interval', '100ms']);
    await until(() => w.io.out.includes('NAME'), 'the table');
    expect(w.io.out.split('\n')[1]).toMatch(/^seed /);

    await store.applyPool(pool('sized-pool.yaml'));
    await until(
      () => /\nlinux-x64 /.test(w.io.out),
      () => `a row for the new pool: ${w.io.out}`,
    );
    const bumped = { ...pool('seed-org-pool.yaml') };
    bumped.spec = { ...bumped.spec, maxRunners: bumped.spec.maxRunners + 1 };
    await store.applyPool(bumped);
    await until(
      () => w.io.out.split('\n').filter((l) => l.startsWith('seed ')).length === 2,
      () => `a second row for seed: ${w.io.out}`,
    );
    const seedRows = w.io.out.split('\n').filter((l) => l.startsWith('seed '));
    expect(seedRows[1]).toContain(` ${bumped.spec.maxRunners} `);

    const record = await store.requestPoolDeletion('linux-x64');
    await store.removePool('linux-x64', record.resourceVersion);
    await until(() => w.io.out.includes('runnerpool/linux-x64 removed\n'), 'the removal line');

    w.stop();
    expect(await w.done).toBe(0);
    // Unchanged objects are not printed again.
    expect(w.io.out.split('\n').filter((l) => l.startsWith('linux-x64 '))).toHaveLength(1);
  });

  it('watches runners with -o name; -o yaml cannot be watched', async () => {
    const runner = (name: string) =>
      store.createRunner({
        name,
        pool: 'seed',
        state: 'pending',
        labels: ['self-hosted'],
        attempts: 0,
        createdAt: new Date().toISOString(),
        timeline: [],
      });
    await runner('rctl-seed-v');
    const w = start(['get', 'runners', '-w', '-o', 'name', '--poll-interval', '100ms']);
    await until(
      () => w.io.out === 'runner/rctl-seed-v\n',
      () => `the listing: ${w.io.out}`,
    );
    await runner('rctl-seed-w');
    await until(
      () => w.io.out.includes('runner/rctl-seed-w\n'),
      () => `the runner: ${w.io.out}`,
    );
    w.stop();
    expect(await w.done).toBe(0);

    const yaml = start(['get', 'pools', '-w', '-o', 'yaml']);
    expect(await yaml.done).toBe(2);
    expect(yaml.io.err).toContain('--watch prints table rows');
  });
});
