// ECS errors the controller branches on.

export class EcsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EcsError';
  }
}

/** RunTask `failures[]` with "Capacity is unavailable at this time..." (FARGATE_SPOT shortage). */
export class CapacityUnavailableError extends EcsError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CapacityUnavailableError';
  }
}

/** ThrottlingException: slow down and retry later. */
export class ThrottledError extends EcsError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ThrottledError';
  }
}

export class TaskDefinitionNotFoundError extends EcsError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TaskDefinitionNotFoundError';
  }
}

/** Same clientToken, different parameters. */
export class IdempotencyConflictError extends EcsError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'IdempotencyConflictError';
  }
}

/** Any other RunTask failure (`failures[]` entry or client error). */
export class LaunchFailedError extends EcsError {
  constructor(
    message: string,
    readonly reason?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'LaunchFailedError';
  }
}
