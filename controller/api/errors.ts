// Errors of the pool API: malformed documents and a broken schema file.

export class ApiError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ApiError';
  }
}

/** One problem in one document, located in its source file. */
export interface ValidationIssue {
  file: string;
  /** 1-based; 0 when the source position is unknown. */
  line: number;
  column: number;
  /** Field path such as `spec.sizes[1].memory`; `(document)` for the document itself. */
  path: string;
  message: string;
}

export function formatIssue(issue: ValidationIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}` : issue.file;
  return `${where}: ${issue.path}: ${issue.message}`;
}

/** One or more documents are invalid; nothing may be written. */
export class ValidationError extends ApiError {
  constructor(
    readonly issues: ValidationIssue[],
    options?: ErrorOptions,
  ) {
    super(
      issues.length === 1
        ? formatIssue(issues[0]!)
        : `${issues.length} validation errors:\n${issues.map(formatIssue).join('\n')}`,
      options,
    );
    this.name = 'ValidationError';
  }
}

/** crds/runnerpool.yaml cannot be loaded or names a rule the code does not implement. */
export class SchemaError extends ApiError {
  constructor(
    message: string,
    readonly schemaFile: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'SchemaError';
  }
}
