// Which repositories' jobs a pool serves: its `repositories` allow-list and
// `allowPublicRepositories`. Pure: no I/O. The scope check (org, repo, enterprise) is separate.

import type { RepositoryVisibility } from '../store/types.ts';
import type { RunnerPoolSpec } from './types.ts';

export interface RepositoryOfJob {
  /** owner/name */
  repository: string;
  visibility?: RepositoryVisibility;
}

/** Does one `repositories` entry (name or glob; owner/name when it has a '/') cover `fullName`? */
export function repositoryPatternMatches(pattern: string, fullName: string): boolean {
  const subject = pattern.includes('/') ? fullName : (fullName.split('/')[1] ?? '');
  const source = [...pattern.toLowerCase()]
    .map((c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : c.replace(/[.\\-]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`).test(subject.toLowerCase());
}

/**
 * Why `spec` does not serve jobs of this repository, or undefined when it does. A repository of
 * unknown visibility may be public: only a pool with allowPublicRepositories serves it until
 * its visibility is known (the resync and the job confirmation read it from GitHub).
 */
export function repositoryRefusal(
  job: RepositoryOfJob,
  spec: Pick<RunnerPoolSpec, 'repositories' | 'allowPublicRepositories'>,
): string | undefined {
  if (
    spec.repositories &&
    !spec.repositories.some((p) => repositoryPatternMatches(p, job.repository))
  ) {
    return `repository ${job.repository} is not in the pool's repositories [${spec.repositories.join(', ')}]`;
  }
  if (job.visibility === 'public' && spec.allowPublicRepositories !== true) {
    return `repository ${job.repository} is public and the pool does not set allowPublicRepositories`;
  }
  if (job.visibility === undefined && spec.allowPublicRepositories !== true) {
    return `the visibility of repository ${job.repository} is not known yet (it may be public) and the pool does not set allowPublicRepositories`;
  }
  return undefined;
}
