// GitHub errors the controller branches on. Messages never contain tokens or JIT configs.

export class GitHubError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'GitHubError';
  }
}

/** 409 from generate-jitconfig: a runner with this name exists (perhaps ours, from a retry). */
export class RunnerNameExistsError extends GitHubError {
  constructor(
    readonly runnerName: string,
    options?: ErrorOptions,
  ) {
    super(`a runner named ${runnerName} already exists`, 409, options);
    this.name = 'RunnerNameExistsError';
  }
}

/** 422 on delete: the runner is running a job. Keep it. */
export class RunnerBusyError extends GitHubError {
  constructor(
    readonly runnerId: number,
    options?: ErrorOptions,
  ) {
    super(`runner ${runnerId} is still running a job`, 422, options);
    this.name = 'RunnerBusyError';
  }
}

/** 403/429 rate limit; wait `retryAfterMs` before the next call of this kind. */
export class RateLimitedError extends GitHubError {
  constructor(
    message: string,
    status: number,
    readonly retryAfterMs: number,
    options?: ErrorOptions,
  ) {
    super(message, status, options);
    this.name = 'RateLimitedError';
  }
}

export class GitHubAuthError extends GitHubError {
  constructor(message: string, status?: number, options?: ErrorOptions) {
    super(message, status, options);
    this.name = 'GitHubAuthError';
  }
}

/**
 * 403 from POST .../actions/jobs/{job_id}/rerun that is not a rate limit: GitHub will not re-run
 * the job now (its workflow run is still running, it is not the latest attempt, or the App lacks
 * "Actions: write").
 */
export class JobRerunRefusedError extends GitHubError {
  constructor(
    readonly jobId: number,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`GitHub refused to re-run job ${jobId}: ${reason}`, 403, options);
    this.name = 'JobRerunRefusedError';
  }
}
