// A small builder for DynamoDB expressions: every attribute name goes through a `#name`
// placeholder (so reserved words such as `status` and `name` are never a problem) and every
// value through a `:vN` placeholder.

import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { convertToAttr } from '@aws-sdk/util-dynamodb';

export const MARSHALL_OPTIONS = { removeUndefinedValues: true } as const;

export class Expression {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, AttributeValue> = {};
  private counter = 0;

  name(attribute: string): string {
    const placeholder = `#${attribute.replace(/[^A-Za-z0-9_]/g, '_')}`;
    this.names[placeholder] = attribute;
    return placeholder;
  }

  value(value: unknown): string {
    const placeholder = `:v${this.counter++}`;
    this.values[placeholder] = convertToAttr(value, MARSHALL_OPTIONS);
    return placeholder;
  }

  /** The parts to spread into a command input; empty maps are left out (DynamoDB rejects them). */
  params(): {
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues?: Record<string, AttributeValue>;
  } {
    return {
      ...(Object.keys(this.names).length ? { ExpressionAttributeNames: this.names } : {}),
      ...(Object.keys(this.values).length ? { ExpressionAttributeValues: this.values } : {}),
    };
  }
}

/** Joins condition clauses with AND, each in parentheses; undefined when there are none. */
export function and(...clauses: (string | undefined)[]): string | undefined {
  const present = clauses.filter((c): c is string => Boolean(c));
  if (present.length === 0) return undefined;
  return present.map((c) => `(${c})`).join(' AND ');
}
