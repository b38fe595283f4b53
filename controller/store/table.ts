// Creates the runnerctl table (keys, GSI1, TTL) when it is missing and waits until it is usable.

import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';

import { StoreError, TableMissingError } from './errors.ts';
import { GSI1, GSI1_PK, GSI1_SK, PK, SK, TTL_ATTRIBUTE } from './layout.ts';

/** How long ensureTable waits for a new table (and its index) to become ACTIVE. */
const ACTIVE_TIMEOUT_MS = 120_000;
const POLL_MS = 100;

const errorName = (err: unknown) => (err as { name?: string })?.name;

async function describe(
  client: DynamoDBClient,
  table: string,
): Promise<TableDescription | undefined> {
  try {
    const out = await client.send(new DescribeTableCommand({ TableName: table }));
    return out.Table;
  } catch (err) {
    if (errorName(err) === 'ResourceNotFoundException') return undefined;
    throw new StoreError(`cannot describe DynamoDB table "${table}": ${String(err)}`, {
      cause: err,
    });
  }
}

function isActive(table: TableDescription | undefined): boolean {
  return (
    table?.TableStatus === 'ACTIVE' &&
    (table.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE')
  );
}

/** Fails with TableMissingError when `table` does not exist; creates nothing. */
export async function requireTable(client: DynamoDBClient, table: string): Promise<void> {
  if (!(await describe(client, table))) {
    throw new TableMissingError(`table "${table}" does not exist`, table);
  }
}

export async function ensureTable(client: DynamoDBClient, table: string): Promise<void> {
  let description = await describe(client, table);
  if (!description) {
    try {
      await client.send(
        new CreateTableCommand({
          TableName: table,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: PK, AttributeType: 'S' },
            { AttributeName: SK, AttributeType: 'S' },
            { AttributeName: GSI1_PK, AttributeType: 'S' },
            { AttributeName: GSI1_SK, AttributeType: 'S' },
          ],
          KeySchema: [
            { AttributeName: PK, KeyType: 'HASH' },
            { AttributeName: SK, KeyType: 'RANGE' },
          ],
          GlobalSecondaryIndexes: [
            {
              IndexName: GSI1,
              KeySchema: [
                { AttributeName: GSI1_PK, KeyType: 'HASH' },
                { AttributeName: GSI1_SK, KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'ALL' },
            },
          ],
        }),
      );
    } catch (err) {
      // Another process created it first: fine, wait for it like for our own.
      if (errorName(err) !== 'ResourceInUseException') {
        throw new StoreError(`cannot create DynamoDB table "${table}": ${String(err)}`, {
          cause: err,
        });
      }
    }
  }

  const deadline = Date.now() + ACTIVE_TIMEOUT_MS;
  while (!isActive(description)) {
    if (Date.now() > deadline) {
      throw new StoreError(
        `DynamoDB table "${table}" is not ACTIVE after ${ACTIVE_TIMEOUT_MS / 1000}s ` +
          `(status ${description?.TableStatus ?? 'missing'})`,
      );
    }
    await sleep(POLL_MS);
    description = await describe(client, table);
  }

  const hasIndex = (description?.GlobalSecondaryIndexes ?? []).some((i) => i.IndexName === GSI1);
  if (!hasIndex) {
    throw new StoreError(
      `DynamoDB table "${table}" exists but has no global secondary index "${GSI1}" ` +
        `(${GSI1_PK}/${GSI1_SK}); it was not created by runnerctl, choose another --table`,
    );
  }

  await ensureTimeToLive(client, table);
}

async function ensureTimeToLive(client: DynamoDBClient, table: string): Promise<void> {
  try {
    const out = await client.send(new DescribeTimeToLiveCommand({ TableName: table }));
    const status = out.TimeToLiveDescription?.TimeToLiveStatus;
    if (status === 'ENABLED' || status === 'ENABLING') return;
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      }),
    );
  } catch (err) {
    // dynalite implements no UpdateTimeToLive (and never expires items): the store treats
    // expired items as absent itself, so TTL is an optimisation there, not a requirement.
    if (errorName(err) === 'UnknownOperationException') return;
    throw new StoreError(`cannot enable TTL on DynamoDB table "${table}": ${String(err)}`, {
      cause: err,
    });
  }
}
