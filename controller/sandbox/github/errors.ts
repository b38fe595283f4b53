// Errors of the GitHub simulator. Messages never carry tokens, keys or JIT configs.

export class GitHubSimulatorError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'GitHubSimulatorError';
  }
}

/** A control-API call named something that does not exist (org, repo, job, run, runner). */
export class SimNotFoundError extends GitHubSimulatorError {
  constructor(
    readonly kind: string,
    readonly key: string | number,
    options?: ErrorOptions,
  ) {
    super(`${kind} ${String(key)} does not exist in the GitHub simulator`, options);
    this.name = 'SimNotFoundError';
  }
}

/** A control-API call that is not allowed in the current state (e.g. re-run of a running run). */
export class SimInvalidRequestError extends GitHubSimulatorError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SimInvalidRequestError';
  }
}

/** A control-API call over HTTP that the remote simulator refused. */
export class SimRemoteError extends GitHubSimulatorError {
  constructor(
    message: string,
    readonly status: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'SimRemoteError';
  }
}
