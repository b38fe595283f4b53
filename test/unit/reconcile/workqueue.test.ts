import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../../controller/reconcile/workqueue.ts';
import { TerminalReconcileError } from '../../../controller/reconcile/errors.ts';
import { silentLogger, type ReconcileResult } from '../../../controller/reconcile/types.ts';
import { ManualClock, flush } from '../../support/fakes/manual-clock.ts';

/** A gate a reconcile can wait on, opened by the test. */
function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

function setup(
  handler: (key: string) => Promise<ReconcileResult | void>,
  opts: Partial<ConstructorParameters<typeof WorkQueue>[1]> = {},
) {
  const clock = new ManualClock();
  const runs: string[] = [];
  const q = new WorkQueue(
    async (key) => {
      runs.push(key);
      return handler(key);
    },
    { clock, log: silentLogger, random: () => 0.5, ...opts },
  );
  q.start();
  return { clock, runs, q };
}

describe('WorkQueue', () => {
  it('merges a key enqueued while it waits', async () => {
    const g = gate();
    const { q, runs } = setup(
      async (key) => {
        if (key === 'blocker') await g.promise;
      },
      { concurrency: 1 },
    );
    q.enqueue('blocker');
    q.enqueue('a');
    q.enqueue('a');
    q.enqueue('a');
    g.open();
    await q.idle();
    expect(runs).toEqual(['blocker', 'a']);
  });

  it('runs a key enqueued while running exactly once more, never concurrently', async () => {
    let active = 0;
    let maxActive = 0;
    const gates = [gate(), gate()];
    let n = 0;
    const { q, runs } = setup(
      async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await gates[n++]?.promise;
        active--;
      },
      { concurrency: 4 },
    );
    q.enqueue('a');
    await flush();
    q.enqueue('a');
    q.enqueue('a');
    gates[0]!.open();
    await flush();
    gates[1]!.open();
    await q.idle();
    expect(runs).toEqual(['a', 'a']);
    expect(maxActive).toBe(1);
  });

  it('runs different keys in parallel up to the concurrency', async () => {
    let active = 0;
    let maxActive = 0;
    const g = gate();
    const { q } = setup(
      async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await g.promise;
        active--;
      },
      { concurrency: 3 },
    );
    for (const k of ['a', 'b', 'c', 'd', 'e']) q.enqueue(k);
    await flush();
    expect(active).toBe(3);
    g.open();
    await q.idle();
    expect(maxActive).toBe(3);
  });

  it('retries a failing key with exponential backoff and resets on success', async () => {
    let failuresLeft = 3;
    const { q, runs, clock } = setup(
      async () => {
        if (failuresLeft-- > 0) throw new Error('boom');
      },
      { backoff: { baseMs: 1_000, maxMs: 60_000, jitter: 0 } },
    );
    q.enqueue('a');
    await q.idle();
    expect(q.failures('a')).toBe(1);
    await clock.advance(999);
    expect(runs).toHaveLength(1);
    await clock.advance(1); // 1 s
    expect(runs).toHaveLength(2);
    await clock.advance(1_999);
    expect(runs).toHaveLength(2);
    await clock.advance(1); // 2 s
    expect(runs).toHaveLength(3);
    await clock.advance(4_000); // 4 s, succeeds
    expect(runs).toHaveLength(4);
    expect(q.failures('a')).toBe(0);
    await clock.advance(600_000);
    expect(runs).toHaveLength(4);
  });

  it('caps the backoff and spreads it with jitter', () => {
    const low = new WorkQueue(async () => {}, {
      clock: new ManualClock(),
      log: silentLogger,
      random: () => 0,
      backoff: { baseMs: 1_000, maxMs: 10_000, jitter: 0.5 },
    });
    const high = new WorkQueue(async () => {}, {
      clock: new ManualClock(),
      log: silentLogger,
      random: () => 1,
      backoff: { baseMs: 1_000, maxMs: 10_000, jitter: 0.5 },
    });
    expect(low.backoffDelay(1)).toBe(500);
    expect(high.backoffDelay(1)).toBe(1_000);
    expect(low.backoffDelay(4)).toBe(4_000);
    expect(high.backoffDelay(50)).toBe(10_000);
  });

  it("waits at least an error's retryAfterMs (GitHub's retry-after)", async () => {
    let n = 0;
    const { q, runs, clock } = setup(
      async () => {
        if (n++ === 0) throw Object.assign(new Error('rate limited'), { retryAfterMs: 30_000 });
      },
      { backoff: { baseMs: 1_000, jitter: 0 } },
    );
    q.enqueue('a');
    await q.idle();
    await clock.advance(29_999);
    expect(runs).toHaveLength(1);
    await clock.advance(1);
    expect(runs).toHaveLength(2);
  });

  it('does not retry a terminal error', async () => {
    const { q, runs, clock } = setup(async () => {
      throw new TerminalReconcileError('bad config', 'a');
    });
    q.enqueue('a');
    await q.idle();
    await clock.advance(3_600_000);
    expect(runs).toEqual(['a']);
    expect(q.delayedKeys().size).toBe(0);
  });

  it('honours requeueAfter, the earliest request winning', async () => {
    let n = 0;
    const { q, runs, clock } = setup(async () => {
      n++;
      return n === 1 ? { requeueAfterMs: 10_000 } : undefined;
    });
    q.enqueue('a');
    await q.idle();
    q.enqueueAfter('a', 30_000); // later than the pending 10 s: ignored
    await clock.advance(9_999);
    expect(runs).toHaveLength(1);
    await clock.advance(1);
    expect(runs).toHaveLength(2);
    await clock.advance(60_000);
    expect(runs).toHaveLength(2);
  });

  it('an immediate run supersedes a delayed one', async () => {
    const { q, runs, clock } = setup(async () => {});
    q.enqueueAfter('a', 5_000);
    q.enqueue('a');
    await q.idle();
    await clock.advance(10_000);
    expect(runs).toEqual(['a']);
  });

  it('resyncs every known key periodically', async () => {
    const { q, runs, clock } = setup(async () => {}, {
      resyncMs: 60_000,
      listKeys: () => ['pool/a', 'pool/b'],
    });
    await flush();
    await q.idle();
    expect(runs.sort()).toEqual(['pool/a', 'pool/b']);
    await clock.advance(60_000);
    await q.idle();
    expect(runs).toHaveLength(4);
    await q.stop();
    await clock.advance(600_000);
    expect(runs).toHaveLength(4);
  });

  it('accepts nothing after stop', async () => {
    const { q, runs } = setup(async () => {});
    await q.stop();
    q.enqueue('a');
    await flush();
    expect(runs).toEqual([]);
  });
});
