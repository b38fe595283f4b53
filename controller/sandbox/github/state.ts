// The simulated world: orgs, repos, installations, runners, workflow runs and jobs, and the
// Actions semantics that tie them together (dispatch by labels, single-use JIT runners, cancel,
// re-run, environment approval, 24 h queue timeout, lost runners). No HTTP here: the REST
// routes, the runner broker and the control API all call into this model.

import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../util/clock.ts';
import { SimInvalidRequestError, SimNotFoundError } from './errors.ts';

export type JobStatus = 'queued' | 'waiting' | 'in_progress' | 'completed';
export type JobConclusion = 'success' | 'failure' | 'cancelled' | 'skipped';
export type WorkflowJobAction = 'queued' | 'waiting' | 'in_progress' | 'completed';

export type RunnerScope =
  | { kind: 'org'; org: string }
  | { kind: 'repo'; owner: string; repo: string }
  | { kind: 'enterprise'; enterprise: string };

export function scopeKey(scope: RunnerScope): string {
  switch (scope.kind) {
    case 'org':
      return `org:${scope.org.toLowerCase()}`;
    case 'repo':
      return `repo:${scope.owner.toLowerCase()}/${scope.repo.toLowerCase()}`;
    case 'enterprise':
      return `enterprise:${scope.enterprise.toLowerCase()}`;
  }
}

export interface SimOrg {
  login: string;
  id: number;
  nodeId: string;
  enterprise?: string;
  createdAtMs: number;
}

export interface SimRepo {
  id: number;
  nodeId: string;
  owner: string;
  ownerId: number;
  ownerType: 'Organization' | 'User';
  name: string;
  fullName: string;
  private: boolean;
  /** GitHub's `visibility`; `internal` repositories are private to outsiders (enterprise orgs). */
  visibility: 'public' | 'private' | 'internal';
  createdAtMs: number;
}

export interface SimInstallation {
  id: number;
  /** The App installed: each App has its own installation (and id) on an account. */
  appId: number;
  account: string;
  accountId: number;
  targetType: 'Organization' | 'User';
  permissions: Record<string, 'read' | 'write'>;
  createdAtMs: number;
}

export interface SimRunnerGroup {
  id: number;
  name: string;
  isDefault: boolean;
  /** GitHub's `allows_public_repositories` (default false). */
  allowsPublicRepositories?: boolean;
}

export interface SimLabel {
  id: number;
  name: string;
  type: 'read-only' | 'custom';
}

export type RunnerMessage =
  { type: 'job'; job: RunnerJobMessage } | { type: 'cancel'; jobId: number } | { type: 'deleted' };

export interface RunnerJobMessage {
  jobId: number;
  runId: number;
  runAttempt: number;
  name: string;
  repository: string;
  labels: string[];
  durationMs: number;
  conclusion: 'success' | 'failure';
}

export interface SimSession {
  id: string;
  tokenHash: string;
  createdAtMs: number;
  lastSeenMs: number;
  /** Long polls in flight: a polling runner is online. */
  polling: number;
  pending: RunnerMessage[];
  waiters: Set<() => void>;
}

export interface SimRunner {
  id: number;
  name: string;
  scope: RunnerScope;
  scopeKey: string;
  runnerGroupId: number;
  labels: SimLabel[];
  os: string;
  version: string | null;
  ephemeral: boolean;
  workFolder: string;
  createdAtMs: number;
  clientId: string;
  credentialHash: string;
  session?: SimSession;
  /** The job it runs (set from assignment until the runner reports the result). */
  jobId: number | null;
  /** When it took that job (the REST `busy` flag may lag behind it). */
  jobAssignedAtMs: number | null;
  /** A JIT runner connects once; a second session after it ended is refused. */
  sessionsStarted: number;
}

export interface SimRun {
  id: number;
  nodeId: string;
  repo: string;
  workflowName: string;
  workflowId: number;
  path: string;
  headBranch: string;
  headSha: string;
  event: string;
  runNumber: number;
  runAttempt: number;
  createdAtMs: number;
  updatedAtMs: number;
  runStartedAtMs: number;
  checkSuiteId: number;
}

