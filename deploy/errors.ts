// Errors of the deployment app. One base class; every error says which file and field is wrong.

export class DeployError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeployError';
  }
}

/** The deployment config is unreadable or invalid. */
export class DeployConfigError extends DeployError {
  readonly source: string;
  readonly field?: string;

  constructor(
    message: string,
    context: { source: string; field?: string },
    options?: { cause?: unknown },
  ) {
    super(`${context.source}${context.field ? ` (${context.field})` : ''}: ${message}`, options);
    this.name = 'DeployConfigError';
    this.source = context.source;
    this.field = context.field;
  }
}
