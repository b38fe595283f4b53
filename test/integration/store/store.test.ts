// The store suite: every behaviour of the DynamoDB store, run against two engines that are not
// ours (dynalite in-process and Amazon's DynamoDB Local). Each test gets its own table.

import {
  DescribeTimeToLiveCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import type { ObjectMeta, RunnerPool, RunnerPoolSpec } from '../../../controller/api/types.ts';
import { DynamoStore, MAX_TIMELINE_ENTRIES } from '../../../controller/store/dynamo-store.ts';
import {
  ConflictError,
  FencingError,
  NotFoundError,
  StoreError,
} from '../../../controller/store/errors.ts';
import { openStore } from '../../../controller/store/factory.ts';
import type { JobRecord, JobStatus, RunnerRecord } from '../../../controller/store/types.ts';
import {
  ENGINE_CREDENTIALS,
  ENGINES,
  engineClient,
  type DynamoEngine,
} from '../../support/dynamodb-engines.ts';
import { manualClock, type ManualClock } from '../../support/manual-clock.ts';

function poolDoc(
  name: string,
  spec: Partial<RunnerPoolSpec> = {},
  metadata: Partial<ObjectMeta> = {},
): RunnerPool {
  return {
    apiVersion: 'runnerctl.dev/v1alpha1',
    kind: 'RunnerPool',
    metadata: { name, ...metadata },
    spec: {
      github: { scope: 'org', organization: 'acme' },
      labels: ['self-hosted', 'linux'],
      maxRunners: 5,
      ecs: { cluster: 'runners', taskDefinition: 'runner:1', subnets: ['subnet-1'] },
      ...spec,
    },
  };
}

const STATUS = {
  observedGeneration: 1,
  conditions: [],
  queuedJobs: 0,
  launching: 0,
  idle: 0,
  busy: 0,
};

function job(id: number, status: JobStatus, extra: Partial<JobRecord> = {}) {
  return {
    id,
    runId: 1000 + id,
    runAttempt: 1,
    repository: 'acme/app',
    owner: 'acme',
    labels: ['self-hosted', 'linux'],
    status,
    createdAt: '2026-01-01T00:00:00.000Z',
    ...extra,
  };
}

function runner(
  name: string,
  pool = 'linux',
  extra: Partial<RunnerRecord> = {},
): Omit<RunnerRecord, 'version' | 'updatedAt'> {
  return {
    name,
    pool,
    state: 'pending',
    labels: ['self-hosted', 'linux'],
    attempts: 0,
    createdAt: '2026-01-01T00:00:00.000Z',
    timeline: [{ at: '2026-01-01T00:00:00.000Z', event: 'created' }],
    ...extra,
  };
}

describe.each(ENGINES)('store on $name', (factory) => {
  let engine: DynamoEngine;
  let client: DynamoDBClient;
  let clock: ManualClock;
  let tables = 0;

  beforeAll(async () => {
    const started = Date.now();
    engine = await factory.start();
    client = engineClient(engine);
    // The default reporter hides passing describe titles: say which engine this run covers.
    console.info(
      `[store suite] engine ${engine.name} at ${engine.endpoint}, started in ${Date.now() - started} ms`,
    );
  });

  afterAll(async () => {
    client?.destroy();
    await engine?.stop();
  });

  /** A store on a table of its own (stores share the suite's client, closed in afterAll). */
  async function freshStore(opts: { pageSize?: number } = {}): Promise<DynamoStore> {
    clock = manualClock();
    const table = `runnerctl-test-${++tables}`;
    const store = new DynamoStore({ client, table, clock, ...opts });
    await store.ensureTable();
    return store;
  }

  test(`runs on ${factory.name}`, () => {
    expect(engine.name).toBe(factory.name);
    expect(engine.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  describe('table', () => {
    test('ensureTable is idempotent and the table has the index and (where supported) TTL', async () => {
      const store = await freshStore();
      await store.ensureTable();
      await store.applyPool(poolDoc('a'));
      expect((await store.listPools()).map((p) => p.name)).toEqual(['a']);
      const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: store.table }));
      const status = ttl.TimeToLiveDescription?.TimeToLiveStatus;
      if (engine.supportsTtl) {
        expect(status).toBe('ENABLED');
        expect(ttl.TimeToLiveDescription?.AttributeName).toBe('expiresAt');
      } else {
        expect(status).toBe('DISABLED');
      }
    });

    test('a missing table is a StoreError naming it', async () => {
      const store = new DynamoStore({ client, table: 'no-such-table' });
      const err = await store.getPool('a').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect(String(err)).toContain('"no-such-table" does not exist');
    });
  });

  describe('pools', () => {
    test('apply: created, unchanged (no bump), configured (generation and resourceVersion)', async () => {
      const store = await freshStore();
      const created = await store.applyPool(poolDoc('linux'));
      expect(created.result).toBe('created');
      expect(created.record).toMatchObject({ name: 'linux', generation: 1, resourceVersion: 1 });

      const again = await store.applyPool(poolDoc('linux'));
      expect(again.result).toBe('unchanged');
      expect(again.record).toMatchObject({ generation: 1, resourceVersion: 1 });

      const changed = await store.applyPool(poolDoc('linux', { maxRunners: 9 }));
      expect(changed.result).toBe('configured');
      expect(changed.record).toMatchObject({ generation: 2, resourceVersion: 2 });
      expect(changed.record.spec.maxRunners).toBe(9);

      const labelled = await store.applyPool(
        poolDoc('linux', { maxRunners: 9 }, { labels: { team: 'ci' } }),
      );
      expect(labelled.result).toBe('configured');
      expect(labelled.record).toMatchObject({ generation: 3, resourceVersion: 3 });

      const stored = await store.getPool('linux');
      expect(stored).toEqual(labelled.record);
      expect(stored?.createdAt).toBe(created.record.createdAt);
    });

    test('apply compares documents, not key order or absent optional fields', async () => {
      const store = await freshStore();
      await store.applyPool(poolDoc('linux', { minIdle: 1 }));
      const reordered = poolDoc('linux', { minIdle: 1 });
      reordered.spec = Object.fromEntries(
        Object.entries(reordered.spec).reverse(),
      ) as unknown as RunnerPoolSpec;
      reordered.spec.priority = undefined;
      expect((await store.applyPool(reordered)).result).toBe('unchanged');
      expect((await store.getPool('linux'))?.resourceVersion).toBe(1);
    });

    test('status writes bump resourceVersion only; apply keeps the status', async () => {
      const store = await freshStore();
      await store.applyPool(poolDoc('linux'));
      const withStatus = await store.updatePoolStatus('linux', { ...STATUS, idle: 2 }, 1);
      expect(withStatus).toMatchObject({ generation: 1, resourceVersion: 2 });
      expect(withStatus.status?.idle).toBe(2);

      // The status write does not make the document differ, and does not make apply conflict.
      expect((await store.applyPool(poolDoc('linux'))).result).toBe('unchanged');
      const configured = await store.applyPool(poolDoc('linux', { maxRunners: 7 }));
      expect(configured.record).toMatchObject({ generation: 2, resourceVersion: 3 });
      expect(configured.record.status?.idle).toBe(2);
    });

    test('a stale status write fails with a ConflictError naming the pool and versions', async () => {
      const store = await freshStore();
      await store.applyPool(poolDoc('linux'));
      await store.updatePoolStatus('linux', STATUS, 1);
      const err = await store.updatePoolStatus('linux', STATUS, 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConflictError);
      expect((err as Error).message).toMatch(
        /pool "linux": expected resourceVersion 1, stored resourceVersion is 2/,
      );
      expect((await store.getPool('linux'))?.resourceVersion).toBe(2);
    });

    test('status write on a missing pool is a NotFoundError', async () => {
      const store = await freshStore();
      await expect(store.updatePoolStatus('ghost', STATUS, 1)).rejects.toBeInstanceOf(
        NotFoundError,
      );
    });

    test('concurrent status writers from one version: exactly one wins', async () => {
      const store = await freshStore();
      await store.applyPool(poolDoc('linux'));
      const results = await Promise.allSettled(
        [1, 2, 3, 4, 5].map((idle) => store.updatePoolStatus('linux', { ...STATUS, idle }, 1)),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(4);
      for (const r of lost)
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
      const stored = await store.getPool('linux');
      expect(stored?.resourceVersion).toBe(2);
      expect(stored?.status?.idle).toBe(
        (won[0] as PromiseFulfilledResult<{ status?: { idle: number } }>).value.status?.idle,
      );
    });

    test('concurrent applies: every loser gets a ConflictError, the stored pool is a winner', async () => {
      const store = await freshStore();
      const specs = [11, 12, 13, 14, 15, 16];
      const results = await Promise.allSettled(
        specs.map((maxRunners) => store.applyPool(poolDoc('linux', { maxRunners }))),
      );
      const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
      expect(won.length).toBeGreaterThanOrEqual(1);
      for (const e of lost) expect(e).toBeInstanceOf(ConflictError);
      expect(won.filter((w) => w.result === 'created')).toHaveLength(1);
      const stored = await store.getPool('linux');
      // Every winner bumped the generation exactly once.
      expect(stored?.generation).toBe(won.length);
      const last = won.find((w) => w.record.generation === won.length);
      expect(stored?.spec.maxRunners).toBe(last?.record.spec.maxRunners);
    });

    test('deletion: mark is idempotent, remove needs the mark and the current version', async () => {
      const store = await freshStore();
      await store.applyPool(poolDoc('linux'));
      await store.applyPool(poolDoc('other'));

      await expect(store.removePool('linux', 1)).rejects.toThrow(/not marked for deletion/);

      const marked = await store.requestPoolDeletion('linux');
      expect(marked.deletionRequestedAt).toBeDefined();
      expect(marked.resourceVersion).toBe(2);
      clock.advance(60_000);
      const again = await store.requestPoolDeletion('linux');
      expect(again.deletionRequestedAt).toBe(marked.deletionRequestedAt);
      expect(again.resourceVersion).toBe(2);

      await expect(store.requestPoolDeletion('ghost')).rejects.toBeInstanceOf(NotFoundError);

      const stale = await store.removePool('linux', 1).catch((e: unknown) => e);
      expect(stale).toBeInstanceOf(ConflictError);
      expect(String(stale)).toMatch(/expected resourceVersion 1, stored resourceVersion is 2/);

      await store.removePool('linux', 2);
      expect(await store.getPool('linux')).toBeUndefined();
      expect((await store.listPools()).map((p) => p.name)).toEqual(['other']);
      await expect(store.removePool('linux', 2)).rejects.toBeInstanceOf(NotFoundError);
    });
  });

  describe('jobs', () => {
    test('status never moves backwards under duplicates and late events', async () => {
      const store = await freshStore();
      const first = await store.recordJob(job(1, 'queued'));
      expect(first).toMatchObject({ changed: true, record: { status: 'queued', version: 1 } });
      expect((await store.recordJob(job(1, 'queued'))).changed).toBe(false);

      // Environment gates: queued -> waiting -> queued are all accepted.
      expect((await store.recordJob(job(1, 'waiting'))).record.status).toBe('waiting');
      expect((await store.recordJob(job(1, 'queued'))).record.status).toBe('queued');

      const started = await store.recordJob(
        job(1, 'in_progress', { runnerName: 'rctl-1', runnerId: 7 }),
      );
      expect(started).toMatchObject({ changed: true, record: { status: 'in_progress' } });

      const late = await store.recordJob(job(1, 'queued'));
      expect(late.changed).toBe(false);
      expect(late.record).toMatchObject({ status: 'in_progress', runnerName: 'rctl-1' });

      const done = await store.recordJob(job(1, 'completed', { conclusion: 'success' }));
      expect(done).toMatchObject({ changed: true, record: { status: 'completed' } });
      for (const s of ['queued', 'waiting', 'in_progress'] as const) {
        expect((await store.recordJob(job(1, s))).changed).toBe(false);
      }
      expect(await store.getJob(1)).toMatchObject({
        status: 'completed',
        conclusion: 'success',
        runnerName: 'rctl-1',
        version: done.record.version,
      });
    });

    test('concurrent out-of-order events converge on the furthest status', async () => {
      const store = await freshStore();
      const events = [
        job(2, 'completed', { conclusion: 'failure' }),
        job(2, 'queued'),
        job(2, 'in_progress', { runnerName: 'rctl-9' }),
        job(2, 'waiting'),
        job(2, 'queued'),
        job(2, 'completed', { conclusion: 'failure' }),
        job(2, 'in_progress', { runnerName: 'rctl-9' }),
      ];
      const results = await Promise.all(events.map((e) => store.recordJob(e)));
      const stored = await store.getJob(2);
      expect(stored).toMatchObject({ status: 'completed', conclusion: 'failure' });
      // Each change was one write: the version counts the writes that changed something.
      expect(stored?.version).toBe(results.filter((r) => r.changed).length);
    });

    test('updateJob is conditional on version and cannot move status back', async () => {
      const store = await freshStore();
      const { record } = await store.recordJob(job(3, 'in_progress'));
      const bound = await store.updateJob({ ...record, pool: 'linux' });
      expect(bound).toMatchObject({ pool: 'linux', version: 2 });

      const stale = await store.updateJob({ ...record, pool: 'other' }).catch((e: unknown) => e);
      expect(stale).toBeInstanceOf(ConflictError);
      expect(String(stale)).toMatch(/job 3: expected version 1, stored version is 2/);

      const back = await store.updateJob({ ...bound, status: 'queued' }).catch((e: unknown) => e);
      expect(back).toBeInstanceOf(ConflictError);
      expect(String(back)).toMatch(/may not move back from "in_progress" to "queued"/);

      // recordJob keeps what updateJob set.
      const done = await store.recordJob(job(3, 'completed'));
      expect(done.record).toMatchObject({ status: 'completed', pool: 'linux' });
    });

    test('listJobs filters by status and pool', async () => {
      const store = await freshStore();
      await store.recordJob(job(10, 'queued', { pool: 'linux' }));
      await store.recordJob(job(11, 'waiting', { pool: 'linux' }));
      await store.recordJob(job(12, 'queued', { pool: 'gpu' }));
      await store.recordJob(job(13, 'in_progress', { pool: 'linux' }));
      await store.recordJob(job(14, 'completed'));
      const ids = (jobs: JobRecord[]) => jobs.map((j) => j.id).sort((a, b) => a - b);

      expect(ids(await store.listJobs())).toEqual([10, 11, 12, 13, 14]);
      expect(ids(await store.listJobs({ status: ['queued', 'waiting'] }))).toEqual([10, 11, 12]);
      expect(ids(await store.listJobs({ status: ['queued'], pool: 'linux' }))).toEqual([10]);
      expect(ids(await store.listJobs({ pool: 'linux' }))).toEqual([10, 11, 13]);
      expect(ids(await store.listJobs({ status: ['completed'] }))).toEqual([14]);

      // A status change moves the job between listings.
      await store.recordJob(job(10, 'in_progress', { pool: 'linux' }));
      expect(ids(await store.listJobs({ status: ['queued'] }))).toEqual([12]);
    });
  });

  describe('runners', () => {
    test('create is attribute_not_exists; update and delete are conditional on version', async () => {
      const store = await freshStore();
      const created = await store.createRunner(runner('rctl-a'));
      expect(created).toMatchObject({ name: 'rctl-a', version: 1, state: 'pending' });

      const dup = await store.createRunner(runner('rctl-a')).catch((e: unknown) => e);
      expect(dup).toBeInstanceOf(ConflictError);
      expect(String(dup)).toMatch(/runner "rctl-a" already exists \(stored version 1\)/);

      const launching = await store.updateRunner({
        ...created,
        state: 'launching',
        taskArn: 'arn:task/1',
      });
      expect(launching).toMatchObject({ version: 2, state: 'launching', taskArn: 'arn:task/1' });

      const stale = await store
        .updateRunner({ ...created, state: 'idle' })
        .catch((e: unknown) => e);
      expect(stale).toBeInstanceOf(ConflictError);
      expect(String(stale)).toMatch(/runner "rctl-a": expected version 1, stored version is 2/);

      // Absent optional fields are removed, not kept from the stored item.
      const relaunched = await store.updateRunner({ ...launching, taskArn: undefined });
      expect(relaunched.taskArn).toBeUndefined();
      expect((await store.getRunner('rctl-a'))?.taskArn).toBeUndefined();

      await expect(store.deleteRunner('rctl-a', 2)).rejects.toBeInstanceOf(ConflictError);
      await store.deleteRunner('rctl-a', 3);
      expect(await store.getRunner('rctl-a')).toBeUndefined();
      await expect(store.deleteRunner('rctl-a', 3)).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.updateRunner({ ...relaunched, state: 'idle' })).rejects.toBeInstanceOf(
        NotFoundError,
      );
    });

    test('finished runners get a TTL; timelines keep the latest entries', async () => {
      const store = await freshStore();
      const created = await store.createRunner(runner('rctl-b'));
      expect(created.expiresAt).toBeUndefined();
      const timeline = Array.from({ length: MAX_TIMELINE_ENTRIES + 20 }, (_, i) => ({
        at: new Date(clock.now() + i).toISOString(),
        event: `e${i}`,
      }));
      const finished = await store.updateRunner({ ...created, state: 'finished', timeline });
      expect(finished.expiresAt).toBe(Math.floor(clock.now() / 1000) + 7 * 24 * 3600);
      expect(finished.timeline).toHaveLength(MAX_TIMELINE_ENTRIES);
      expect(finished.timeline.at(-1)?.event).toBe(`e${MAX_TIMELINE_ENTRIES + 19}`);
    });

    test('listRunners filters by pool, by states and by both', async () => {
      const store = await freshStore();
      await store.createRunner(runner('r1', 'linux', { state: 'idle' }));
      await store.createRunner(runner('r2', 'linux', { state: 'busy' }));
      await store.createRunner(runner('r3', 'linux', { state: 'launching' }));
      await store.createRunner(runner('r4', 'gpu', { state: 'idle' }));
      await store.createRunner(runner('r5', 'linux-arm', { state: 'idle' }));
      const names = (rs: RunnerRecord[]) => rs.map((r) => r.name).sort();

      expect(names(await store.listRunners())).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
      // "linux" is not a prefix match for "linux-arm".
      expect(names(await store.listRunners({ pool: 'linux' }))).toEqual(['r1', 'r2', 'r3']);
      expect(names(await store.listRunners({ states: ['idle'] }))).toEqual(['r1', 'r4', 'r5']);
      expect(
        names(await store.listRunners({ pool: 'linux', states: ['idle', 'launching'] })),
      ).toEqual(['r1', 'r3']);
      expect(await store.listRunners({ pool: 'linux', states: [] })).toEqual([]);
      expect(await store.listRunners({ states: [] })).toEqual([]);

      // A state change moves the runner between listings.
      const r1 = await store.getRunner('r1');
      await store.updateRunner({ ...(r1 as RunnerRecord), state: 'busy' });
      expect(names(await store.listRunners({ pool: 'linux', states: ['busy'] }))).toEqual([
        'r1',
        'r2',
      ]);
    });

    test('finished records leave the live partition: a live listing never reads history', async () => {
      const store = await freshStore();
      const partitionOf = async (partition: string) => {
        const out = await client.send(
          new QueryCommand({
            TableName: store.table,
            IndexName: 'gsi1',
            KeyConditionExpression: 'gsi1pk = :p',
            ExpressionAttributeValues: marshall({ ':p': partition }),
          }),
        );
        return (out.Items ?? []).map((i) => String(i.name?.S)).sort();
      };
      const live = await store.createRunner(runner('r1', 'linux', { state: 'idle' }));
      const done = await store.createRunner(runner('r2', 'linux', { state: 'busy' }));
      const spot = await store.createRunner(runner('r3', 'linux', { state: 'busy' }));
      await store.updateRunner({ ...done, state: 'finished' });
      const interrupted = await store.updateRunner({
        ...spot,
        state: 'finished',
        spotInterruption: { at: '2026-01-01T00:01:00.000Z' },
      });
      const names = (rs: RunnerRecord[]) => rs.map((r) => r.name).sort();

      // The one awaiting its spot re-run decision stays live until the decision is written.
      expect(await partitionOf('RUNNERS')).toEqual(['r1', 'r3']);
      expect(await partitionOf('RUNNERS_FINISHED')).toEqual(['r2']);
      expect(names(await store.listRunners({ live: true }))).toEqual(['r1', 'r3']);
      expect(names(await store.listRunners({ pool: 'linux', live: true }))).toEqual(['r1', 'r3']);
      expect(names(await store.listRunners({ states: ['idle', 'busy'] }))).toEqual(['r1']);
      // History is still there for the tools that show it.
      expect(names(await store.listRunners())).toEqual(['r1', 'r2', 'r3']);
      expect(names(await store.listRunners({ states: ['finished'] }))).toEqual(['r2', 'r3']);

      await store.updateRunner({
        ...interrupted,
        spotInterruption: { ...interrupted.spotInterruption!, handled: 'rerun requested' },
      });
      await store.updateRunner({ ...live, state: 'busy' });
      expect(await partitionOf('RUNNERS')).toEqual(['r1']);
      expect(await partitionOf('RUNNERS_FINISHED')).toEqual(['r2', 'r3']);
      expect(names(await store.listRunners({ live: true }))).toEqual(['r1']);
    });
  });

  describe('fencing', () => {
    test('a deposed writer cannot overwrite what the new lease holder wrote', async () => {
      const store = await freshStore();
      const created = await store.createRunner(runner('rctl-f'), { fence: 1 });
      // The new holder (lease version 2) writes.
      const v2 = await store.updateRunner({ ...created, state: 'launching' }, { fence: 2 });

      // The old holder, even with the current version in hand, is refused.
      const refused = await store
        .updateRunner({ ...v2, state: 'draining' }, { fence: 1 })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(FencingError);
      expect(String(refused)).toMatch(/runner "rctl-f".*lease version 2.*this writer's 1/);
      await expect(store.deleteRunner('rctl-f', v2.version, { fence: 1 })).rejects.toBeInstanceOf(
        FencingError,
      );

      // An unfenced write (e.g. the CLI) keeps the fence in place.
      const v3 = await store.updateRunner({ ...v2, lastError: 'x' });
      await expect(
        store.updateRunner({ ...v3, state: 'idle' }, { fence: 1 }),
      ).rejects.toBeInstanceOf(FencingError);

      // The current and newer holders write; then the older one is refused again.
      const v4 = await store.updateRunner({ ...v3, state: 'idle' }, { fence: 2 });
      const v5 = await store.updateRunner({ ...v4, state: 'busy' }, { fence: 3 });
      await expect(
        store.updateRunner({ ...v5, state: 'draining' }, { fence: 2 }),
      ).rejects.toBeInstanceOf(FencingError);
      expect((await store.getRunner('rctl-f'))?.state).toBe('busy');
      await store.deleteRunner('rctl-f', v5.version, { fence: 3 });
      expect(await store.getRunner('rctl-f')).toBeUndefined();
    });

    test('fencing guards pool status, pool removal and job updates', async () => {
      const store = await freshStore();
      await store.applyPool(poolDoc('linux'));
      await store.updatePoolStatus('linux', STATUS, 1, { fence: 5 });
      await expect(store.updatePoolStatus('linux', STATUS, 2, { fence: 4 })).rejects.toBeInstanceOf(
        FencingError,
      );
      const marked = await store.requestPoolDeletion('linux');
      await expect(
        store.removePool('linux', marked.resourceVersion, { fence: 4 }),
      ).rejects.toBeInstanceOf(FencingError);
      await store.removePool('linux', marked.resourceVersion, { fence: 5 });

      const { record } = await store.recordJob(job(20, 'queued'));
      const bound = await store.updateJob({ ...record, pool: 'linux' }, { fence: 5 });
      await expect(store.updateJob({ ...bound, pool: 'gpu' }, { fence: 4 })).rejects.toBeInstanceOf(
        FencingError,
      );
      // Events (unfenced) still move the job forward.
      expect((await store.recordJob(job(20, 'in_progress'))).record).toMatchObject({
        status: 'in_progress',
        pool: 'linux',
      });
    });
  });

  describe('leases', () => {
    test('acquire, renew, expire and steal; leaseVersion increments when the holder changes', async () => {
      const store = await freshStore();
      const t0 = 1_000_000;
      const a1 = await store.tryAcquire('controller', 'a', 10_000, t0);
      expect(a1).toMatchObject({ holder: 'a', leaseVersion: 1, expiresAtMs: t0 + 10_000 });

      expect(await store.tryAcquire('controller', 'b', 10_000, t0 + 5_000)).toBeUndefined();

      const renewed = await store.tryAcquire('controller', 'a', 10_000, t0 + 5_000);
      expect(renewed).toMatchObject({ holder: 'a', leaseVersion: 1, expiresAtMs: t0 + 15_000 });

      // Before the renewed expiry b still cannot take it; after, it can.
      expect(await store.tryAcquire('controller', 'b', 10_000, t0 + 14_999)).toBeUndefined();
      const stolen = await store.tryAcquire('controller', 'b', 10_000, t0 + 15_000);
      expect(stolen).toMatchObject({ holder: 'b', leaseVersion: 2 });

      // The deposed holder can neither renew nor release it.
      expect(await store.tryAcquire('controller', 'a', 10_000, t0 + 16_000)).toBeUndefined();
      await store.release('controller', 'a');
      expect(await store.getLease('controller')).toMatchObject({ holder: 'b', leaseVersion: 2 });

      // Released leases are free at once.
      await store.release('controller', 'b');
      const back = await store.tryAcquire('controller', 'a', 10_000, t0 + 16_000);
      expect(back).toMatchObject({ holder: 'a', leaseVersion: 3 });

      // A holder renewing after its own expiry (nobody took it) keeps its lease version.
      const late = await store.tryAcquire('controller', 'a', 10_000, t0 + 60_000);
      expect(late).toMatchObject({ holder: 'a', leaseVersion: 3 });
    });

    test('concurrent contenders for a free lease: exactly one gets it', async () => {
      const store = await freshStore();
      const results = await Promise.all(
        ['a', 'b', 'c', 'd', 'e'].map((h) => store.tryAcquire('race', h, 10_000, 1_000)),
      );
      const winners = results.filter((r) => r !== undefined);
      expect(winners).toHaveLength(1);
      expect(await store.getLease('race')).toMatchObject({
        holder: winners[0]?.holder,
        leaseVersion: 1,
      });
    });
  });

  describe('events and repositories', () => {
    test('markSeen: true once per key until its TTL passes', async () => {
      const store = await freshStore();
      const key = 'job:1:attempt:1:queued';
      expect(await store.markSeen(key, 3600)).toBe(true);
      expect(await store.markSeen(key, 3600)).toBe(false);
      expect(await store.markSeen('job:1:attempt:1:in_progress', 3600)).toBe(true);
      clock.advance(3_599_000);
      expect(await store.markSeen(key, 3600)).toBe(false);
      clock.advance(1_000);
      expect(await store.markSeen(key, 3600)).toBe(true);

      const results = await Promise.all(
        Array.from({ length: 8 }, () => store.markSeen('concurrent', 60)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    test('repositories: one per name (case-insensitive), lastSeenAt only moves forward', async () => {
      const store = await freshStore();
      await store.touchRepository('acme/app', '2026-01-01T00:00:02.000Z');
      await store.touchRepository('acme/lib', '2026-01-01T00:00:01.000Z');
      await store.touchRepository('Acme/App', '2026-01-01T00:00:01.000Z');
      expect(await store.listRepositories()).toEqual([
        { fullName: 'acme/app', lastSeenAt: '2026-01-01T00:00:02.000Z' },
        { fullName: 'acme/lib', lastSeenAt: '2026-01-01T00:00:01.000Z' },
      ]);
      await store.touchRepository('Acme/App', '2026-01-01T00:00:03.000Z');
      expect((await store.listRepositories())[0]).toEqual({
        fullName: 'Acme/App',
        lastSeenAt: '2026-01-01T00:00:03.000Z',
      });
    });

    test('repositories carry a TTL from when they were last seen; expired ones are not listed', async () => {
      const store = await freshStore();
      const seen = new Date(clock.now()).toISOString();
      await store.touchRepository('acme/quiet', seen);
      clock.advance(10 * 24 * 3600_000);
      await store.touchRepository('acme/busy', new Date(clock.now()).toISOString());
      const item = await client.send(
        new GetItemCommand({
          TableName: store.table,
          Key: marshall({ pk: 'REPO#acme/quiet', sk: 'REPO' }),
        }),
      );
      expect(item.Item && unmarshall(item.Item).expiresAt).toBe(
        Math.floor(Date.parse(seen) / 1000) + 30 * 24 * 3600,
      );
      clock.advance(25 * 24 * 3600_000);
      expect((await store.listRepositories()).map((r) => r.fullName)).toEqual(['acme/busy']);
    });
  });

  describe('pagination', () => {
    test('listings follow LastEvaluatedKey across many small pages', async () => {
      const store = await freshStore({ pageSize: 4 });
      const names = Array.from({ length: 23 }, (_, i) => `pool-${String(i).padStart(2, '0')}`);
      for (const name of names) await store.applyPool(poolDoc(name));
      expect((await store.listPools()).map((p) => p.name)).toEqual(names);

      for (let id = 1; id <= 17; id++) {
        await store.recordJob(job(id, id % 2 ? 'queued' : 'in_progress', { pool: 'pool-00' }));
      }
      expect(await store.listJobs()).toHaveLength(17);
      expect(await store.listJobs({ status: ['queued'], pool: 'pool-00' })).toHaveLength(9);

      for (let i = 0; i < 13; i++) {
        await store.createRunner(runner(`r${i}`, 'pool-00', { state: i % 3 ? 'idle' : 'busy' }));
      }
      // A filter that drops most items of each page still reaches the end.
      expect(await store.listRunners({ states: ['busy'] })).toHaveLength(5);
      expect(await store.listRunners({ pool: 'pool-00', states: ['idle'] })).toHaveLength(8);

      for (let i = 0; i < 9; i++) await store.touchRepository(`acme/r${i}`, '2026-01-01');
      expect(await store.listRepositories()).toHaveLength(9);
    });

    test('listings span DynamoDB 1 MB pages', async () => {
      const store = await freshStore();
      const big = 'x'.repeat(100 * 1024);
      const count = 14; // about 1.4 MB
      for (let i = 0; i < count; i++) {
        await store.createRunner(runner(`big-${i}`, 'linux', { lastError: big }));
      }
      // The engine really splits this listing into more than one page...
      const page = await client.send(
        new QueryCommand({
          TableName: store.table,
          IndexName: 'gsi1',
          KeyConditionExpression: 'gsi1pk = :p',
          ExpressionAttributeValues: marshall({ ':p': 'RUNNERS' }),
        }),
      );
      expect(page.LastEvaluatedKey).toBeDefined();
      expect(page.Items?.length).toBeLessThan(count);
      // ...and the store follows it to the end.
      const all = await store.listRunners({ pool: 'linux' });
      expect(all).toHaveLength(count);
      expect(all.every((r) => r.lastError?.length === big.length)).toBe(true);
    });
  });

  describe('runner listings while runners change state', () => {
    // A listing may show a runner's previous state, but never leave out a runner that exists:
    // garbage collection takes a GitHub runner or task without a record for an orphan.
    test('a runner that changes state between two pages of a listing is still listed', async () => {
      const store = await freshStore({ pageSize: 2 });
      for (let i = 1; i <= 6; i++) await store.createRunner(runner(`r${i}`, 'linux'));
      const moved = (await store.getRunner('r6'))!;
      // Right after the first page, r6 goes from pending to busy (before "pending" in the index
      // order, were the state part of the sort key: behind the listing's cursor).
      let pages = 0;
      const name = 'change-state-after-first-page';
      client.middlewareStack.add(
        (next, context) => async (args) => {
          const out = await next(args);
          if (context.commandName === 'QueryCommand' && ++pages === 1) {
            await store.updateRunner({ ...moved, state: 'busy' });
          }
          return out;
        },
        { step: 'initialize', name },
      );
      try {
        const listed = await store.listRunners({ pool: 'linux' });
        expect(listed.map((r) => r.name).sort()).toEqual(['r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
      } finally {
        client.middlewareStack.remove(name);
      }
      expect(pages).toBeGreaterThan(1);
      expect(
        (await store.listRunners({ pool: 'linux', states: ['busy'] })).map((r) => r.name),
      ).toEqual(['r6']);
    });

    test('a runner is in every listing taken while its state changes', async () => {
      const store = await freshStore();
      for (let i = 1; i <= 4; i++) await store.createRunner(runner(`r${i}`, 'linux'));
      const states = ['configured', 'launching', 'idle', 'busy', 'draining'] as const;
      let changing = true;
      const writer = (async () => {
        try {
          for (let round = 0; round < 8; round++) {
            for (const state of states) {
              const current = (await store.getRunner('r1'))!;
              await store.updateRunner({ ...current, state });
            }
          }
        } finally {
          changing = false;
        }
      })();
      const missing: number[] = [];
      let listings = 0;
      while (changing) {
        const names = (await store.listRunners()).map((r) => r.name);
        if (!names.includes('r1')) missing.push(listings);
        listings++;
      }
      await writer;
      expect(missing, `listings without r1 (of ${listings})`).toEqual([]);
    });
  });

  describe('openStore', () => {
    test('kind dynamodb with an endpoint creates the table and works', async () => {
      const store = await openStore({
        kind: 'dynamodb',
        table: `runnerctl-factory-${++tables}`,
        endpoint: engine.endpoint,
        region: 'us-east-1',
        credentials: ENGINE_CREDENTIALS,
      });
      try {
        expect((await store.applyPool(poolDoc('linux'))).result).toBe('created');
        expect((await store.applyPool(poolDoc('linux'))).result).toBe('unchanged');
      } finally {
        await store.close();
      }
    });

    test('kind dynamodb without createTable does not create the table', async () => {
      const table = `runnerctl-factory-${++tables}`;
      const store = await openStore({
        kind: 'dynamodb',
        table,
        endpoint: engine.endpoint,
        region: 'us-east-1',
        credentials: ENGINE_CREDENTIALS,
        createTable: false,
      });
      try {
        await expect(store.listPools()).rejects.toThrow(`"${table}" does not exist`);
      } finally {
        await store.close();
      }
    });
  });

  test('runner items indexed by an older version (state in the sort key) are still listed', async () => {
    const store = await freshStore();
    const created = await store.createRunner(runner('rctl-old'));
    await client.send(
      new PutItemCommand({
        TableName: store.table,
        Item: marshall({
          ...created,
          pk: 'RUNNER#rctl-old',
          sk: 'RUNNER',
          type: 'runner',
          gsi1pk: 'RUNNERS',
          gsi1sk: 'linux#pending#rctl-old',
        }),
      }),
    );
    const names = (rs: RunnerRecord[]) => rs.map((r) => r.name);
    expect(names(await store.listRunners({ pool: 'linux', states: ['pending'] }))).toEqual([
      'rctl-old',
    ]);
    expect(names(await store.listRunners({ pool: 'linux' }))).toEqual(['rctl-old']);
    // The next write moves it to the current index key.
    await store.updateRunner({ ...created, state: 'idle' });
    expect(names(await store.listRunners({ pool: 'linux', states: ['idle'] }))).toEqual([
      'rctl-old',
    ]);
  });

  test('items written by another version of runnerctl keep their unknown attributes', async () => {
    const store = await freshStore();
    const created = await store.createRunner(runner('rctl-x'));
    await client.send(
      new PutItemCommand({
        TableName: store.table,
        Item: marshall({
          ...created,
          pk: 'RUNNER#rctl-x',
          sk: 'RUNNER',
          gsi1pk: 'RUNNERS',
          gsi1sk: 'linux#pending#rctl-x',
          futureField: 'kept',
        }),
      }),
    );
    await store.updateRunner({ ...created, state: 'idle' });
    const raw = await store.getRunner('rctl-x');
    expect((raw as unknown as Record<string, unknown>).futureField).toBe('kept');
  });
});