export interface SimJob {
  id: number;
  nodeId: string;
  runId: number;
  runAttempt: number;
  repo: string;
  name: string;
  labels: string[];
  status: JobStatus;
  conclusion: JobConclusion | null;
  createdAtMs: number;
  queuedAtMs: number;
  startedAtMs: number | null;
  completedAtMs: number | null;
  runnerId: number | null;
  runnerName: string | null;
  runnerGroupId: number | null;
  runnerGroupName: string | null;
  durationMs: number;
  result: 'success' | 'failure';
  environment: string | null;
  workflowName: string;
  headBranch: string;
  headSha: string;
}

export interface JobEvent {
  action: WorkflowJobAction;
  job: SimJob;
  repo: SimRepo;
  org: SimOrg | undefined;
  installation: SimInstallation | undefined;
}

export interface JobSpec {
  name: string;
  /** The `runs-on` labels. */
  runsOn: string[];
  /** Clock time the job runs once a runner takes it. Default 60 s. */
  durationMs?: number;
  /** Result the runner reports. Default success. */
  conclusion?: 'success' | 'failure';
  /** Environment with required reviewers: the job waits for approval before it is queued. */
  environment?: string;
}

export interface WorkflowRunSpec {
  repo: string;
  workflowName?: string;
  headBranch?: string;
  event?: string;
  jobs: JobSpec[];
}

export interface StateTimings {
  /** A job no runner takes fails after this much clock time. Default 24 h. */
  queueTimeoutMs: number;
  /** An idle runner that has not polled for this long shows offline. Default 90 s. */
  runnerOfflineAfterMs: number;
  /** A busy runner that stops talking is lost: its job fails and it is removed. Default 10 min. */
  runnerLostAfterMs: number;
}

export const DEFAULT_TIMINGS: StateTimings = {
  queueTimeoutMs: 24 * 3600_000,
  runnerOfflineAfterMs: 90_000,
  runnerLostAfterMs: 10 * 60_000,
};

export type JitResult =
  | { ok: true; runner: SimRunner }
  | { ok: false; status: 404 | 409 | 422; message: string; errors?: string[] };

const READ_ONLY_LABELS = new Set(['self-hosted', 'x64', 'arm64', 'linux', 'macos', 'windows']);

function nodeId(kind: string, id: number): string {
  return Buffer.from(`0${kind.length}:${kind}${id}`).toString('base64');
}

export function labelsMatch(jobLabels: string[], runnerLabels: string[]): boolean {
  const have = new Set(runnerLabels.map((l) => l.toLowerCase()));
  // Every self-hosted runner satisfies `self-hosted`, whether or not it lists it.
  return jobLabels.every((l) => l.toLowerCase() === 'self-hosted' || have.has(l.toLowerCase()));
}

