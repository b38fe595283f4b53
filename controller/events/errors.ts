// Errors of event ingestion. Messages name the field that was wrong, never a secret.

export class EventError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EventError';
  }
}

/** A payload that can never be ingested (poison): wrong shape, wrong source, missing field. */
export class InvalidEventError extends EventError {
  constructor(
    message: string,
    /** JSON path of the offending field, e.g. `workflow_job.run_id`. */
    readonly field?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'InvalidEventError';
  }
}

/** The webhook signature header is missing, malformed or does not match the body. */
export class SignatureError extends EventError {
  constructor(
    message: string,
    readonly reason: 'missing' | 'malformed' | 'mismatch' | 'no-secret',
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'SignatureError';
  }
}
