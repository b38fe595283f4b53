// `-l/--selector`: Kubernetes label selectors over a resource's labels. Requirements are
// comma-separated and all must hold: `key=value` (or `==`), `key!=value`, `key` (exists),
// `!key` (absent), `key in (a,b)`, `key notin (a,b)`.

import { InvalidArgumentError, Option } from 'commander';

type Requirement =
  { key: string; op: 'in' | 'notin'; values: string[] } | { key: string; op: 'exists' | 'absent' };

export type Selector = (labels: Readonly<Record<string, string>>) => boolean;

const KEY = /^([A-Za-z0-9][-A-Za-z0-9_./]*)?[A-Za-z0-9]$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_./]*)?[A-Za-z0-9])?$/;

/** Splits on commas outside parentheses. */
function requirements(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') depth--;
    else if (text[i] === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

export function parseSelector(text: string): Selector {
  const bad = (why: string): never => {
    throw new InvalidArgumentError(`bad selector ${JSON.stringify(text)}: ${why}`);
  };
  const key = (k: string) => (KEY.test(k) ? k : bad(`${JSON.stringify(k)} is not a label key`));
  const value = (v: string) =>
    VALUE.test(v) ? v : bad(`${JSON.stringify(v)} is not a label value`);
  const reqs: Requirement[] = requirements(text).map((part): Requirement => {
    if (part === '') return bad('empty requirement');
    const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(part);
    if (set) {
      const values = set[3]!.split(',').map((v) => value(v.trim()));
      return { key: key(set[1]!), op: set[2] as 'in', values };
    }
    const cmp = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (cmp) {
      const op = cmp[2] === '!=' ? 'notin' : 'in';
      return { key: key(cmp[1]!), op, values: [value(cmp[3]!.trim())] };
    }
    if (part.startsWith('!')) return { key: key(part.slice(1).trim()), op: 'absent' };
    return { key: key(part), op: 'exists' };
  });
  return (labels) =>
    reqs.every((r) => {
      const has = Object.hasOwn(labels, r.key);
      switch (r.op) {
        case 'exists':
          return has;
        case 'absent':
          return !has;
        case 'in':
          return has && r.values.includes(labels[r.key]!);
        case 'notin':
          // As Kubernetes: a resource without the label matches `!=` and `notin`.
          return !has || !r.values.includes(labels[r.key]!);
      }
    });
}

export function selectorOption(what: string): Option {
  return new Option(
    '-l, --selector <selector>',
    `only ${what} whose labels match (key=value, key!=value, key, !key, key in (a,b))`,
  ).argParser(parseSelector);
}
