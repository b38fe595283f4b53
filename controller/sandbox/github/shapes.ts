// JSON bodies in GitHub's shapes (checked in tests against @octokit/openapi and
// @octokit/webhooks-schemas). `api` is the simulator's base URL, standing in for api.github.com.

import type {
  SimInstallation,
  SimJob,
  SimOrg,
  SimRepo,
  SimRun,
  SimRunner,
  SimRunnerGroup,
  SimState,
} from './state.ts';

export const HTML_BASE = 'https://github.com';
export const DOCS_URL = 'https://docs.github.com/rest';

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

export function errorBody(
  status: number,
  message: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { message, documentation_url: DOCS_URL, status: String(status), ...extra };
}

export function simpleUser(
  api: string,
  login: string,
  id: number,
  type: 'User' | 'Organization' | 'Bot' = 'User',
) {
  const u = `${api}/users/${login}`;
  return {
    login,
    id,
    node_id: Buffer.from(`04:User${id}`).toString('base64'),
    avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    gravatar_id: '',
    url: u,
    html_url: `${HTML_BASE}/${login}`,
    followers_url: `${u}/followers`,
    following_url: `${u}/following{/other_user}`,
    gists_url: `${u}/gists{/gist_id}`,
    starred_url: `${u}/starred{/owner}{/repo}`,
    subscriptions_url: `${u}/subscriptions`,
    organizations_url: `${u}/orgs`,
    repos_url: `${u}/repos`,
    events_url: `${u}/events{/privacy}`,
    received_events_url: `${u}/received_events`,
    type,
    site_admin: false,
  };
}

function repoUrls(api: string, repo: SimRepo) {
  const r = `${api}/repos/${repo.fullName}`;
  return {
    forks_url: `${r}/forks`,
    keys_url: `${r}/keys{/key_id}`,
    collaborators_url: `${r}/collaborators{/collaborator}`,
    teams_url: `${r}/teams`,
    hooks_url: `${r}/hooks`,
    issue_events_url: `${r}/issues/events{/number}`,
    events_url: `${r}/events`,
    assignees_url: `${r}/assignees{/user}`,
    branches_url: `${r}/branches{/branch}`,
    tags_url: `${r}/tags`,
    blobs_url: `${r}/git/blobs{/sha}`,
    git_tags_url: `${r}/git/tags{/sha}`,
    git_refs_url: `${r}/git/refs{/sha}`,
    trees_url: `${r}/git/trees{/sha}`,
    statuses_url: `${r}/statuses/{sha}`,
    languages_url: `${r}/languages`,
    stargazers_url: `${r}/stargazers`,
    contributors_url: `${r}/contributors`,
    subscribers_url: `${r}/subscribers`,
    subscription_url: `${r}/subscription`,
    commits_url: `${r}/commits{/sha}`,
    git_commits_url: `${r}/git/commits{/sha}`,
    comments_url: `${r}/comments{/number}`,
    issue_comment_url: `${r}/issues/comments{/number}`,
    contents_url: `${r}/contents/{+path}`,
    compare_url: `${r}/compare/{base}...{head}`,
    merges_url: `${r}/merges`,
    archive_url: `${r}/{archive_format}{/ref}`,
    downloads_url: `${r}/downloads`,
    issues_url: `${r}/issues{/number}`,
    pulls_url: `${r}/pulls{/number}`,
    milestones_url: `${r}/milestones{/number}`,
    notifications_url: `${r}/notifications{?since,all,participating}`,
    labels_url: `${r}/labels{/name}`,
    releases_url: `${r}/releases{/id}`,
    deployments_url: `${r}/deployments`,
  };
}

/** The REST "minimal-repository" shape (workflow runs). */
export function minimalRepository(api: string, repo: SimRepo) {
  return {
    id: repo.id,
    node_id: repo.nodeId,
    name: repo.name,
    full_name: repo.fullName,
    owner: simpleUser(api, repo.owner, repo.ownerId, repo.ownerType),
    private: repo.private,
    html_url: `${HTML_BASE}/${repo.fullName}`,
    description: null,
    fork: false,
    url: `${api}/repos/${repo.fullName}`,
    ...repoUrls(api, repo),
  };
}

