// Errors of the store. ConditionalCheckFailedException becomes one of these.

export class StoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/** A conditional write lost: the item changed since it was read, or already exists. */
export class ConflictError extends StoreError {
  constructor(
    message: string,
    readonly key: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ConflictError';
  }
}

export class NotFoundError extends StoreError {
  constructor(
    message: string,
    readonly key: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'NotFoundError';
  }
}

/** A write was refused because a newer lease holder has written the item. */
export class FencingError extends StoreError {
  constructor(
    message: string,
    readonly key: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'FencingError';
  }
}
