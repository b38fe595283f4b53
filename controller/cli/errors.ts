// Errors of the CLI. Each carries the exit code it maps to.

export class CliError extends Error {
  /** 1: validation, conflict or failed operation; 2: usage. */
  readonly exitCode: number = 1;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** The command line itself is wrong (missing flag, flags that do not fit together). */
export class UsageError extends CliError {
  override readonly exitCode: number = 2;

  constructor(
    message: string,
    readonly command: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'UsageError';
  }
}

/**
 * A command's own non-zero result, already reported on its output (e.g. `drift` found drift:
 * exit 3). Nothing more is printed.
 */
export class ExitStatus extends CliError {
  constructor(override readonly exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = 'ExitStatus';
  }
}