/** The webhook "repository" shape (the key set of the real workflow_job examples). */
export function webhookRepository(api: string, repo: SimRepo) {
  const created = iso(repo.createdAtMs);
  return {
    ...minimalRepository(api, repo),
    created_at: created,
    updated_at: created,
    pushed_at: created,
    git_url: `git://github.com/${repo.fullName}.git`,
    ssh_url: `git@github.com:${repo.fullName}.git`,
    clone_url: `${HTML_BASE}/${repo.fullName}.git`,
    svn_url: `${HTML_BASE}/${repo.fullName}`,
    homepage: null,
    size: 0,
    stargazers_count: 0,
    watchers_count: 0,
    language: null,
    has_issues: true,
    has_projects: true,
    has_downloads: true,
    has_wiki: true,
    has_pages: false,
    has_discussions: false,
    forks_count: 0,
    mirror_url: null,
    archived: false,
    disabled: false,
    open_issues_count: 0,
    license: null,
    forks: 0,
    open_issues: 0,
    watchers: 0,
    default_branch: 'main',
    is_template: false,
    topics: [],
    visibility: repo.visibility,
    web_commit_signoff_required: false,
    allow_forking: true,
    custom_properties: {},
  };
}

/** The REST "full-repository" shape (GET /repos/{owner}/{repo}). */
export function fullRepository(api: string, repo: SimRepo) {
  return { ...webhookRepository(api, repo), network_count: 0, subscribers_count: 0 };
}

export function webhookOrganization(api: string, org: SimOrg) {
  const o = `${api}/orgs/${org.login}`;
  return {
    login: org.login,
    id: org.id,
    node_id: org.nodeId,
    url: o,
    repos_url: `${o}/repos`,
    events_url: `${o}/events`,
    hooks_url: `${o}/hooks`,
    issues_url: `${o}/issues`,
    members_url: `${o}/members{/member}`,
    public_members_url: `${o}/public_members{/member}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${org.id}?v=4`,
    description: '',
  };
}

export function installationJson(api: string, appSlug: string, appId: number, i: SimInstallation) {
  const created = iso(i.createdAtMs);
  return {
    id: i.id,
    // GitHub's description types `account` as allOf(simple-user, enterprise): carry both key sets.
    account: {
      ...simpleUser(api, i.account, i.accountId, i.targetType),
      name: i.account,
      slug: i.account.toLowerCase(),
      created_at: created,
      updated_at: created,
    },
    repository_selection: 'all',
    access_tokens_url: `${api}/app/installations/${i.id}/access_tokens`,
    repositories_url: `${api}/installation/repositories`,
    html_url:
      i.targetType === 'Organization'
        ? `${HTML_BASE}/organizations/${i.account}/settings/installations/${i.id}`
        : `${HTML_BASE}/settings/installations/${i.id}`,
    app_id: appId,
    app_slug: appSlug,
    target_id: i.accountId,
    target_type: i.targetType,
    permissions: i.permissions,
    events: ['workflow_job'],
    created_at: created,
    updated_at: created,
    single_file_name: null,
    has_multiple_single_files: false,
    single_file_paths: [],
    suspended_by: null,
    suspended_at: null,
  };
}

export function runnerJson(state: SimState, r: SimRunner, busyLagMs = 0) {
  return {
    id: r.id,
    runner_group_id: r.runnerGroupId,
    name: r.name,
    os: r.os,
    status: state.isOnline(r) ? 'online' : 'offline',
    busy: state.reportedBusy(r, busyLagMs),
    ephemeral: r.ephemeral,
    version: r.version,
    labels: r.labels.map((l) => ({ id: l.id, name: l.name, type: l.type })),
  };
}

export function runnerGroupJson(api: string, org: string, g: SimRunnerGroup) {
  return {
    id: g.id,
    name: g.name,
    visibility: 'all',
    default: g.isDefault,
    runners_url: `${api}/orgs/${org}/actions/runner-groups/${g.id}/runners`,
    hosted_runners_url: `${api}/orgs/${org}/actions/runner-groups/${g.id}/hosted-runners`,
    inherited: false,
    allows_public_repositories: g.allowsPublicRepositories === true,
    restricted_to_workflows: false,
    selected_workflows: [],
    workflow_restrictions_read_only: false,
  };
}

