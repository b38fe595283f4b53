// Opens the Store the CLI and the controller use: the embedded local engine, or DynamoDB.

import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';

import { awsClientSettings } from '../util/aws-client.ts';
import type { Clock } from '../util/clock.ts';
import { DynamoStore, type RetentionOptions } from './dynamo-store.ts';
import { DEFAULT_TABLE_NAME } from './layout.ts';
import { requireTable } from './table.ts';
import type { Store } from './types.ts';

interface CommonStoreOptions {
  clock?: Clock;
  /** Query page size; tests use a small one to exercise pagination. */
  pageSize?: number;
  retention?: RetentionOptions;
  /**
   * With table creation off: check that the table exists and fail with TableMissingError when
   * it does not (the CLI, so that a typo never reads an empty store). Off by default: the
   * controller's role may lack DescribeTable.
   */
  requireTable?: boolean;
}

export interface LocalStoreOptions extends CommonStoreOptions {
  kind: 'local';
  /** State lives in `<dataDir>/dynamodb` (LevelDB) and survives restarts. */
  dataDir: string;
  /** Default `runnerctl`. */
  table?: string;
  /** Create the table when missing. Default: true. */
  createTable?: boolean;
}

export interface DynamoDbStoreOptions extends CommonStoreOptions {
  kind: 'dynamodb';
  /** Default `runnerctl`. */
  table?: string;
  /** Default: the AWS SDK's region chain (AWS_REGION, profile). */
  region?: string;
  /** e.g. DynamoDB Local's `http://127.0.0.1:8000`. */
  endpoint?: string;
  /** Default: the AWS SDK's default credential chain. */
  credentials?: DynamoDBClientConfig['credentials'];
  /**
   * Create the table (with its index and TTL) when missing. Default: true with `endpoint`
   * (DynamoDB Local), false otherwise (the deployment stack owns the real table).
   */
  createTable?: boolean;
}

export type StoreOptions = LocalStoreOptions | DynamoDbStoreOptions;

/** Region the local engines report; any value works, one is required by the SDK. */
const LOCAL_REGION = 'us-east-1';

export async function openStore(opts: StoreOptions): Promise<Store> {
  const common = { clock: opts.clock, pageSize: opts.pageSize, retention: opts.retention };
  const table = opts.table ?? DEFAULT_TABLE_NAME;

  if (opts.kind === 'local') {
    // Loaded only here: dynalite is a development dependency, absent from the controller image.
    const { startLocalEngine } = await import('./local-engine.ts');
    const engine = await startLocalEngine(opts.dataDir);
    const client = new DynamoDBClient({
      endpoint: engine.endpoint,
      region: LOCAL_REGION,
      // dynalite checks that a signature is present, not what it signs.
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const store = new DynamoStore({ ...common, client, table, onClose: () => engine.close() });
    try {
      if (opts.createTable === false) await requireTable(client, table);
      else await store.ensureTable();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  const region =
    opts.region ?? (opts.endpoint ? (process.env.AWS_REGION ?? LOCAL_REGION) : undefined);
  const client = new DynamoDBClient({
    ...awsClientSettings(),
    ...(region ? { region } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
  });
  const store = new DynamoStore({ ...common, client, table });
  const create = opts.createTable ?? opts.endpoint !== undefined;
  if (create || opts.requireTable) {
    try {
      if (create) await store.ensureTable();
      else await requireTable(client, table);
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  return store;
}