export class SimState {
  readonly orgs = new Map<string, SimOrg>();
  readonly repos = new Map<string, SimRepo>();
  readonly installations = new Map<number, SimInstallation>();
  /** The simulator's Apps, the first being the one events and control answers speak for. */
  appIds: number[] = [424242];
  readonly runnerGroups = new Map<string, SimRunnerGroup[]>();
  readonly runners = new Map<number, SimRunner>();
  readonly runs = new Map<number, SimRun>();
  readonly jobs = new Map<number, SimJob>();
  private readonly labelIds = new Map<string, number>();
  private readonly listeners = new Set<(event: JobEvent) => void>();
  private readonly runnerChangeListeners = new Set<() => void>();
  private nextIds = {
    org: 9_000_001,
    repo: 700_000_001,
    installation: 50_000_001,
    runner: 101,
    run: 12_000_000_001,
    job: 33_000_000_001,
    label: 1,
    workflow: 80_000_001,
    checkSuite: 30_000_000_001,
  };
  private runNumbers = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    public timings: StateTimings = DEFAULT_TIMINGS,
  ) {}

  onJobEvent(listener: (event: JobEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(action: WorkflowJobAction, job: SimJob): void {
    const repo = this.repos.get(job.repo.toLowerCase());
    if (!repo) return;
    const org = this.orgs.get(repo.owner.toLowerCase());
    const installation = this.installationFor(repo.owner);
    const event: JobEvent = {
      action,
      job: { ...job, labels: [...job.labels] },
      repo,
      org,
      installation,
    };
    for (const listener of this.listeners) listener(event);
  }

  // ---- orgs, repos, installations --------------------------------------------------------

  createOrg(login: string, enterprise?: string): SimOrg {
    if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/.test(login)) {
      throw new SimInvalidRequestError(
        `org login ${JSON.stringify(login)} is not a valid GitHub login`,
      );
    }
    const existing = this.orgs.get(login.toLowerCase());
    if (existing) return existing;
    const id = this.nextIds.org++;
    const org: SimOrg = {
      login,
      id,
      nodeId: nodeId('Organization', id),
      createdAtMs: this.clock.now(),
    };
    if (enterprise) org.enterprise = enterprise;
    this.orgs.set(login.toLowerCase(), org);
    this.runnerGroups.set(login.toLowerCase(), [{ id: 1, name: 'Default', isDefault: true }]);
    return org;
  }

  createRunnerGroup(
    org: string,
    name: string,
    options: { allowsPublicRepositories?: boolean } = {},
  ): SimRunnerGroup {
    const groups = this.runnerGroups.get(org.toLowerCase());
    if (!groups) throw new SimNotFoundError('org', org);
    const existing = groups.find((g) => g.name.toLowerCase() === name.toLowerCase());
    if (existing) return existing;
    const group: SimRunnerGroup = {
      id: Math.max(...groups.map((g) => g.id)) + 1,
      name,
      isDefault: false,
      ...(options.allowsPublicRepositories ? { allowsPublicRepositories: true } : {}),
    };
    groups.push(group);
    return group;
  }

  createRepo(
    owner: string,
    name: string,
    options: { private?: boolean; visibility?: SimRepo['visibility'] } = {},
  ): SimRepo {
    if (!/^[A-Za-z0-9._-]{1,100}$/.test(name)) {
      throw new SimInvalidRequestError(`repository name ${JSON.stringify(name)} is not valid`);
    }
    const visibility = options.visibility ?? (options.private === false ? 'public' : 'private');
    if (!['public', 'private', 'internal'].includes(visibility)) {
      throw new SimInvalidRequestError(
        `repository visibility ${JSON.stringify(visibility)} is not one of public, private, internal`,
      );
    }
    if (options.private !== undefined && options.private !== (visibility !== 'public')) {
      throw new SimInvalidRequestError(
        `repository ${owner}/${name}: private ${options.private} contradicts visibility ${visibility}`,
      );
    }
    const fullName = `${owner}/${name}`;
    const existing = this.repos.get(fullName.toLowerCase());
    if (existing) return existing;
    const org = this.orgs.get(owner.toLowerCase());
    const id = this.nextIds.repo++;
    const repo: SimRepo = {
      id,
      nodeId: nodeId('Repository', id),
      owner: org?.login ?? owner,
      ownerId: org?.id ?? this.nextIds.org++,
      ownerType: org ? 'Organization' : 'User',
      name,
      fullName: `${org?.login ?? owner}/${name}`,
      private: visibility !== 'public',
      visibility,
      createdAtMs: this.clock.now(),
    };
    this.repos.set(fullName.toLowerCase(), repo);
    return repo;
  }

  /**
   * Installs an App on an account. Without `appId`, every App of the simulator is installed
   * (each gets its own installation id, as on GitHub); the first App's installation is returned.
   */
  createInstallation(
    account: string,
    permissions?: Record<string, 'read' | 'write'>,
    appId?: number,
  ): SimInstallation {
    if (appId === undefined) {
      const [first, ...others] = this.appIds;
      for (const other of others) this.createInstallation(account, permissions, other);
      return this.createInstallation(account, permissions, first);
    }
    const existing = this.installationFor(account, appId);
    if (existing) return existing;
    const org = this.orgs.get(account.toLowerCase());
    const id = this.nextIds.installation++;
    const installation: SimInstallation = {
      id,
      appId,
      account: org?.login ?? account,
      accountId: org?.id ?? this.nextIds.org++,
      targetType: org ? 'Organization' : 'User',
      permissions: permissions ?? {
        actions: 'write',
        administration: 'write',
        metadata: 'read',
        organization_self_hosted_runners: 'write',
      },
      createdAtMs: this.clock.now(),
    };
    this.installations.set(id, installation);
    return installation;
  }

  /** The installation of `appId` (default: the first App) on `account`. */
  installationFor(account: string, appId = this.appIds[0]): SimInstallation | undefined {
    for (const i of this.installations.values()) {
      if (i.account.toLowerCase() === account.toLowerCase() && i.appId === appId) return i;
    }
    return undefined;
  }

  repo(fullName: string): SimRepo | undefined {
    return this.repos.get(fullName.toLowerCase());
  }

  // ---- runners ---------------------------------------------------------------------------

  private labelId(name: string): number {
    const key = name.toLowerCase();
    let id = this.labelIds.get(key);
    if (id === undefined) {
      id = this.nextIds.label++;
      this.labelIds.set(key, id);
    }
    return id;
  }

  scopeExists(scope: RunnerScope): boolean {
    switch (scope.kind) {
      case 'org':
        return this.orgs.has(scope.org.toLowerCase());
      case 'repo':
        return this.repos.has(`${scope.owner}/${scope.repo}`.toLowerCase());
      case 'enterprise':
        return [...this.orgs.values()].some(
          (o) => o.enterprise?.toLowerCase() === scope.enterprise.toLowerCase(),
        );
    }
  }

  runnerGroupsOf(scope: RunnerScope): SimRunnerGroup[] {
    if (scope.kind === 'org') return this.runnerGroups.get(scope.org.toLowerCase()) ?? [];
    return [{ id: 1, name: 'Default', isDefault: true }];
  }

  /** generate-jitconfig: validates like GitHub and registers an offline ephemeral runner. */
  generateJitRunner(
    scope: RunnerScope,
    body: Record<string, unknown>,
    /** What the runner will present to open its session (see jitconfig.ts). */
    credentialProof: string,
  ): JitResult {
    if (!this.scopeExists(scope)) return { ok: false, status: 404, message: 'Not Found' };
    const errors: string[] = [];
    const { name, runner_group_id: groupId, labels, work_folder: workFolder } = body;
    if (typeof name !== 'string' || name.trim() === '') errors.push('name is missing or empty');
    else if (name.length > 64) errors.push('name is longer than 64 characters');
    if (typeof groupId !== 'number' || !Number.isInteger(groupId) || groupId < 1) {
      errors.push('runner_group_id is missing or not a positive integer');
    }
    if (!Array.isArray(labels) || labels.length < 1 || labels.length > 100) {
      errors.push('labels must be an array of 1 to 100 labels');
    } else if (labels.some((l) => typeof l !== 'string' || l.trim() === '' || l.length > 256)) {
      errors.push('every label must be a non-empty string of at most 256 characters');
    }
    if (workFolder !== undefined && typeof workFolder !== 'string') {
      errors.push('work_folder must be a string');
    }
    if (errors.length > 0) return { ok: false, status: 422, message: 'Validation Failed', errors };
    const group = this.runnerGroupsOf(scope).find((g) => g.id === groupId);
    if (!group) {
      return {
        ok: false,
        status: 422,
        message: 'Validation Failed',
        errors: [`runner group ${String(groupId)} does not exist`],
      };
    }
    const key = scopeKey(scope);
    const runnerName = name as string;
    for (const r of this.runners.values()) {
      if (r.scopeKey === key && r.name.toLowerCase() === runnerName.toLowerCase()) {
        return {
          ok: false,
          status: 409,
          message: `Already exists - A runner with the name ${runnerName} already exists.`,
        };
      }
    }
    const id = this.nextIds.runner++;
    const uniqueLabels = [
      ...new Map((labels as string[]).map((l) => [l.toLowerCase(), l])).values(),
    ];
    const runner: SimRunner = {
      id,
      name: runnerName,
      scope,
      scopeKey: key,
      runnerGroupId: group.id,
      labels: uniqueLabels.map((l) => ({
        id: this.labelId(l),
        name: l,
        type: READ_ONLY_LABELS.has(l.toLowerCase()) ? 'read-only' : 'custom',
      })),
      os: 'unknown',
      version: null,
      ephemeral: true,
      workFolder: (workFolder as string | undefined) ?? '_work',
      createdAtMs: this.clock.now(),
      clientId: randomBytes(16).toString('hex'),
      credentialHash: credentialProof,
      jobId: null,
      jobAssignedAtMs: null,
      sessionsStarted: 0,
    };
    this.runners.set(id, runner);
    this.notifyRunnerChange();
    return { ok: true, runner };
  }

  isOnline(runner: SimRunner): boolean {
    const s = runner.session;
    if (!s) return false;
    return s.polling > 0 || this.clock.now() - s.lastSeenMs < this.timings.runnerOfflineAfterMs;
  }

  isBusy(runner: SimRunner): boolean {
    return runner.jobId !== null;
  }

  /** The `busy` flag as REST reports it: GitHub's lags 25-60 s behind the job assignment. */
  reportedBusy(runner: SimRunner, lagMs: number): boolean {
    if (runner.jobId === null) return false;
    return lagMs <= 0 || this.clock.now() - (runner.jobAssignedAtMs ?? 0) >= lagMs;
  }

  runnersOf(scope: RunnerScope): SimRunner[] {
    const key = scopeKey(scope);
    return [...this.runners.values()].filter((r) => r.scopeKey === key).sort((a, b) => a.id - b.id);
  }

  /** DELETE of a runner: refused while it runs a job. */
  deleteRunner(
    scope: RunnerScope,
    id: number,
  ): { ok: true } | { ok: false; status: 404 | 422; message: string } {
    const runner = this.runners.get(id);
    if (!runner || runner.scopeKey !== scopeKey(scope)) {
      return { ok: false, status: 404, message: 'Not Found' };
    }
    if (this.isBusy(runner)) {
      return {
        ok: false,
        status: 422,
        message: `Bad request - Runner "${runner.name}" is still running a job"`,
      };
    }
    this.removeRunner(runner, { type: 'deleted' });
    return { ok: true };
  }

  private removeRunner(runner: SimRunner, farewell?: RunnerMessage): void {
    this.runners.delete(runner.id);
    if (runner.session && farewell) this.pushMessage(runner.session, farewell);
    this.notifyRunnerChange();
  }

  onRunnerChange(listener: () => void): () => void {
    this.runnerChangeListeners.add(listener);
    return () => this.runnerChangeListeners.delete(listener);
  }

  private notifyRunnerChange(): void {
    for (const l of this.runnerChangeListeners) l();
  }

  // ---- broker (runner side) --------------------------------------------------------------

  /** Opens the runner's session; the runner is online from now on. */
  openSession(
    runnerId: number,
    clientId: string,
    proof: string,
    info: { version?: string; os?: string },
  ):
    | { ok: true; session: SimSession; token: string; runner: SimRunner }
    | { ok: false; status: 401 | 404 | 409; message: string } {
    const runner = this.runners.get(runnerId);
    if (!runner || runner.clientId !== clientId) {
      return {
        ok: false,
        status: 404,
        message: 'The runner registration has been deleted from the server, please re-configure.',
      };
    }
    if (runner.credentialHash !== proof) {
      return { ok: false, status: 401, message: 'The runner credential is not valid.' };
    }
    if (runner.session) {
      return { ok: false, status: 409, message: 'A session for this runner already exists.' };
    }
    if (runner.ephemeral && runner.sessionsStarted > 0) {
      return {
        ok: false,
        status: 404,
        message: 'The runner registration has been deleted from the server, please re-configure.',
      };
    }
    const token = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const session: SimSession = {
      id: randomBytes(16).toString('hex'),
      tokenHash: sha256(token),
      createdAtMs: now,
      lastSeenMs: now,
      polling: 0,
      pending: [],
      waiters: new Set(),
    };
    runner.session = session;
    runner.sessionsStarted += 1;
    runner.version = info.version ?? '2.329.0';
    runner.os = info.os ?? 'Linux';
    this.notifyRunnerChange();
    return { ok: true, session, token, runner };
  }

  findSession(sessionId: string, token: string): SimRunner | undefined {
    for (const r of this.runners.values()) {
      if (r.session?.id === sessionId && r.session.tokenHash === sha256(token)) return r;
    }
    return undefined;
  }

  private pushMessage(session: SimSession, message: RunnerMessage): void {
    session.pending.push(message);
    for (const w of session.waiters) w();
  }

  /** Hands the oldest matching queued job to an idle runner (the runner pulls, as with the broker). */
  acquireJob(runner: SimRunner): SimJob | undefined {
    if (runner.jobId !== null || !runner.session) return undefined;
    const names = runner.labels.map((l) => l.name);
    let best: SimJob | undefined;
    for (const job of this.jobs.values()) {
      if (job.status !== 'queued') continue;
      if (!this.runnerCanSee(runner, job.repo)) continue;
      if (!labelsMatch(job.labels, names)) continue;
      if (
        !best ||
        job.queuedAtMs < best.queuedAtMs ||
        (job.queuedAtMs === best.queuedAtMs && job.id < best.id)
      ) {
        best = job;
      }
    }
    if (!best) return undefined;
    const group = this.runnerGroupsOf(runner.scope).find((g) => g.id === runner.runnerGroupId);
    best.status = 'in_progress';
    best.startedAtMs = this.clock.now();
    best.runnerId = runner.id;
    best.runnerName = runner.name;
    best.runnerGroupId = runner.runnerGroupId;
    best.runnerGroupName = group?.name ?? 'Default';
    runner.jobId = best.id;
    runner.jobAssignedAtMs = this.clock.now();
    this.touchRun(best.runId);
    this.emit('in_progress', best);
    this.notifyRunnerChange();
    return best;
  }

  private runnerCanSee(runner: SimRunner, repoName: string): boolean {
    const repo = this.repos.get(repoName.toLowerCase());
    if (!repo) return false;
    const scope = runner.scope;
    switch (scope.kind) {
      case 'repo':
        return repo.fullName.toLowerCase() === `${scope.owner}/${scope.repo}`.toLowerCase();
      case 'org':
        return repo.owner.toLowerCase() === scope.org.toLowerCase();
      case 'enterprise': {
        const org = this.orgs.get(repo.owner.toLowerCase());
        return org?.enterprise?.toLowerCase() === scope.enterprise.toLowerCase();
      }
    }
  }

  /** Next message for a polling runner: pending messages first, then a job to take. */
  takeMessage(runner: SimRunner): RunnerMessage | undefined {
    const session = runner.session;
    if (!session) return { type: 'deleted' };
    session.lastSeenMs = this.clock.now();
    const pending = session.pending.shift();
    if (pending) return pending;
    const job = this.acquireJob(runner);
    if (!job) return undefined;
    return { type: 'job', job: this.jobMessage(job) };
  }

  jobMessage(job: SimJob): RunnerJobMessage {
    return {
      jobId: job.id,
      runId: job.runId,
      runAttempt: job.runAttempt,
      name: job.name,
      repository: job.repo,
      labels: [...job.labels],
      durationMs: job.durationMs,
      conclusion: job.result,
    };
  }

  /** The runner reports the end of its job; a JIT runner is then removed. */
  completeJobFromRunner(runner: SimRunner, jobId: number, conclusion: JobConclusion): boolean {
    if (runner.jobId !== jobId) return false;
    const job = this.jobs.get(jobId);
    if (job && job.status !== 'completed') this.finishJob(job, conclusion);
    runner.jobId = null;
    if (runner.ephemeral) this.removeRunner(runner);
    else this.notifyRunnerChange();
    return true;
  }

  /** The runner goes away (SIGTERM while idle, or after its job). Ephemeral runners are removed. */
  closeSession(runner: SimRunner): void {
    if (runner.jobId !== null) {
      // A runner that quits mid-job: GitHub fails the job.
      const job = this.jobs.get(runner.jobId);
      if (job && job.status !== 'completed') this.finishJob(job, 'cancelled');
      runner.jobId = null;
    }
    if (runner.session) for (const w of runner.session.waiters) w();
    runner.session = undefined;
    if (runner.ephemeral) this.removeRunner(runner);
    else this.notifyRunnerChange();
  }

  // ---- workflow runs and jobs ------------------------------------------------------------

  createWorkflowRun(spec: WorkflowRunSpec): { run: SimRun; jobs: SimJob[] } {
    const repo = this.repos.get(spec.repo.toLowerCase());
    if (!repo) throw new SimNotFoundError('repository', spec.repo);
    if (!Array.isArray(spec.jobs) || spec.jobs.length === 0) {
      throw new SimInvalidRequestError('a workflow run needs at least one job');
    }
    for (const j of spec.jobs) {
      if (!Array.isArray(j.runsOn) || j.runsOn.length === 0) {
        throw new SimInvalidRequestError(`job ${JSON.stringify(j.name)} has no runs-on labels`);
      }
    }
    const now = this.clock.now();
    const workflowName = spec.workflowName ?? 'CI';
    const runNumber = (this.runNumbers.get(repo.fullName) ?? 0) + 1;
    this.runNumbers.set(repo.fullName, runNumber);
    const id = this.nextIds.run++;
    const run: SimRun = {
      id,
      nodeId: nodeId('WorkflowRun', id),
      repo: repo.fullName,
      workflowName,
      workflowId: this.nextIds.workflow++,
      path: `.github/workflows/${workflowName.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.yml`,
      headBranch: spec.headBranch ?? 'main',
      headSha: createHash('sha1').update(`${repo.fullName}:${id}`).digest('hex'),
      event: spec.event ?? 'push',
      runNumber,
      runAttempt: 1,
      createdAtMs: now,
      updatedAtMs: now,
      runStartedAtMs: now,
      checkSuiteId: this.nextIds.checkSuite++,
    };
    this.runs.set(id, run);
    const jobs = spec.jobs.map((j) => this.addJob(run, j));
    for (const job of jobs) this.announceNewJob(job);
    return { run, jobs };
  }

  private addJob(run: SimRun, spec: JobSpec): SimJob {
    const now = this.clock.now();
    const id = this.nextIds.job++;
    const job: SimJob = {
      id,
      nodeId: nodeId('CheckRun', id),
      runId: run.id,
      runAttempt: run.runAttempt,
      repo: run.repo,
      name: spec.name,
      labels: [...spec.runsOn],
      status: 'queued',
      conclusion: null,
      createdAtMs: now,
      queuedAtMs: now,
      startedAtMs: null,
      completedAtMs: null,
      runnerId: null,
      runnerName: null,
      runnerGroupId: null,
      runnerGroupName: null,
      durationMs: spec.durationMs ?? 60_000,
      result: spec.conclusion ?? 'success',
      environment: spec.environment ?? null,
      workflowName: run.workflowName,
      headBranch: run.headBranch,
      headSha: run.headSha,
    };
    this.jobs.set(id, job);
    return job;
  }

  private announceNewJob(job: SimJob): void {
    this.emit('queued', job);
    if (job.environment) {
      job.status = 'waiting';
      this.emit('waiting', job);
    } else {
      this.wakeIdleRunners();
    }
  }

  /** Idle runners long-polling get a chance to take new work at once. */
  private wakeIdleRunners(): void {
    for (const r of this.runners.values()) {
      if (r.session && r.jobId === null) for (const w of r.session.waiters) w();
    }
  }

  private finishJob(job: SimJob, conclusion: JobConclusion): void {
    const now = this.clock.now();
    job.status = 'completed';
    job.conclusion = conclusion;
    job.completedAtMs = now;
    if (job.startedAtMs === null) job.startedAtMs = now;
    this.touchRun(job.runId);
    this.emit('completed', job);
  }

  private touchRun(runId: number): void {
    const run = this.runs.get(runId);
    if (run) run.updatedAtMs = this.clock.now();
  }

  job(id: number): SimJob {
    const job = this.jobs.get(id);
    if (!job) throw new SimNotFoundError('job', id);
    return job;
  }

  run(id: number): SimRun {
    const run = this.runs.get(id);
    if (!run) throw new SimNotFoundError('workflow run', id);
    return run;
  }

  approveJob(jobId: number): SimJob {
    const job = this.job(jobId);
    if (job.status !== 'waiting') {
      throw new SimInvalidRequestError(`job ${jobId} is ${job.status}, not waiting for approval`);
    }
    job.status = 'queued';
    job.queuedAtMs = this.clock.now();
    this.emit('queued', job);
    this.wakeIdleRunners();
    return job;
  }

  cancelJob(jobId: number): SimJob {
    const job = this.job(jobId);
    if (job.status === 'completed') return job;
    const runnerId = job.runnerId;
    this.finishJob(job, 'cancelled');
    if (runnerId !== null) {
      const runner = this.runners.get(runnerId);
      if (runner?.session) this.pushMessage(runner.session, { type: 'cancel', jobId });
    }
    return job;
  }

  cancelRun(runId: number): SimJob[] {
    const run = this.run(runId);
    return this.jobsOfRun(run.id, 'latest')
      .filter((j) => j.status !== 'completed')
      .map((j) => this.cancelJob(j.id));
  }

  /** Re-runs all jobs of a completed run as attempt + 1 (new job ids, as on GitHub). */
  rerunRun(runId: number): { run: SimRun; jobs: SimJob[] } {
    const run = this.run(runId);
    const current = this.jobsOfRun(run.id, 'latest');
    if (current.some((j) => j.status !== 'completed')) {
      throw new SimInvalidRequestError(`workflow run ${runId} is still running; cancel it first`);
    }
    run.runAttempt += 1;
    run.runStartedAtMs = this.clock.now();
    run.updatedAtMs = run.runStartedAtMs;
    const jobs = current.map((j) =>
      this.addJob(run, {
        name: j.name,
        runsOn: j.labels,
        durationMs: j.durationMs,
        conclusion: j.result,
        ...(j.environment ? { environment: j.environment } : {}),
      }),
    );
    for (const job of jobs) this.announceNewJob(job);
    return { run, jobs };
  }

  /**
   * Re-runs one completed job of a completed run (POST .../actions/jobs/{job_id}/rerun): the run
   * moves to attempt + 1, the job is queued again under a new id and its events are sent; the
   * other jobs are carried into the new attempt with their results, as GitHub shows them.
   * Refused (403 on GitHub) while the run still runs or when the job is from an older attempt.
   */
  rerunJob(jobId: number): SimJob {
    const old = this.job(jobId);
    const run = this.run(old.runId);
    const current = this.jobsOfRun(run.id, 'latest');
    if (old.runAttempt !== run.runAttempt) {
      throw new SimInvalidRequestError(`job ${jobId} is not from the latest attempt of its run`);
    }
    if (current.some((j) => j.status !== 'completed')) {
      throw new SimInvalidRequestError(`workflow run ${run.id} is still running`);
    }
    run.runAttempt += 1;
    run.runStartedAtMs = this.clock.now();
    run.updatedAtMs = run.runStartedAtMs;
    let rerun: SimJob | undefined;
    for (const j of current) {
      const job = this.addJob(run, {
        name: j.name,
        runsOn: j.labels,
        durationMs: j.durationMs,
        conclusion: j.result,
        ...(j.environment ? { environment: j.environment } : {}),
      });
      if (j.id === old.id) {
        rerun = job;
        continue;
      }
      Object.assign(job, {
        status: 'completed',
        conclusion: j.conclusion,
        startedAtMs: j.startedAtMs,
        completedAtMs: j.completedAtMs,
      });
    }
    this.announceNewJob(rerun!);
    return rerun!;
  }

  jobsOfRun(runId: number, filter: 'latest' | 'all'): SimJob[] {
    const run = this.runs.get(runId);
    if (!run) return [];
    return [...this.jobs.values()]
      .filter((j) => j.runId === runId && (filter === 'all' || j.runAttempt === run.runAttempt))
      .sort((a, b) => a.id - b.id);
  }

  runStatus(run: SimRun): { status: JobStatus; conclusion: JobConclusion | null } {
    const jobs = this.jobsOfRun(run.id, 'latest');
    if (jobs.every((j) => j.status === 'completed')) {
      const conclusion = jobs.some((j) => j.conclusion === 'failure')
        ? 'failure'
        : jobs.some((j) => j.conclusion === 'cancelled')
          ? 'cancelled'
          : 'success';
      return { status: 'completed', conclusion };
    }
    if (jobs.some((j) => j.status === 'in_progress' || j.status === 'completed')) {
      return { status: 'in_progress', conclusion: null };
    }
    if (jobs.some((j) => j.status === 'waiting')) return { status: 'waiting', conclusion: null };
    return { status: 'queued', conclusion: null };
  }

  // ---- time ------------------------------------------------------------------------------

  /** Applies what clock time implies: queue timeouts and lost runners. Idempotent. */
  tick(): void {
    const now = this.clock.now();
    for (const job of this.jobs.values()) {
      if (job.status === 'queued' && now - job.queuedAtMs >= this.timings.queueTimeoutMs) {
        this.finishJob(job, 'failure');
      }
    }
    for (const runner of [...this.runners.values()]) {
      const s = runner.session;
      if (runner.jobId !== null && s && s.polling === 0) {
        if (now - s.lastSeenMs >= this.timings.runnerLostAfterMs) {
          const job = this.jobs.get(runner.jobId);
          if (job && job.status !== 'completed') this.finishJob(job, 'failure');
          runner.jobId = null;
          runner.session = undefined;
          this.removeRunner(runner);
        }
      }
    }
  }
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
