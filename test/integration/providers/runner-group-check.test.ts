// `apply`'s runner-group check against the GitHub simulator through the real Octokit provider:
// a group with allows_public_repositories (GET /orgs/{org}/actions/runner-groups/{id}) is named
// in a warning; the Default group (off) and repository pools are not.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, POOL_KIND, type RunnerPool } from '../../../controller/api/types.ts';
import { publicRunnerGroupWarnings } from '../../../controller/cli/runner-group-check.ts';
import { OctokitGitHubProvider } from '../../../controller/github/octokit-provider.ts';
import {
  startGitHubSimulator,
  type GitHubSimulator,
} from '../../../controller/sandbox/github/index.ts';

let sim: GitHubSimulator;
let provider: OctokitGitHubProvider;

beforeAll(async () => {
  sim = await startGitHubSimulator();
  await sim.control.createOrg({ login: 'acme' });
  await sim.control.createRepo({ owner: 'acme', name: 'app' });
  await sim.control.createInstallation({ account: 'acme' });
  await sim.control.createRunnerGroup({
    org: 'acme',
    name: 'open',
    allowsPublicRepositories: true,
  });
  await sim.control.createRunnerGroup({ org: 'acme', name: 'closed' });
  provider = new OctokitGitHubProvider({
    appId: sim.appId,
    privateKey: sim.privateKeyPem,
    baseUrl: sim.url,
  });
});

afterAll(async () => {
  await sim?.close();
});

function pool(name: string, github: RunnerPool['spec']['github'], extra = {}): RunnerPool {
  return {
    apiVersion: API_VERSION,
    kind: POOL_KIND,
    metadata: { name },
    spec: {
      github,
      labels: ['self-hosted'],
      maxRunners: 1,
      ecs: { cluster: 'c', taskDefinition: 't', subnets: ['subnet-1'] },
      ...extra,
    },
  };
}

describe('runner groups that allow public repositories', () => {
  it('warns for a pool whose group allows them, naming the pool, group and organization', async () => {
    const warnings = await publicRunnerGroupWarnings(
      [
        pool('open', { scope: 'org', organization: 'acme', runnerGroup: 'open' }),
        pool('closed', { scope: 'org', organization: 'acme', runnerGroup: 'closed' }),
        pool('default', { scope: 'org', organization: 'acme' }),
        pool('repo', { scope: 'repo', repository: 'acme/app' }),
      ],
      provider,
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /runnerpool\/open: runner group "open" of organization acme allows public repositories .*does not set allowPublicRepositories/,
    );
  });

  it('says when a group cannot be read instead of failing', async () => {
    const warnings = await publicRunnerGroupWarnings(
      [pool('ghost', { scope: 'org', organization: 'acme', runnerGroup: 'ghost' })],
      provider,
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/could not read runner group "ghost" of organization acme/);
  });
});
