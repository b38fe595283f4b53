// `apply`'s check of each pool's GitHub runner group: a group that lets public repositories in
// hands fork pull requests' jobs to the pool's runners whatever the pool's own settings say
// (GitHub enforces the group, runnerctl only chooses what it launches). A warning, not an error:
// the admin may mean it, and GitHub may be unreachable from where apply runs.

import type { RunnerPool } from '../api/types.ts';
import type { GitHubProvider } from '../github/types.ts';
import { githubScope } from '../reconcile/names.ts';

const DEFAULT_GROUP = 'Default';

/** One line per pool whose runner group allows public repositories, or that could not be read. */
export async function publicRunnerGroupWarnings(
  pools: readonly RunnerPool[],
  github: Pick<GitHubProvider, 'runnerGroupAllowsPublicRepositories'>,
): Promise<string[]> {
  const warnings: string[] = [];
  for (const pool of pools) {
    const spec = pool.spec.github;
    if (spec.scope === 'repo') continue;
    const group = spec.runnerGroup ?? DEFAULT_GROUP;
    const where =
      spec.scope === 'org' ? `organization ${spec.organization}` : `enterprise ${spec.enterprise}`;
    try {
      const allows = await github.runnerGroupAllowsPublicRepositories(githubScope(spec), group);
      if (!allows) continue;
      warnings.push(
        `warning: runnerpool/${pool.metadata.name}: runner group "${group}" of ${where} allows public repositories ` +
          `(allows_public_repositories): GitHub may give its runners jobs of public repositories, fork pull requests included` +
          (pool.spec.allowPublicRepositories
            ? ''
            : `, although the pool does not set allowPublicRepositories; turn it off in the group's settings`),
      );
    } catch (err) {
      warnings.push(
        `warning: runnerpool/${pool.metadata.name}: could not read runner group "${group}" of ${where}: ${(err as Error).message}`,
      );
    }
  }
  return warnings;
}
