// Several GitHub Apps against the GitHub simulator: the simulator counts the JIT limit per App
// installation as GitHub does, and MultiAppGitHubProvider spreads a burst over the Apps so that
// more than one App's limit is served in a minute without a rate-limit answer.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimitedError } from '../../../controller/github/errors.ts';
import { MultiAppGitHubProvider } from '../../../controller/github/multi-app.ts';
import { OctokitGitHubProvider } from '../../../controller/github/octokit-provider.ts';
import type { GitHubScope } from '../../../controller/github/types.ts';
import {
  startGitHubSimulator,
  type GitHubSimulator,
} from '../../../controller/sandbox/github/index.ts';

const APP_IDS = [1001, 1002, 1003];
const org: GitHubScope = { kind: 'org', org: 'acme' };
let sim: GitHubSimulator;

const providerFor = (appId: number, jitPerMinute?: number) =>
  new OctokitGitHubProvider({
    appId,
    privateKey: sim.apps.find((a) => a.appId === appId)!.privateKeyPem,
    baseUrl: sim.url,
    retryBaseMs: 5,
    ...(jitPerMinute ? { pacing: { jitPerMinute } } : {}),
  });

const request = (name: string) => ({ name, runnerGroupId: 1, labels: ['self-hosted'] });

beforeAll(async () => {
  sim = await startGitHubSimulator({ seed: 4, appIds: APP_IDS });
  await sim.control.createOrg({ login: 'acme' });
  await sim.control.createRepo({ owner: 'acme', name: 'app' });
  // Installs every App on acme, each with an installation of its own.
  await sim.control.createInstallation({ account: 'acme' });
});

afterAll(async () => {
  await sim?.close();
});

describe('several GitHub Apps', () => {
  it('the simulator counts the JIT limit per App installation (180 a minute each)', async () => {
    // No client-side pacing: the simulator's secondary limit answers the 181st POST.
    const first = providerFor(APP_IDS[0]!, 10_000);
    let limited: unknown;
    let served = 0;
    for (let i = 0; i < 200 && !limited; i++) {
      try {
        await first.generateJitConfig(org, request(`rctl-one-${i}`));
        served++;
      } catch (err) {
        limited = err;
      }
    }
    expect(served).toBe(180);
    expect(limited).toBeInstanceOf(RateLimitedError);
    // Another App's installation has its own window.
    const second = providerFor(APP_IDS[1]!);
    await expect(second.generateJitConfig(org, request('rctl-two-0'))).resolves.toMatchObject({
      runner: { name: 'rctl-two-0' },
    });
  });

  it('with 3 Apps, a burst of twice one App limit is served with no rate-limit error', async () => {
    // Fresh Apps' windows: a new simulator (the first test used up App 1001's minute).
    await sim.close();
    sim = await startGitHubSimulator({ seed: 5, appIds: APP_IDS });
    await sim.control.createOrg({ login: 'acme' });
    await sim.control.createInstallation({ account: 'acme' });
    const providers = APP_IDS.map((id) => providerFor(id));
    const multi = new MultiAppGitHubProvider(
      APP_IDS.map((appId, i) => ({ appId, provider: providers[i]! })),
    );
    const total = 360;
    const errors: unknown[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < total) {
          const i = next++;
          await multi.generateJitConfig(org, request(`rctl-burst-${i}`)).catch((e: unknown) => {
            errors.push(e);
          });
        }
      }),
    );
    expect(errors).toEqual([]);
    expect(
      (await sim.control.listRunners()).filter((r) => r.name.startsWith('rctl-burst-')),
    ).toHaveLength(total);
    // Spread over the Apps: no App went over its own minute, so nothing waited a window out.
    const used = providers.map((p) => 180 - p.pacingState().jit.available);
    for (const n of used) expect(n).toBeLessThanOrEqual(180);
    expect(used.reduce((a, b) => a + b, 0)).toBe(total);
  }, 90_000);

  it('an App with owners serves only those owners; shared Apps serve the rest', () => {
    const providers = APP_IDS.map((id) => providerFor(id));
    const multi = new MultiAppGitHubProvider([
      { appId: 1001, provider: providers[0]!, owners: ['Acme'] },
      { appId: 1002, provider: providers[1]! },
    ]);
    expect(multi.appsFor('acme').map((a) => a.appId)).toEqual([1001, 1002]);
    expect(multi.appsFor('other').map((a) => a.appId)).toEqual([1002]);
    const owned = new MultiAppGitHubProvider([
      { appId: 1001, provider: providers[0]!, owners: ['acme'] },
    ]);
    expect(() => owned.appsFor('other')).toThrow(/no GitHub App serves other/);
  });
});
