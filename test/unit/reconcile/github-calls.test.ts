// GitHub's REST budget is 5,000 calls an hour per installation: a pass lists the runners of each
// GitHub scope once, whatever the number of pools registering there.

import { describe, expect, it } from 'vitest';
import { World } from '../../support/fakes/world.ts';

describe('GitHub calls per pass', () => {
  it('lists runners once per scope per pass, shared by the pools and garbage collection', async () => {
    const w = new World();
    // Three pools of the acme organization and one of a repository.
    for (const name of ['a', 'b', 'c']) await w.pool(name, { labels: [name] });
    await w.pool('r', { labels: ['r'], github: { scope: 'repo', repository: 'acme/app' } });
    for (const [i, label] of ['a', 'b', 'c', 'r'].entries()) await w.queue(i + 1, [label]);
    const c = w.controller();
    await c.reconcileOnce(); // every pool launches a runner
    w.bootTasks();
    expect(await w.live()).toHaveLength(4);

    for (let pass = 0; pass < 3; pass++) {
      w.github.calls = [];
      await c.reconcileOnce();
      const listings = w.github.calls.filter((call) => call === 'listRunners').length;
      // One for the organization, one for the repository.
      expect(listings).toBe(2);
    }
    // The runners came online through the shared listing.
    expect((await w.live()).every((r) => r.state === 'idle')).toBe(true);
  });

  it('a pool woken between passes lists afresh once the shared listing is older than its TTL', async () => {
    const w = new World();
    await w.pool('a', { labels: ['a'] });
    await w.queue(1, ['a']);
    const c = w.controller({ runnerPollMs: 10_000 });
    await c.reconcileOnce();
    w.bootTasks();
    await w.clock.advance(6_000);
    w.github.calls = [];
    c.enqueuePool('a');
    await c.idle();
    expect(w.github.calls.filter((call) => call === 'listRunners')).toHaveLength(1);
    expect((await w.live())[0]!.state).toBe('idle');
  });
});