/** A job in the REST shape; the webhook `workflow_job` uses the same fields. */
export function jobJson(api: string, job: SimJob) {
  const r = `${api}/repos/${job.repo}`;
  const startedAt = job.startedAtMs ?? job.createdAtMs;
  return {
    id: job.id,
    run_id: job.runId,
    workflow_name: job.workflowName,
    head_branch: job.headBranch,
    run_url: `${r}/actions/runs/${job.runId}`,
    run_attempt: job.runAttempt,
    node_id: job.nodeId,
    head_sha: job.headSha,
    url: `${r}/actions/jobs/${job.id}`,
    html_url: `${HTML_BASE}/${job.repo}/actions/runs/${job.runId}/job/${job.id}`,
    status: job.status,
    conclusion: job.conclusion,
    created_at: iso(job.createdAtMs),
    started_at: iso(startedAt),
    completed_at: isoOrNull(job.completedAtMs),
    name: job.name,
    steps: stepsOf(job),
    check_run_url: `${r}/check-runs/${job.id}`,
    labels: [...job.labels],
    runner_id: job.runnerId,
    runner_name: job.runnerName,
    runner_group_id: job.runnerGroupId,
    runner_group_name: job.runnerGroupName,
  };
}

function stepsOf(job: SimJob) {
  if (job.startedAtMs === null || job.runnerId === null) return [];
  const done = job.status === 'completed';
  return [
    {
      name: 'Set up job',
      status: 'completed' as const,
      conclusion: 'success',
      number: 1,
      started_at: iso(job.startedAtMs),
      completed_at: iso(job.startedAtMs),
    },
    {
      name: 'Run simulated work',
      status: done ? ('completed' as const) : ('in_progress' as const),
      conclusion: done ? job.conclusion : null,
      number: 2,
      started_at: iso(job.startedAtMs),
      completed_at: done ? iso(job.completedAtMs ?? job.startedAtMs) : null,
    },
  ];
}

export function workflowRunJson(api: string, state: SimState, run: SimRun) {
  const repo = state.repo(run.repo);
  if (!repo) throw new Error(`workflow run ${run.id} belongs to unknown repository ${run.repo}`);
  const r = `${api}/repos/${run.repo}`;
  const { status, conclusion } = state.runStatus(run);
  const actor = simpleUser(api, 'octocat', 583231);
  return {
    id: run.id,
    name: run.workflowName,
    node_id: run.nodeId,
    check_suite_id: run.checkSuiteId,
    check_suite_node_id: Buffer.from(`010:CheckSuite${run.checkSuiteId}`).toString('base64'),
    head_branch: run.headBranch,
    head_sha: run.headSha,
    path: run.path,
    run_number: run.runNumber,
    run_attempt: run.runAttempt,
    event: run.event,
    display_title: `${run.workflowName} #${run.runNumber}`,
    status,
    conclusion,
    workflow_id: run.workflowId,
    url: `${r}/actions/runs/${run.id}`,
    html_url: `${HTML_BASE}/${run.repo}/actions/runs/${run.id}`,
    pull_requests: [],
    created_at: iso(run.createdAtMs),
    updated_at: iso(run.updatedAtMs),
    actor,
    triggering_actor: actor,
    run_started_at: iso(run.runStartedAtMs),
    jobs_url: `${r}/actions/runs/${run.id}/jobs`,
    logs_url: `${r}/actions/runs/${run.id}/logs`,
    check_suite_url: `${r}/check-suites/${run.checkSuiteId}`,
    artifacts_url: `${r}/actions/runs/${run.id}/artifacts`,
    cancel_url: `${r}/actions/runs/${run.id}/cancel`,
    rerun_url: `${r}/actions/runs/${run.id}/rerun`,
    previous_attempt_url:
      run.runAttempt > 1 ? `${r}/actions/runs/${run.id}/attempts/${run.runAttempt - 1}` : null,
    workflow_url: `${r}/actions/workflows/${run.workflowId}`,
    head_commit: {
      id: run.headSha,
      tree_id: run.headSha.split('').reverse().join(''),
      message: `Simulated commit for ${run.workflowName}`,
      timestamp: iso(run.createdAtMs),
      author: { name: 'Octo Cat', email: 'octocat@github.com' },
      committer: { name: 'GitHub', email: 'noreply@github.com' },
    },
    repository: minimalRepository(api, repo),
    head_repository: minimalRepository(api, repo),
  };
}
