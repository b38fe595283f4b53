// Finished history costs a pass nothing: with finished runner records in the table, the
// controller's passes (the cache's first relist, launches, a runner finishing, warm passes) read
// no item of them. Checked on the wire: every request to the engine and every answer goes
// through a recording proxy, on both engines.

import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FINISHED_RUNNERS_PARTITION } from '../../../controller/store/layout.ts';
import { openStore } from '../../../controller/store/factory.ts';
import type { Store } from '../../../controller/store/types.ts';
import {
  ENGINE_CREDENTIALS,
  ENGINE_REGION,
  ENGINES,
  type DynamoEngine,
} from '../../support/dynamodb-engines.ts';
import { ManualClock } from '../../support/fakes/manual-clock.ts';
import { World } from '../../support/fakes/world.ts';

interface Exchange {
  target: string;
  request: string;
  response: string;
}

/** An HTTP proxy in front of the engine that keeps every request and answer body. */
async function recordingProxy(upstream: string) {
  const target = new URL(upstream);
  const exchanges: Exchange[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const out = request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (c: Buffer) => parts.push(c));
          answer.on('end', () => {
            const response = Buffer.concat(parts);
            exchanges.push({
              target: String(req.headers['x-amz-target'] ?? ''),
              request: body.toString('utf8'),
              response: response.toString('utf8'),
            });
            res.writeHead(answer.statusCode ?? 500, answer.headers);
            res.end(response);
          });
        },
      );
      out.on('error', (err) => {
        res.writeHead(502);
        res.end(String(err));
      });
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    exchanges,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const HISTORY = 60;
const historyName = (i: number) => `rctl-linux-h${String(i).padStart(7, '0')}`;

describe.each(ENGINES)('finished history on $name', (factory) => {
  let engine: DynamoEngine;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  let store: Store;
  /** The test's own reads, straight to the engine (not recorded). */
  let direct: Store;

  beforeAll(async () => {
    engine = await factory.start();
    proxy = await recordingProxy(engine.endpoint);
  }, 120_000);

  afterAll(async () => {
    await store?.close();
    await direct?.close();
    await proxy?.close();
    await engine?.stop();
  });

  it('a pass reads no item of the finished partition', async () => {
    // Now: DynamoDB Local expires items whose TTL (set from this clock) has passed.
    const clock = new ManualClock(Date.now());
    store = await openStore({
      kind: 'dynamodb',
      endpoint: proxy.endpoint,
      region: ENGINE_REGION,
      credentials: ENGINE_CREDENTIALS,
      table: 'history',
      createTable: true,
      clock,
    });
    direct = await openStore({
      kind: 'dynamodb',
      endpoint: engine.endpoint,
      region: ENGINE_REGION,
      credentials: ENGINE_CREDENTIALS,
      table: 'history',
      clock,
    });
    const w = new World({ clock, store });
    await w.pool('linux');
    const at = new Date(clock.now() - 24 * 3600_000).toISOString();
    for (let i = 0; i < HISTORY; i++) {
      await store.createRunner({
        name: historyName(i),
        pool: 'linux',
        state: 'finished',
        labels: ['self-hosted', 'linux'],
        attempts: 1,
        createdAt: at,
        timeline: [
          { at, event: 'created' },
          { at, event: 'finished', detail: 'task stopped after its job' },
        ],
      });
    }
    const seeded = proxy.exchanges.length;

    // A job from queued to a removed runner, then warm passes: the cache's first relist, a
    // launch, a runner going busy and finishing, passes with nothing to do.
    await w.queue(1, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    const [r] = await direct.listRunners({ live: true });
    expect(r?.state).toBe('launching');
    w.bootTasks();
    await c.reconcileOnce();
    await w.start(1, r!.name);
    await c.reconcileOnce();
    await w.complete(1);
    await c.reconcileOnce();
    expect((await direct.getRunner(r!.name))?.state).toBe('finished');
    await clock.advance(60_000);
    await c.reconcileOnce();
    await c.stop();

    const passes = proxy.exchanges.slice(seeded);
    expect(passes.length).toBeGreaterThan(10);
    const read = passes.filter((x) =>
      Array.from({ length: HISTORY }, (_, i) => historyName(i)).some((n) => x.response.includes(n)),
    );
    expect(read.map((x) => `${x.target} ${x.request}`)).toEqual([]);
    expect(passes.filter((x) => /\.Scan$/.test(x.target)).map((x) => x.request)).toEqual([]);
    expect(
      passes
        .filter((x) => /\.Query$/.test(x.target) && x.request.includes(FINISHED_RUNNERS_PARTITION))
        .map((x) => x.request),
    ).toEqual([]);

    // The recorder sees history when something does read it (the CLI's listing of a pool).
    const before = proxy.exchanges.length;
    const listed = await store.listRunners({ pool: 'linux' });
    expect(listed.filter((x) => x.name.startsWith('rctl-linux-h'))).toHaveLength(HISTORY);
    expect(
      proxy.exchanges.slice(before).some((x) => x.response.includes(historyName(HISTORY - 1))),
    ).toBe(true);
  }, 120_000);
});
