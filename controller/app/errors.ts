// Errors of the composition root: settings that cannot be turned into a running controller.

export class AppError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AppError';
  }
}

/** A secret (private key, webhook secret, token) could not be read. Never carries the value. */
export class SecretSourceError extends AppError {
  constructor(
    message: string,
    /** Which setting, e.g. `github.privateKey`. */
    readonly setting: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'SecretSourceError';
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
