// The Store on DynamoDB (or any engine speaking its API: dynalite, DynamoDB Local).
// Every state change is ONE conditional single-item write; a failed condition is re-read only
// to explain it (ConflictError / FencingError / NotFoundError), never to retry blindly.

import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';

import { mergeJob, newJob } from './job-merge.ts';
import type { RunnerPool, RunnerPoolStatus } from '../api/types.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import { applyResultFor, canonicalJson } from './apply-result.ts';
import { ConflictError, FencingError, NotFoundError, StoreError } from './errors.ts';
import { and, Expression, MARSHALL_OPTIONS } from './expression.ts';
import {
  DEFAULT_TABLE_NAME,
  describeKey,
  eventKey,
  FENCE_ATTRIBUTE,
  GSI1,
  GSI1_PK,
  GSI1_SK,
  JOB_STATUS_RANK,
  jobIndexKey,
  jobKey,
  JOBS_PARTITION,
  jobStatusPrefix,
  LAYOUT_ATTRIBUTES,
  leaseKey,
  PK,
  poolIndexKey,
  poolKey,
  POOLS_PARTITION,
  REPOSITORIES_PARTITION,
  repositoryIndexKey,
  repositoryKey,
  runnerIndexKey,
  runnerKey,
  runnerPoolPrefix,
  RUNNERS_PARTITION,
  FINISHED_RUNNERS_PARTITION,
  TTL_ATTRIBUTE,
  type ItemKey,
} from './layout.ts';
import { ensureTable } from './table.ts';
import type {
  ApplyResult,
  FencedWrite,
  LeaseCall,
  JobRecord,
  JobStatus,
  LeaseRecord,
  PoolRecord,
  RunnerFilter,
  RunnerRecord,
  Store,
} from './types.ts';
import { awaitsSpotDecision } from './types.ts';

type Item = Record<string, unknown>;

export interface RetentionOptions {
  /** Seconds a finished runner record is kept (its TTL). Default 7 days. */
  finishedRunnerSeconds?: number;
  /** Seconds a completed job record is kept after its last write. Default 1 day. */
  completedJobSeconds?: number;
  /** Seconds an open job record is kept after its last write. Default 7 days. */
  openJobSeconds?: number;
  /**
   * Seconds a repository item is kept after it was last seen (an event, discovery, a confirmed
   * job). Default 30 days: a repository quiet that long leaves the resync's list.
   */
  repositorySeconds?: number;
}

export interface DynamoStoreOptions {
  client: DynamoDBClient;
  /** Default `runnerctl`. */
  table?: string;
  clock?: Clock;
  /** Query page size (Limit); default: DynamoDB's own (1 MB pages). */
  pageSize?: number;
  retention?: RetentionOptions;
  /** Runs after the client is destroyed (the local engine stops its server here). */
  onClose?: () => Promise<void>;
}

/** The timeline keeps the most recent entries only, so a record never nears the 400 KB limit. */
export const MAX_TIMELINE_ENTRIES = 100;

const DAY = 24 * 60 * 60;
const JOB_OPTIONAL: (keyof JobRecord)[] = [
  'conclusion',
  'name',
  'workflowName',
  'htmlUrl',
  'visibility',
  'pool',
  'runnerName',
  'runnerId',
  'startedAt',
  'completedAt',
  'spotRerun',
  'spotRerunOf',
  'confirmation',
  'claimedCompletion',
];
const RUNNER_OPTIONAL: (keyof RunnerRecord)[] = [
  'size',
  'cpu',
  'memory',
  'githubRunnerId',
  'taskArn',
  'capacityProvider',
  'jobId',
  'onDemand',
  'spotInterruption',
  'cost',
  'lastError',
  'expiresAt',
];
/** recordJob retries this often when concurrent writers keep winning. */
const RECORD_JOB_ATTEMPTS = 8;

