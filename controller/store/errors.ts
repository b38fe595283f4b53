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

/** The local store's data directory is held by another process (its leveldb lock is taken). */
export class DataDirLockedError extends StoreError {
  /** The holder's process id, when it wrote one. */
  readonly pid: number | undefined;

  constructor(
    message: string,
    readonly dataDir: string,
    options?: ErrorOptions & { pid?: number },
  ) {
    super(message, options);
    this.name = 'DataDirLockedError';
    this.pid = options?.pid;
  }
}

/** The table a reader or writer was pointed at is not there (nothing creates it on the way). */
export class TableMissingError extends StoreError {
  constructor(
    message: string,
    readonly table: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'TableMissingError';
  }
}
