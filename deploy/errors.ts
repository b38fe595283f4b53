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

/** Several fields of the deployment config are invalid: all of them, one per line. */
export class DeployConfigErrors extends DeployConfigError {
  constructor(
    source: string,
    readonly issues: readonly DeployConfigError[],
  ) {
    super(`${issues.length} errors:\n${issues.map((e) => `  ${e.message}`).join('\n')}`, {
      source,
    });
    this.name = 'DeployConfigErrors';
  }
}