interface WriteContext {
  key: ItemKey;
  intent: 'create' | 'update' | 'delete';
  versionAttribute?: 'version' | 'resourceVersion' | 'generation';
  expectedVersion?: number;
  fence?: number;
  /** A more specific explanation of a failed condition, given the stored item. */
  explain?: (stored: Item | undefined) => StoreError | undefined;
  /** Aborts the write and the read that explains its failure. */
  signal?: AbortSignal;
}

export class DynamoStore implements Store {
  readonly table: string;
  private readonly client: DynamoDBClient;
  private readonly clock: Clock;
  private readonly pageSize: number | undefined;
  private readonly retention: Required<RetentionOptions>;
  private readonly onClose: (() => Promise<void>) | undefined;
  private closed = false;

  constructor(opts: DynamoStoreOptions) {
    this.client = opts.client;
    this.table = opts.table ?? DEFAULT_TABLE_NAME;
    this.clock = opts.clock ?? systemClock;
    this.pageSize = opts.pageSize;
    this.retention = {
      finishedRunnerSeconds: opts.retention?.finishedRunnerSeconds ?? 7 * DAY,
      completedJobSeconds: opts.retention?.completedJobSeconds ?? DAY,
      openJobSeconds: opts.retention?.openJobSeconds ?? 7 * DAY,
      repositorySeconds: opts.retention?.repositorySeconds ?? 30 * DAY,
    };
    this.onClose = opts.onClose;
  }

  async ensureTable(): Promise<void> {
    await ensureTable(this.client, this.table);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
    await this.onClose?.();
  }

  // ---------------------------------------------------------------- pools

  async getPool(name: string): Promise<PoolRecord | undefined> {
    const item = await this.getItem(poolKey(name));
    return item && toPoolRecord(item);
  }

  async listPools(): Promise<PoolRecord[]> {
    return this.queryIndex(POOLS_PARTITION, {}, toPoolRecord);
  }

