// The controller's JSON logger (pino). Every line passes the Redactor twice: values under
// secret keys are replaced before serialisation, and the finished line is scrubbed of
// secret-looking text (PEM keys, tokens) and of the secret values registered at start-up.
//
// Child-logger convention: bind the object a line is about, with these keys, so that one
// runner's or job's history can be grepped: `jobId`, `runner` (runner name), `taskArn`,
// `pool`, `repository`.

import {
  pino,
  type DestinationStream,
  type Logger as PinoLogger,
  type LevelWithSilent,
} from 'pino';
import { Redactor } from './redact.ts';

export type Logger = PinoLogger;

export interface LogContext {
  jobId?: number;
  runner?: string;
  taskArn?: string;
  pool?: string;
  repository?: string;
  [key: string]: unknown;
}

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Defaults to stdout. Tests pass a stream to read the lines back. */
  destination?: DestinationStream;
  redactor?: Redactor;
  /** Fields on every line (e.g. `{ replica }`). */
  base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const redactor = options.redactor ?? new Redactor();
  return pino(
    {
      level: options.level ?? 'info',
      base: options.base ? (redactor.value(options.base) as Record<string, unknown>) : {},
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (obj) => redactor.value(obj) as Record<string, unknown>,
        bindings: (bindings) => redactor.value(bindings) as Record<string, unknown>,
      },
      hooks: {
        // Scrub the finished line: messages (also those taken from an error) and anything the
        // key rules could not see.
        streamWrite: (line) => redactor.string(line),
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** A child logger bound to the object the lines are about (see the convention above). */
export function childLogger(logger: Logger, context: LogContext): Logger {
  const bindings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(context)) {
    if (value !== undefined) bindings[key] = value;
  }
  return logger.child(bindings);
}

/** A logger that drops everything (tests and library defaults). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
