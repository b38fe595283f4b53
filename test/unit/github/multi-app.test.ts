// MultiAppGitHubProvider picks the App of each call: JIT configs by the least-used window
// (room left less POSTs handed to the App and not answered), other calls by the owner's App.

import { describe, expect, it } from 'vitest';
import {
  MultiAppGitHubProvider,
  type PacedGitHubProvider,
} from '../../../controller/github/multi-app.ts';
import type { GitHubScope } from '../../../controller/github/types.ts';

/** A provider whose JIT window has `available` room and whose POSTs wait until released. */
function fakeApp(appId: number, available: number) {
  const waiting: (() => void)[] = [];
  const calls: string[] = [];
  const provider = {
    pacingState: () => ({
      jit: { available, pausedUntil: 0 },
      rest: { available: 100, pausedUntil: 0 },
    }),
    generateJitConfig: async (_scope: GitHubScope, request: { name: string }) => {
      calls.push(request.name);
      await new Promise<void>((resolve) => waiting.push(resolve));
      return { runner: { id: appId, name: request.name }, encodedJitConfig: 'x' };
    },
    listRunners: async () => {
      calls.push('listRunners');
      return [];
    },
  } as unknown as PacedGitHubProvider;
  return { appId, provider, calls, release: () => waiting.splice(0).forEach((r) => r()) };
}

const org: GitHubScope = { kind: 'org', org: 'acme' };
const request = (name: string) => ({ name, runnerGroupId: 1, labels: ['self-hosted'] });

describe('MultiAppGitHubProvider', () => {
  it('with every window full, a burst queues evenly behind the Apps, not behind the first', async () => {
    const apps = [fakeApp(1, 0), fakeApp(2, 0), fakeApp(3, 0)];
    const multi = new MultiAppGitHubProvider(apps);
    const pending = Array.from({ length: 30 }, (_, i) =>
      multi.generateJitConfig(org, request(`r-${i}`)),
    );
    await new Promise((r) => setImmediate(r));
    expect(apps.map((a) => a.calls.length)).toEqual([10, 10, 10]);
    apps.forEach((a) => a.release());
    await Promise.all(pending);
  });

  it('prefers the App with the most room left in its window', async () => {
    const apps = [fakeApp(1, 2), fakeApp(2, 50)];
    const multi = new MultiAppGitHubProvider(apps);
    const pending = [multi.generateJitConfig(org, request('a'))];
    await new Promise((r) => setImmediate(r));
    expect(apps[1]!.calls).toEqual(['a']);
    apps.forEach((a) => a.release());
    await Promise.all(pending);
  });

  it("other calls go to the owner's first App while it has REST budget", async () => {
    const apps = [fakeApp(1, 0), fakeApp(2, 0)];
    const multi = new MultiAppGitHubProvider([apps[0]!, { ...apps[1]!, owners: ['acme'] }]);
    await multi.listRunners(org);
    expect(apps[1]!.calls).toEqual(['listRunners']);
    expect(apps[0]!.calls).toEqual([]);
  });
});