  async applyPool(pool: RunnerPool): Promise<{ result: ApplyResult; record: PoolRecord }> {
    const name = pool.metadata.name;
    const key = poolKey(name);
    const stored = await this.getPool(name);
    const now = this.nowIso();

    if (!stored) {
      const record: PoolRecord = {
        name,
        metadata: pool.metadata,
        spec: pool.spec,
        generation: 1,
        resourceVersion: 1,
        createdAt: now,
        updatedAt: now,
      };
      const expr = new Expression();
      await this.conditional({ key, intent: 'create', versionAttribute: 'resourceVersion' }, () =>
        this.client.send(
          new PutItemCommand({
            TableName: this.table,
            Item: marshall(
              { ...key, ...poolIndexKey(name), type: 'pool', ...record },
              MARSHALL_OPTIONS,
            ),
            ConditionExpression: `attribute_not_exists(${expr.name(PK)})`,
            ...expr.params(),
          }),
        ),
      );
      return { result: 'created', record };
    }

    if (applyResultFor(stored, pool) === 'unchanged') {
      return { result: 'unchanged', record: stored };
    }

    // Conditioned on the generation the comparison was made against: a concurrent spec change
    // wins and this apply fails, while the controller's status writes (which bump
    // resourceVersion only) never make an apply fail.
    const expr = new Expression();
    const update =
      `SET ${expr.name('metadata')} = ${expr.value(pool.metadata)}, ` +
      `${expr.name('spec')} = ${expr.value(pool.spec)}, ` +
      `${expr.name('updatedAt')} = ${expr.value(now)}, ` +
      `${expr.name('generation')} = ${expr.value(stored.generation + 1)}, ` +
      `${expr.name('resourceVersion')} = ${expr.name('resourceVersion')} + ${expr.value(1)}`;
    const out = await this.conditional(
      {
        key,
        intent: 'update',
        versionAttribute: 'generation',
        expectedVersion: stored.generation,
      },
      () =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: marshall(key),
            UpdateExpression: update,
            ConditionExpression: `${expr.name('generation')} = ${expr.value(stored.generation)}`,
            ReturnValues: 'ALL_NEW',
            ...expr.params(),
          }),
        ),
    );
    return { result: 'configured', record: toPoolRecord(unmarshall(out.Attributes ?? {})) };
  }

  async updatePoolStatus(
    name: string,
    status: RunnerPoolStatus,
    expectedResourceVersion: number,
    opts: FencedWrite = {},
  ): Promise<PoolRecord> {
    const key = poolKey(name);
    const expr = new Expression();
    const sets = [
      `${expr.name('status')} = ${expr.value(status)}`,
      `${expr.name('updatedAt')} = ${expr.value(this.nowIso())}`,
      `${expr.name('resourceVersion')} = ${expr.value(expectedResourceVersion + 1)}`,
    ];
    if (opts.fence !== undefined) {
      sets.push(`${expr.name(FENCE_ATTRIBUTE)} = ${expr.value(opts.fence)}`);
    }
    const out = await this.conditional(
      {
        key,
        intent: 'update',
        versionAttribute: 'resourceVersion',
        expectedVersion: expectedResourceVersion,
        fence: opts.fence,
      },
      () =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: marshall(key),
            UpdateExpression: `SET ${sets.join(', ')}`,
            ConditionExpression: and(
              `${expr.name('resourceVersion')} = ${expr.value(expectedResourceVersion)}`,
              fenceCondition(expr, opts.fence),
            ),
            ReturnValues: 'ALL_NEW',
            ...expr.params(),
          }),
        ),
    );
    return toPoolRecord(unmarshall(out.Attributes ?? {}));
  }

  async requestPoolDeletion(name: string): Promise<PoolRecord> {
    const key = poolKey(name);
    const expr = new Expression();
    try {
      // No read first: the condition alone makes the mark idempotent.
      const out = await this.call(() =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: marshall(key),
            UpdateExpression:
              `SET ${expr.name('deletionRequestedAt')} = ${expr.value(this.nowIso())}, ` +
              `${expr.name('updatedAt')} = ${expr.value(this.nowIso())}, ` +
              `${expr.name('resourceVersion')} = ${expr.name('resourceVersion')} + ${expr.value(1)}`,
            ConditionExpression:
              `attribute_exists(${expr.name(PK)}) AND ` +
              `attribute_not_exists(${expr.name('deletionRequestedAt')})`,
            ReturnValues: 'ALL_NEW',
            ...expr.params(),
          }),
        ),
      );
      return toPoolRecord(unmarshall(out.Attributes ?? {}));
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const stored = await this.getPool(name);
      if (!stored) {
        throw new NotFoundError(`pool "${name}" does not exist`, key.pk, { cause: err });
      }
      return stored;
    }
  }

  async removePool(name: string, expectedResourceVersion: number, opts: FencedWrite = {}) {
    const key = poolKey(name);
    const expr = new Expression();
    await this.conditional(
      {
        key,
        intent: 'delete',
        versionAttribute: 'resourceVersion',
        expectedVersion: expectedResourceVersion,
        fence: opts.fence,
        explain: (stored) =>
          stored && stored.deletionRequestedAt === undefined
            ? new ConflictError(
                `pool "${name}" is not marked for deletion; run \`runnerctl delete pool ${name}\` first`,
                key.pk,
              )
            : undefined,
      },
      () =>
        this.client.send(
          new DeleteItemCommand({
            TableName: this.table,
            Key: marshall(key),
            ConditionExpression: and(
              `${expr.name('resourceVersion')} = ${expr.value(expectedResourceVersion)}`,
              `attribute_exists(${expr.name('deletionRequestedAt')})`,
              fenceCondition(expr, opts.fence),
            ),
            ...expr.params(),
          }),
        ),
    );
  }

  // ---------------------------------------------------------------- jobs

  async getJob(id: number): Promise<JobRecord | undefined> {
    const item = await this.getItem(jobKey(id));
    return item && toJobRecord(item);
  }

  async listJobs(filter: { status?: JobStatus[]; pool?: string } = {}): Promise<JobRecord[]> {
    const poolFilter =
      filter.pool === undefined
        ? undefined
        : (expr: Expression) => `${expr.name('pool')} = ${expr.value(filter.pool)}`;
    if (!filter.status) {
      return this.queryIndex(JOBS_PARTITION, { filter: poolFilter }, toJobRecord);
    }
    const out: JobRecord[] = [];
    for (const status of new Set(filter.status)) {
      const records = await this.queryIndex(
        JOBS_PARTITION,
        { prefix: jobStatusPrefix(status), filter: poolFilter },
        toJobRecord,
      );
      for (const record of records) out.push(record);
    }
    return out;
  }

  async recordJob(
    job: Omit<JobRecord, 'version' | 'updatedAt'>,
  ): Promise<{ changed: boolean; record: JobRecord }> {
    const key = jobKey(job.id);
    for (let attempt = 0; attempt < RECORD_JOB_ATTEMPTS; attempt++) {
      const stored = await this.getJob(job.id);
      try {
        if (!stored) {
          const record: JobRecord = { ...newJob(job), version: 1, updatedAt: this.nowIso() };
          await this.putNew(key, this.jobItem(record));
          return { changed: true, record };
        }
        // A late or duplicate event (the stored status is further along) changes nothing.
        const merged = mergeJob(stored, job);
        if (!merged || canonicalJson(merged) === canonicalJson(stored)) {
          return { changed: false, record: stored };
        }
        const record = await this.replaceVersioned(
          key,
          this.jobItem({ ...merged, version: stored.version + 1, updatedAt: this.nowIso() }),
          JOB_OPTIONAL,
          stored.version,
          {},
          (expr) => `${expr.name('statusRank')} <= ${expr.value(JOB_STATUS_RANK[merged.status])}`,
        );
        return { changed: true, record: toJobRecord(record) };
      } catch (err) {
        // Another writer got in between our read and write: read again and re-decide.
        if (err instanceof ConflictError) continue;
        throw err;
      }
    }
    throw new ConflictError(
      `job ${job.id}: gave up after ${RECORD_JOB_ATTEMPTS} attempts, other writers kept changing it`,
      key.pk,
    );
  }

  async updateJob(job: JobRecord, opts: FencedWrite = {}): Promise<JobRecord> {
    const key = jobKey(job.id);
    const rank = JOB_STATUS_RANK[job.status];
    const item = await this.replaceVersioned(
      key,
      this.jobItem({ ...job, version: job.version + 1, updatedAt: this.nowIso() }),
      JOB_OPTIONAL,
      job.version,
      opts,
      (expr) => `${expr.name('statusRank')} <= ${expr.value(rank)}`,
      (stored) =>
        stored &&
        stored.version === job.version &&
        typeof stored.statusRank === 'number' &&
        stored.statusRank > rank
          ? new ConflictError(
              `job ${job.id}: status may not move back from "${String(stored.status)}" to "${job.status}"`,
              key.pk,
            )
          : undefined,
    );
    return toJobRecord(item);
  }

  // ---------------------------------------------------------------- runners

  async createRunner(
    runner: Omit<RunnerRecord, 'version' | 'updatedAt'>,
    opts: FencedWrite = {},
  ): Promise<RunnerRecord> {
    const record = this.normaliseRunner({ ...runner, version: 1, updatedAt: this.nowIso() });
    await this.putNew(runnerKey(runner.name), this.runnerItem(record), opts.fence);
    return record;
  }

  async getRunner(name: string): Promise<RunnerRecord | undefined> {
    const item = await this.getItem(runnerKey(name));
    return item && toRunnerRecord(item);
  }

  async listRunners(filter: RunnerFilter = {}): Promise<RunnerRecord[]> {
    const { pool, states, live } = filter;
    if (states?.length === 0) return [];
    // States are a filter, not a key range: the index key of a runner never changes (layout.ts).
    const stateFilter = states
      ? (expr: Expression) =>
          `${expr.name('state')} IN (${states.map((s) => expr.value(s)).join(', ')})`
      : undefined;
    const query = {
      prefix: pool === undefined ? undefined : runnerPoolPrefix(pool),
      filter: stateFilter,
    };
    // Each page is converted as it arrives: no listing of raw items is held alongside.
    const records = await this.queryIndex(RUNNERS_PARTITION, query, toRunnerRecord);
    // Finished history only when asked for (a live listing, or live states only, never reads it).
    const wantsFinished = !live && (!states || states.includes('finished'));
    if (!wantsFinished) {
      return live
        ? records.filter((r) => r.state !== 'finished' || awaitsSpotDecision(r))
        : records;
    }
    const finished = await this.queryIndex(FINISHED_RUNNERS_PARTITION, query, toRunnerRecord);
    // A runner finished between the two queries shows in both (its live state, then finished):
    // keep the newer version of each name.
    const newest = new Map<string, RunnerRecord>();
    for (const list of [records, finished]) {
      for (const record of list) {
        const seen = newest.get(record.name);
        if (!seen || record.version > seen.version) newest.set(record.name, record);
      }
    }
    return [...newest.values()];
  }

  async updateRunner(runner: RunnerRecord, opts: FencedWrite = {}): Promise<RunnerRecord> {
    const record = this.normaliseRunner({
      ...runner,
      version: runner.version + 1,
      updatedAt: this.nowIso(),
    });
    const item = await this.replaceVersioned(
      runnerKey(runner.name),
      this.runnerItem(record),
      RUNNER_OPTIONAL,
      runner.version,
      opts,
    );
    return toRunnerRecord(item);
  }

  async deleteRunner(name: string, expectedVersion: number, opts: FencedWrite = {}) {
    const key = runnerKey(name);
    const expr = new Expression();
    await this.conditional(
      {
        key,
        intent: 'delete',
        versionAttribute: 'version',
        expectedVersion,
        fence: opts.fence,
      },
      () =>
        this.client.send(
          new DeleteItemCommand({
            TableName: this.table,
            Key: marshall(key),
            ConditionExpression: and(
              `${expr.name('version')} = ${expr.value(expectedVersion)}`,
              fenceCondition(expr, opts.fence),
            ),
            ...expr.params(),
          }),
        ),
    );
  }

  // ---------------------------------------------------------------- events

  async markSeen(key: string, ttlSeconds: number): Promise<boolean> {
    const nowSeconds = Math.floor(this.clock.now() / 1000);
    const itemKey = eventKey(key);
    const expr = new Expression();
    try {
      await this.call(() =>
        this.client.send(
          new PutItemCommand({
            TableName: this.table,
            Item: marshall({ ...itemKey, type: 'event', [TTL_ATTRIBUTE]: nowSeconds + ttlSeconds }),
            // TTL deletion is lazy (and engines other than DynamoDB never delete): an expired
            // key counts as unseen.
            ConditionExpression:
              `attribute_not_exists(${expr.name(PK)}) OR ` +
              `${expr.name(TTL_ATTRIBUTE)} <= ${expr.value(nowSeconds)}`,
            ...expr.params(),
          }),
        ),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  // ---------------------------------------------------------------- repositories

  async touchRepository(fullName: string, seenAt: string): Promise<void> {
    const key = repositoryKey(fullName);
    const index = repositoryIndexKey(fullName);
    const expr = new Expression();
    try {
      await this.call(() =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: marshall(key),
            UpdateExpression:
              `SET ${expr.name('fullName')} = ${expr.value(fullName)}, ` +
              `${expr.name('lastSeenAt')} = ${expr.value(seenAt)}, ` +
              `${expr.name('type')} = ${expr.value('repository')}, ` +
              `${expr.name(GSI1_PK)} = ${expr.value(index.gsi1pk)}, ` +
              `${expr.name(GSI1_SK)} = ${expr.value(index.gsi1sk)}, ` +
              `${expr.name(TTL_ATTRIBUTE)} = ${expr.value(this.repositoryExpiry(seenAt))}`,
            // Only ever moves lastSeenAt forward, so late events cannot rewind it.
            ConditionExpression:
              `attribute_not_exists(${expr.name('lastSeenAt')}) OR ` +
              `${expr.name('lastSeenAt')} < ${expr.value(seenAt)}`,
            ...expr.params(),
          }),
        ),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  async listRepositories(): Promise<{ fullName: string; lastSeenAt: string }[]> {
    const items = await this.queryIndex(REPOSITORIES_PARTITION);
    // TTL deletion is lazy (dynalite never deletes): an expired item is absent already.
    const nowSeconds = Math.floor(this.clock.now() / 1000);
    return items
      .filter((i) => typeof i[TTL_ATTRIBUTE] !== 'number' || i[TTL_ATTRIBUTE] > nowSeconds)
      .map((i) => ({ fullName: String(i.fullName), lastSeenAt: String(i.lastSeenAt) }));
  }

  /** A repository item expires `repositorySeconds` after it was last seen. */
  private repositoryExpiry(seenAt: string): number {
    const seenMs = Date.parse(seenAt);
    const base = Number.isFinite(seenMs) ? seenMs : this.clock.now();
    return Math.floor(base / 1000) + this.retention.repositorySeconds;
  }

  // ---------------------------------------------------------------- leases

  async getLease(name: string, call: LeaseCall = {}): Promise<LeaseRecord | undefined> {
    const item = await this.getItem(leaseKey(name), call.signal);
    return item && toLeaseRecord(item);
  }

  async tryAcquire(
    name: string,
    holder: string,
    ttlMs: number,
    nowMs: number,
    call: LeaseCall = {},
  ): Promise<LeaseRecord | undefined> {
    const key = leaseKey(name);
    const stored = await this.getLease(name, call);
    let next: LeaseRecord;
    if (!stored) {
      next = { name, holder, leaseVersion: 1, expiresAtMs: nowMs + ttlMs, version: 1 };
    } else if (stored.holder === holder) {
      // Renewal (even after expiry: nobody took it, so nobody wrote with a newer fence).
      next = { ...stored, expiresAtMs: nowMs + ttlMs, version: stored.version + 1 };
    } else if (stored.expiresAtMs <= nowMs) {
      next = {
        name,
        holder,
        leaseVersion: stored.leaseVersion + 1,
        expiresAtMs: nowMs + ttlMs,
        version: stored.version + 1,
      };
    } else {
      return undefined;
    }
    try {
      const signal = call.signal;
      if (!stored) await this.putNew(key, { type: 'lease', ...next }, undefined, signal);
      else {
        await this.replaceVersioned(key, { type: 'lease', ...next }, [], stored.version, {
          signal,
        });
      }
      return next;
    } catch (err) {
      // Another contender wrote first; it holds the lease now.
      if (err instanceof ConflictError || err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  async release(name: string, holder: string, call: LeaseCall = {}): Promise<void> {
    const key = leaseKey(name);
    const expr = new Expression();
    try {
      await this.call(() =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: marshall(key),
            UpdateExpression:
              `SET ${expr.name('expiresAtMs')} = ${expr.value(0)}, ` +
              `${expr.name('version')} = ${expr.name('version')} + ${expr.value(1)}`,
            ConditionExpression: `${expr.name('holder')} = ${expr.value(holder)}`,
            ...expr.params(),
          }),
          { abortSignal: call.signal },
        ),
      );
    } catch (err) {
      // Not ours (any more): nothing to release.
      if (!isConditionFailure(err)) throw err;
    }
  }

  // ---------------------------------------------------------------- items

  private jobItem(record: JobRecord): Item {
    const retention =
      record.status === 'completed'
        ? this.retention.completedJobSeconds
        : this.retention.openJobSeconds;
    return {
      type: 'job',
      ...jobIndexKey(record.status, record.createdAt, record.id),
      statusRank: JOB_STATUS_RANK[record.status],
      ...record,
      [TTL_ATTRIBUTE]: Math.floor(this.clock.now() / 1000) + retention,
    };
  }

  private runnerItem(record: RunnerRecord): Item {
    const live = record.state !== 'finished' || awaitsSpotDecision(record);
    return { type: 'runner', ...runnerIndexKey(record.pool, record.name, live), ...record };
  }

  private normaliseRunner(record: RunnerRecord): RunnerRecord {
    const out: RunnerRecord = { ...record, timeline: record.timeline.slice(-MAX_TIMELINE_ENTRIES) };
    if (out.state === 'finished' && out.expiresAt === undefined) {
      out.expiresAt = Math.floor(this.clock.now() / 1000) + this.retention.finishedRunnerSeconds;
    }
    return out;
  }

  // ---------------------------------------------------------------- DynamoDB

  private nowIso(): string {
    return new Date(this.clock.now()).toISOString();
  }

  private async getItem(key: ItemKey, signal?: AbortSignal): Promise<Item | undefined> {
    const out = await this.call(() =>
      this.client.send(
        new GetItemCommand({ TableName: this.table, Key: marshall(key), ConsistentRead: true }),
        { abortSignal: signal },
      ),
    );
    return out.Item && unmarshall(out.Item);
  }

  /** Writes a new item; ConflictError when the key exists. */
  private async putNew(
    key: ItemKey,
    item: Item,
    fence?: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const expr = new Expression();
    const full = { ...item, ...key, ...(fence === undefined ? {} : { [FENCE_ATTRIBUTE]: fence }) };
    await this.conditional(
      { key, intent: 'create', versionAttribute: 'version', fence, signal },
      () =>
        this.client.send(
          new PutItemCommand({
            TableName: this.table,
            Item: marshall(full, MARSHALL_OPTIONS),
            ConditionExpression: `attribute_not_exists(${expr.name(PK)})`,
            ...expr.params(),
          }),
          { abortSignal: signal },
        ),
    );
  }

  /**
   * Replaces a versioned item in one UpdateItem conditioned on its version (and fence): SETs
   * every present attribute and REMOVEs the optional ones that are absent. UpdateItem rather
   * than PutItem so that an unfenced write keeps the item's fence attribute.
   */
  private async replaceVersioned(
    key: ItemKey,
    item: Item,
    optional: readonly string[],
    expectedVersion: number,
    opts: FencedWrite & { signal?: AbortSignal },
    extraCondition?: (expr: Expression) => string,
    explain?: WriteContext['explain'],
  ): Promise<Item> {
    const expr = new Expression();
    const sets: string[] = [];
    for (const [attribute, value] of Object.entries(item)) {
      if (attribute === 'pk' || attribute === 'sk' || value === undefined) continue;
      sets.push(`${expr.name(attribute)} = ${expr.value(value)}`);
    }
    if (opts.fence !== undefined) {
      sets.push(`${expr.name(FENCE_ATTRIBUTE)} = ${expr.value(opts.fence)}`);
    }
    const removes = optional.filter((a) => item[a] === undefined).map((a) => expr.name(a));
    const update = `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`;
    const condition = and(
      `${expr.name('version')} = ${expr.value(expectedVersion)}`,
      extraCondition?.(expr),
      fenceCondition(expr, opts.fence),
    );
    const out = await this.conditional(
      {
        key,
        intent: 'update',
        versionAttribute: 'version',
        expectedVersion,
        fence: opts.fence,
        explain,
        signal: opts.signal,
      },
      () =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: marshall(key),
            UpdateExpression: update,
            ConditionExpression: condition,
            ReturnValues: 'ALL_NEW',
            ...expr.params(),
          }),
          { abortSignal: opts.signal },
        ),
    );
    return unmarshall(out.Attributes ?? {});
  }

  /** Runs a conditional write and turns a failed condition into the error that explains it. */
  private async conditional<T>(ctx: WriteContext, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (!isConditionFailure(err)) throw this.storeError(err);
      throw await this.explainConflict(ctx, err);
    }
  }

  private async explainConflict(ctx: WriteContext, cause: unknown): Promise<StoreError> {
    const what = describeKey(ctx.key);
    const stored = await this.getItem(ctx.key, ctx.signal);
    const attribute = ctx.versionAttribute ?? 'version';
    const storedVersion = stored?.[attribute];
    const storedFence = stored?.[FENCE_ATTRIBUTE];
    if (ctx.fence !== undefined && typeof storedFence === 'number' && storedFence > ctx.fence) {
      return new FencingError(
        `write to ${what} refused: it was written under lease version ${storedFence}, ` +
          `newer than this writer's ${ctx.fence} (another controller holds the lease)`,
        ctx.key.pk,
        { cause },
      );
    }
    const specific = ctx.explain?.(stored);
    if (specific) return specific;
    if (ctx.intent === 'create') {
      return new ConflictError(
        `${what} already exists (stored ${attribute} ${String(storedVersion)})`,
        ctx.key.pk,
        { cause },
      );
    }
    if (!stored) {
      return new NotFoundError(
        `${what} does not exist (the ${ctx.intent} expected ${attribute} ${ctx.expectedVersion})`,
        ctx.key.pk,
        { cause },
      );
    }
    return new ConflictError(
      `stale ${ctx.intent} of ${what}: expected ${attribute} ${ctx.expectedVersion}, ` +
        `stored ${attribute} is ${String(storedVersion)}; read it again and retry`,
      ctx.key.pk,
      { cause },
    );
  }

  /** Sends one request; failures other than a failed condition become a StoreError. */
  private async call<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      if (isConditionFailure(err)) throw err;
      throw this.storeError(err);
    }
  }

  private storeError(err: unknown): StoreError {
    if (err instanceof StoreError) return err;
    const name = (err as { name?: string })?.name ?? 'Error';
    const message = (err as { message?: string })?.message ?? String(err);
    if (name === 'ResourceNotFoundException') {
      return new StoreError(
        `DynamoDB table "${this.table}" does not exist or is not active (${message}); ` +
          `check --table and --region, or create it (the local store creates it itself)`,
        { cause: err },
      );
    }
    return new StoreError(`DynamoDB request on table "${this.table}" failed: ${name}: ${message}`, {
      cause: err,
    });
  }

  private async queryIndex<T = Item>(
    partition: string,
    opts: { prefix?: string; filter?: (expr: Expression) => string } = {},
    convert: (item: Item) => T = (item) => item as T,
  ): Promise<T[]> {
    const items: T[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const expr = new Expression();
      let keyCondition = `${expr.name(GSI1_PK)} = ${expr.value(partition)}`;
      if (opts.prefix !== undefined) {
        keyCondition += ` AND begins_with(${expr.name(GSI1_SK)}, ${expr.value(opts.prefix)})`;
      }
      const filter = opts.filter?.(expr);
      const out = await this.call(() =>
        this.client.send(
          new QueryCommand({
            TableName: this.table,
            IndexName: GSI1,
            KeyConditionExpression: keyCondition,
            ...(filter ? { FilterExpression: filter } : {}),
            ...(start ? { ExclusiveStartKey: start } : {}),
            ...(this.pageSize ? { Limit: this.pageSize } : {}),
            ...expr.params(),
          }),
        ),
      );
      for (const raw of out.Items ?? []) items.push(convert(unmarshall(raw)));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }
}

function fenceCondition(expr: Expression, fence: number | undefined): string | undefined {
  if (fence === undefined) return undefined;
  const attr = expr.name(FENCE_ATTRIBUTE);
  return `attribute_not_exists(${attr}) OR ${attr} <= ${expr.value(fence)}`;
}

export function isConditionFailure(err: unknown): boolean {
  return (err as { name?: string })?.name === 'ConditionalCheckFailedException';
}

function stripLayout(item: Item, extra: string[] = []): Item {
  const out: Item = {};
  for (const [k, v] of Object.entries(item)) {
    if (!LAYOUT_ATTRIBUTES.includes(k) && !extra.includes(k)) out[k] = v;
  }
  return out;
}

const toPoolRecord = (item: Item) => stripLayout(item) as unknown as PoolRecord;
const toJobRecord = (item: Item) => stripLayout(item, [TTL_ATTRIBUTE]) as unknown as JobRecord;
const toRunnerRecord = (item: Item) => stripLayout(item) as unknown as RunnerRecord;
const toLeaseRecord = (item: Item) => stripLayout(item) as unknown as LeaseRecord;

/** What `apply` compares: the admin's document, not the controller's bookkeeping. */
