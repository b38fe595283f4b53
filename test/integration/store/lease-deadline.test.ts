// The lease calls of the DynamoDB store pass the caller's AbortSignal to the SDK: against an
// endpoint that accepts connections and never answers, the call ends when the caller's
// deadline passes, not after the client's request timeout and retries.

import { createServer, type Server, type Socket } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoStore } from '../../../controller/store/dynamo-store.ts';
import { awsClientSettings } from '../../../controller/util/aws-client.ts';

let server: Server;
const sockets = new Set<Socket>();
let endpoint: string;

beforeAll(async () => {
  // A black hole: every connection is accepted and left unanswered.
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  endpoint = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function blackHoledStore(): { store: DynamoStore; client: DynamoDBClient } {
  const client = new DynamoDBClient({
    // Far longer than the deadline below, so only the signal can end the call early.
    ...awsClientSettings({ requestTimeoutMs: 60_000 }),
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  return { store: new DynamoStore({ client, table: 'runnerctl' }), client };
}

describe('lease calls under a deadline', () => {
  it.each(['tryAcquire', 'getLease', 'release'] as const)(
    '%s on a black-holed endpoint ends when its signal aborts',
    async (method) => {
      const { store, client } = blackHoledStore();
      const abort = new AbortController();
      const startedAt = performance.now();
      const call =
        method === 'tryAcquire'
          ? store.tryAcquire('controller', 'a', 15_000, Date.now(), { signal: abort.signal })
          : method === 'getLease'
            ? store.getLease('controller', { signal: abort.signal })
            : store.release('controller', 'a', { signal: abort.signal });
      const outcome = call.then(
        () => 'answered',
        (err: unknown) => err,
      );
      // Wait until the request really is on the wire, then abort it.
      for (let i = 0; i < 500 && sockets.size === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(sockets.size).toBeGreaterThan(0);
      abort.abort(new Error('deadline'));
      const result = await outcome;
      expect(result).toBeInstanceOf(Error);
      // Well inside the 60 s request timeout (a loaded machine still answers in seconds).
      expect(performance.now() - startedAt).toBeLessThan(30_000);
      client.destroy();
      for (const socket of sockets) socket.destroy();
    },
  );
});
