// Errors of the composition root: parts that cannot be started. Bad settings and unreadable
// secrets are ConfigErrors of the config loader.

export class AppError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AppError';
  }
}

/** A part of the controller (store, server, queue consumer) failed to start. */
export class StartupError extends AppError {
  constructor(
    message: string,
    readonly part: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'StartupError';
  }
}
