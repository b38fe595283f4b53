// `-o FORMAT` of the get commands: table (default), wide, yaml, json, name, jsonpath=TEMPLATE.
// A bad format or template is a usage error (exit 2) naming it, reported by commander.

import { InvalidArgumentError, Option } from 'commander';
import { stringify } from 'yaml';
import type { CliContext } from './context.ts';
import { JsonPathError, parseJsonPath } from './jsonpath.ts';

export type DocumentFormat =
  | { kind: 'yaml' | 'json' }
  | { kind: 'jsonpath'; template: string; render: (data: unknown) => string };
export type OutputFormat = { kind: 'wide' | 'name' } | DocumentFormat;

export function parseOutput(value: string, formats: readonly string[]): OutputFormat {
  const eq = value.indexOf('=');
  const name = eq === -1 ? value : value.slice(0, eq);
  if (name === 'jsonpath' && formats.includes('jsonpath')) {
    if (eq === -1) {
      throw new InvalidArgumentError('jsonpath needs a template: -o jsonpath=TEMPLATE');
    }
    const template = value.slice(eq + 1);
    try {
      return { kind: 'jsonpath', template, render: parseJsonPath(template) };
    } catch (err) {
      if (err instanceof JsonPathError) throw new InvalidArgumentError(err.message);
      throw err;
    }
  }
  if (eq === -1 && formats.includes(name) && name !== 'jsonpath') {
    return { kind: name } as OutputFormat;
  }
  const shown = formats.map((f) => (f === 'jsonpath' ? 'jsonpath=TEMPLATE' : f));
  throw new InvalidArgumentError(`Allowed choices are ${shown.join(', ')}.`);
}

export function outputOption(formats: readonly string[]): Option {
  const shown = formats.map((f) => (f === 'jsonpath' ? 'jsonpath=TEMPLATE' : f)).join('|');
  return new Option('-o, --output <format>', `output format: ${shown} (default: table)`).argParser(
    (value: string) => parseOutput(value, formats),
  );
}

/** Prints a document (object or List) as yaml, json or a jsonpath template's text. */
export function printDocument(ctx: CliContext, doc: unknown, format: DocumentFormat): void {
  if (format.kind === 'json') ctx.io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  else if (format.kind === 'yaml') ctx.io.stdout.write(stringify(doc));
  // As kubectl: the template's text exactly, no newline added.
  else if (format.kind === 'jsonpath') ctx.io.stdout.write(format.render(doc));
}

export function isDocumentFormat(format: OutputFormat | undefined): format is DocumentFormat {
  return format?.kind === 'json' || format?.kind === 'yaml' || format?.kind === 'jsonpath';
}
