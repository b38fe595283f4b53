// DynamoDB engines that are not ours, for integration tests: dynalite in this process (in
// memory) and Amazon's DynamoDB Local (Java). Both listen on a free loopback port.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import type { AddressInfo } from 'node:net';

import { startDynamoDBLocal } from './dynamodb-local.ts';

export interface DynamoEngine {
  /** Shown in test titles: "dynalite" or "DynamoDB Local". */
  name: string;
  endpoint: string;
  /** Whether the engine implements UpdateTimeToLive (dynalite does not). */
  supportsTtl: boolean;
  stop(): Promise<void>;
}

export interface EngineFactory {
  name: string;
  start(): Promise<DynamoEngine>;
}

export async function startDynalite(): Promise<DynamoEngine> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    name: 'dynalite',
    endpoint: `http://127.0.0.1:${port}`,
    supportsTtl: false,
    stop: () =>
      new Promise<void>((resolve, reject) =>
        server.close((err) => (err ? reject(err) : resolve())),
      ),
  };
}

export const ENGINES: EngineFactory[] = [
  { name: 'dynalite', start: startDynalite },
  { name: 'DynamoDB Local', start: startDynamoDBLocal },
];

/** Engines accept any credentials; DynamoDB Local keeps one database per key and region. */
export const ENGINE_CREDENTIALS = { accessKeyId: 'runnerctltest', secretAccessKey: 'test' };
export const ENGINE_REGION = 'us-east-1';

export function engineClient(engine: DynamoEngine): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: engine.endpoint,
    region: ENGINE_REGION,
    credentials: ENGINE_CREDENTIALS,
  });
}
