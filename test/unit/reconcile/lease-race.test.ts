// Two replicas racing for the lease on a store whose lease writes behave like DynamoDB's: read,
// then a write conditional on the version read, with time passing in between (and calls that a
// test can hold up or fail). Never may both replicas believe they lead.

import { describe, expect, it } from 'vitest';
import { ConflictError, StoreError } from '../../../controller/store/errors.ts';
import type { LeaseRecord, Store } from '../../../controller/store/types.ts';
import { flush, ManualClock } from '../../support/fakes/manual-clock.ts';
import { MemoryStore } from '../../support/fakes/memory-store.ts';
import { World } from '../../support/fakes/world.ts';

interface LeaseHooks {
  /** Runs before a holder's tryAcquire reads; may wait (a slow request) or throw (a failure). */
  before?: (holder: string, signal?: AbortSignal) => Promise<void> | void;
}

/** A request that never answers; it ends only when its signal aborts (as the SDK's do). */
function blackHole(signal: AbortSignal | undefined, onAbort: () => void): Promise<void> {
  return new Promise((_, reject) => {
    signal?.addEventListener(
      'abort',
      () => {
        onAbort();
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/** DynamoDB-like lease: read, a gap, then compare-and-set on the version read. */
function casLeases(base: Store, hooks: LeaseHooks): Store {
  const leases = new Map<string, LeaseRecord>();
  const gap = () => new Promise((r) => setImmediate(r));
  const cas = (name: string, expected: number | undefined, next: LeaseRecord) => {
    if (leases.get(name)?.version !== expected) throw new ConflictError('lease changed', name);
    leases.set(name, next);
  };
  const overrides: Partial<Store> = {
    async tryAcquire(name, holder, ttlMs, nowMs, call) {
      await hooks.before?.(holder, call?.signal);
      const stored = leases.get(name);
      await gap();
      let next: LeaseRecord;
      if (!stored) next = { name, holder, leaseVersion: 1, expiresAtMs: nowMs + ttlMs, version: 1 };
      else if (stored.holder === holder)
        next = { ...stored, expiresAtMs: nowMs + ttlMs, version: stored.version + 1 };
      else if (stored.expiresAtMs <= nowMs)
        next = {
          name,
          holder,
          leaseVersion: stored.leaseVersion + 1,
          expiresAtMs: nowMs + ttlMs,
          version: stored.version + 1,
        };
      else return undefined;
      await gap();
      try {
        cas(name, stored?.version, next);
        return { ...next };
      } catch (err) {
        if (err instanceof ConflictError) return undefined;
        throw err;
      }
    },
    async release(name, holder) {
      const stored = leases.get(name);
      if (stored?.holder === holder) {
        leases.set(name, { ...stored, expiresAtMs: 0, version: stored.version + 1 });
      }
    },
    async getLease(name) {
      const l = leases.get(name);
      return l && { ...l };
    },
  };
  return new Proxy(base, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && Object.hasOwn(overrides, prop)) {
        return overrides[prop as keyof Store];
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function racingWorld() {
  const clock = new ManualClock();
  const hooks: LeaseHooks = {};
  const store = casLeases(new MemoryStore(() => clock.now()), hooks);
  return { w: new World({ clock, store }), hooks };
}

describe('two replicas racing for one lease', () => {
  it('a leader whose renewal hangs stops acting before the other can take over', async () => {
    const { w, hooks } = racingWorld();
    await w.pool('linux');
    const a = w.controller({ leaseMs: 15_000 }, 'a');
    const b = w.controller({ leaseMs: 15_000 }, 'b');
    a.start();
    await w.clock.advance(0);
    expect(a.isLeader()).toBe(true);
    b.start();
    await w.clock.advance(0);
    expect(b.isLeader()).toBe(false);

    // From now on a's lease requests hang (a network partition towards the table).
    let release!: () => void;
    const partition = new Promise<void>((r) => (release = r));
    hooks.before = (holder) => (holder === 'a' ? partition : undefined);
    const overlaps: number[] = [];
    let bLeadsAt: number | undefined;
    for (let t = 1; t <= 25; t++) {
      await w.clock.advance(1_000);
      if (a.isLeader() && b.isLeader()) overlaps.push(t);
      if (b.isLeader()) bLeadsAt ??= t;
    }
    expect(bLeadsAt).toBeDefined();
    expect(overlaps).toEqual([]);

    // The partition heals: a's late renewal finds b holding the lease.
    release();
    await flush();
    await w.clock.advance(5_000);
    expect(a.isLeader()).toBe(false);
    expect(b.isLeader()).toBe(true);
    await a.stop();
    await b.stop();
  });

  it('a failed renewal stops the leader at once, and it resumes once renewed', async () => {
    const { w, hooks } = racingWorld();
    await w.pool('linux');
    const a = w.controller({ leaseMs: 15_000 }, 'a');
    a.start();
    await w.clock.advance(0);
    expect(a.isLeader()).toBe(true);
    const version = a.leaseVersion();

    hooks.before = () => {
      throw new StoreError('DynamoDB request failed: ProvisionedThroughputExceededException');
    };
    await w.clock.advance(5_000); // the first renewal fails
    expect(a.isLeader()).toBe(false);
    // While not acting, a queued job is not launched.
    await w.queue(1, ['linux']);
    a.enqueuePool('linux');
    await w.clock.advance(0);
    expect(await w.live()).toHaveLength(0);

    hooks.before = undefined;
    await w.clock.advance(5_000); // the next renewal succeeds: same lease, same version
    expect(a.isLeader()).toBe(true);
    expect(a.leaseVersion()).toBe(version);
    await a.stop();
  });

  it('a black-holed renewal is aborted before the next one is due and does not wedge the loop', async () => {
    const { w, hooks } = racingWorld();
    await w.pool('linux');
    const leaseMs = 15_000;
    const a = w.controller({ leaseMs }, 'a');
    a.start();
    await w.clock.advance(0);
    expect(a.isLeader()).toBe(true);
    const version = a.leaseVersion();

    // a's next renewals go into a black hole (accepted, never answered).
    const abortedAfter: number[] = [];
    let signalled = true;
    hooks.before = (holder, signal) => {
      if (!signal) signalled = false;
      const sentAt = w.clock.now();
      return blackHole(signal, () => abortedAfter.push(w.clock.now() - sentAt));
    };
    for (let t = 0; t < 40 && abortedAfter.length < 2; t++) await w.clock.advance(1_000);
    expect(signalled).toBe(true);
    expect(abortedAfter.length).toBeGreaterThanOrEqual(2);
    for (const ms of abortedAfter) expect(ms).toBeLessThan(leaseMs / 3);
    expect(a.isLeader()).toBe(false);

    // The network heals: the very loop that hit the black hole renews again.
    hooks.before = undefined;
    for (let t = 0; t < 20 && !a.isLeader(); t++) await w.clock.advance(1_000);
    expect(a.isLeader()).toBe(true);
    expect(a.leaseVersion()).toBe(version);
    await a.stop();
  });

  it('a renewal on a store that ignores the abort still gives up at the deadline', async () => {
    const { w, hooks } = racingWorld();
    await w.pool('linux');
    const a = w.controller({ leaseMs: 15_000 }, 'a');
    a.start();
    await w.clock.advance(0);
    expect(a.isLeader()).toBe(true);
    let calls = 0;
    hooks.before = () => {
      calls += 1;
      return new Promise<void>(() => {}); // ignores every signal, forever
    };
    for (let t = 0; t < 30 && calls < 3; t++) await w.clock.advance(1_000);
    // Attempts go on being made (the loop is not stuck on the first one) and none acts.
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(a.isLeader()).toBe(false);
    hooks.before = undefined;
    for (let t = 0; t < 20 && !a.isLeader(); t++) await w.clock.advance(1_000);
    expect(a.isLeader()).toBe(true);
    await a.stop();
  });

  it('concurrent reconciles of one replica renewing at once do not make it drop its lease', async () => {
    const { w } = racingWorld();
    for (const name of ['p1', 'p2', 'p3']) {
      await w.pool(name, { labels: [name] });
    }
    const a = w.controller({ leaseMs: 15_000, concurrency: 4 }, 'a');
    expect(await a.reconcileOnce()).toBe(true);
    // Paused past the lease (no renewal loop): three pools wake at once and each wants to renew.
    await w.clock.advance(20_000);
    for (const [i, name] of ['p1', 'p2', 'p3'].entries()) {
      await w.queue(i + 1, [name]);
      a.enqueuePool(name);
    }
    await a.idle();
    expect(a.isLeader()).toBe(true);
    expect((await w.live()).map((r) => r.pool).sort()).toEqual(['p1', 'p2', 'p3']);
  });
});
