// `-o jsonpath=TEMPLATE`: kubectl's JSONPath subset. Text outside braces is printed as is;
// inside braces: a path (`.a.b`, `$.a`, `@`, `[*]`, `[0]`, `[1:3]`, `['key']`, `..name`,
// `[?(@.a=="x")]`), a string literal (`"\n"`, `'\t'`), or `range PATH` ... `end`.
// As kubectl (allow-missing-template-keys): a missing key prints nothing.

export class JsonPathError extends Error {
  constructor(
    readonly template: string,
    reason: string,
  ) {
    super(`bad jsonpath template ${JSON.stringify(template)}: ${reason}`);
    this.name = 'JsonPathError';
  }
}

type Segment =
  | { kind: 'root' }
  | { kind: 'key'; key: string }
  | { kind: 'all' }
  | { kind: 'index'; index: number }
  | { kind: 'slice'; start?: number; end?: number }
  | { kind: 'descend'; key: string | '*' }
  | { kind: 'filter'; path: Segment[]; op?: '==' | '!=' | '<' | '>'; value?: unknown };

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'path'; path: Segment[] }
  | { kind: 'range'; path: Segment[]; body: Node[] };

/** Parses the whole template; throws JsonPathError naming it on any mistake. */
export function parseJsonPath(template: string): (data: unknown) => string {
  const fail = (reason: string): never => {
    throw new JsonPathError(template, reason);
  };
  const root: Node[] = [];
  const stack: Node[][] = [root];
  const ranges: Extract<Node, { kind: 'range' }>[] = [];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    const close = template.indexOf('}', i);
    if (close !== -1 && (open === -1 || close < open)) fail(`"}" at ${close + 1} without "{"`);
    if (open === -1) {
      stack.at(-1)!.push({ kind: 'text', text: template.slice(i) });
      break;
    }
    if (open > i) stack.at(-1)!.push({ kind: 'text', text: template.slice(i, open) });
    const end = closingBrace(template, open + 1);
    if (end === -1) fail(`unclosed "{" at ${open + 1}`);
    const expr = template.slice(open + 1, end).trim();
    i = end + 1;
    if (expr === 'end') {
      if (ranges.length === 0) fail('{end} without {range}');
      ranges.pop();
      stack.pop();
      continue;
    }
    if (expr.startsWith('range ') || expr === 'range') {
      const path = parsePath(expr.slice(5).trim(), fail);
      const node: Extract<Node, { kind: 'range' }> = { kind: 'range', path, body: [] };
      stack.at(-1)!.push(node);
      ranges.push(node);
      stack.push(node.body);
      continue;
    }
    if (expr.startsWith('"') || expr.startsWith("'")) {
      stack.at(-1)!.push({ kind: 'text', text: parseString(expr, fail) });
      continue;
    }
    if (expr === '') fail('empty {}');
    stack.at(-1)!.push({ kind: 'path', path: parsePath(expr, fail) });
  }
  if (ranges.length > 0) fail('{range} without {end}');
  return (data) => render(root, data, data);
}

/** Index of the `}` closing an expression that starts at `from`, skipping quoted strings. */
function closingBrace(text: string, from: number): number {
  let quote: string | undefined;
  for (let i = from; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '}') return i;
  }
  return -1;
}

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '\\': '\\',
  '"': '"',
  "'": "'",
};

function parseString(expr: string, fail: (r: string) => never): string {
  const q = expr[0]!;
  if (expr.length < 2 || expr.at(-1) !== q) fail(`unterminated string ${expr}`);
  let out = '';
  for (let i = 1; i < expr.length - 1; i++) {
    const c = expr[i]!;
    if (c === '\\') {
      const e = ESCAPES[expr[++i] ?? ''];
      if (e === undefined) fail(`unknown escape \\${expr[i] ?? ''} in ${expr}`);
      out += e;
    } else out += c;
  }
  return out;
}

const IDENT = /^[A-Za-z_][\w-]*/;

function parsePath(expr: string, fail: (r: string) => never): Segment[] {
  let s = expr;
  const segments: Segment[] = [];
  if (s.startsWith('$')) segments.push({ kind: 'root' });
  if (s.startsWith('$') || s.startsWith('@')) s = s.slice(1);
  while (s.length > 0) {
    if (s.startsWith('..')) {
      s = s.slice(2);
      if (s.startsWith('*')) {
        segments.push({ kind: 'descend', key: '*' });
        s = s.slice(1);
        continue;
      }
      const m = IDENT.exec(s);
      if (!m) fail(`expected a field name after ".." in ${expr}`);
      segments.push({ kind: 'descend', key: m![0] });
      s = s.slice(m![0].length);
    } else if (s.startsWith('.')) {
      s = s.slice(1);
      if (s === '') break; // `{.}`: the current object
      if (s.startsWith('*')) {
        segments.push({ kind: 'all' });
        s = s.slice(1);
        continue;
      }
      const m = IDENT.exec(s);
      if (!m) fail(`expected a field name after "." in ${expr}`);
      segments.push({ kind: 'key', key: m![0] });
      s = s.slice(m![0].length);
    } else if (s.startsWith('[')) {
      const end = closingBracket(s);
      if (end === -1) fail(`unclosed "[" in ${expr}`);
      segments.push(parseBracket(s.slice(1, end).trim(), expr, fail));
      s = s.slice(end + 1);
    } else {
      fail(`unexpected ${JSON.stringify(s[0])} in ${expr} (paths start with "." or "$")`);
    }
  }
  return segments;
}

function closingBracket(s: string): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[') depth++;
    else if (c === ']' && --depth === 0) return i;
  }
  return -1;
}

function parseBracket(inner: string, expr: string, fail: (r: string) => never): Segment {
  if (inner === '*') return { kind: 'all' };
  if (/^-?\d+$/.test(inner)) return { kind: 'index', index: Number(inner) };
  const slice = /^(-?\d+)?:(-?\d+)?$/.exec(inner);
  if (slice) {
    return {
      kind: 'slice',
      ...(slice[1] !== undefined ? { start: Number(slice[1]) } : {}),
      ...(slice[2] !== undefined ? { end: Number(slice[2]) } : {}),
    };
  }
  if (/^'[^']*'$|^"[^"]*"$/.test(inner)) return { kind: 'key', key: inner.slice(1, -1) };
  const filter = /^\?\(\s*@((?:\.[\w-]+)+)\s*(?:(==|!=|<|>)\s*(.+?))?\s*\)$/.exec(inner);
  if (filter) {
    const path = parsePath(filter[1]!, fail);
    if (!filter[2]) return { kind: 'filter', path };
    return { kind: 'filter', path, op: filter[2] as '==', value: literal(filter[3]!, fail) };
  }
  return fail(`unsupported [${inner}] in ${expr}`);
}

function literal(text: string, fail: (r: string) => never): unknown {
  if (/^'.*'$|^".*"$/.test(text)) return text.slice(1, -1);
  if (text === 'true' || text === 'false') return text === 'true';
  const n = Number(text);
  if (text !== '' && !Number.isNaN(n)) return n;
  return fail(`filter value ${text} must be a quoted string, a number or true/false`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function step(values: unknown[], seg: Segment, root: unknown): unknown[] {
  if (seg.kind === 'root') return [root];
  const out: unknown[] = [];
  for (const v of values) {
    switch (seg.kind) {
      case 'key':
        if (isObject(v) && !Array.isArray(v) && seg.key in v) out.push(v[seg.key]);
        break;
      case 'all':
        if (Array.isArray(v)) out.push(...v);
        else if (isObject(v)) out.push(...Object.values(v));
        break;
      case 'index':
        if (Array.isArray(v)) {
          const item = v.at(seg.index);
          if (item !== undefined) out.push(item);
        }
        break;
      case 'slice':
        if (Array.isArray(v)) out.push(...v.slice(seg.start, seg.end));
        break;
      case 'descend':
        descend(v, seg.key, out);
        break;
      case 'filter':
        if (Array.isArray(v)) out.push(...v.filter((item) => matches(item, seg, root)));
        break;
    }
  }
  return out;
}

function descend(v: unknown, key: string, out: unknown[]): void {
  if (!isObject(v)) return;
  for (const [k, child] of Object.entries(v)) {
    if (key === '*' || (!Array.isArray(v) && k === key)) out.push(child);
    descend(child, key, out);
  }
}

function matches(item: unknown, seg: Extract<Segment, { kind: 'filter' }>, root: unknown) {
  const [found] = evaluate(seg.path, item, root);
  if (seg.op === undefined) return found !== undefined;
  switch (seg.op) {
    case '==':
      return found === seg.value;
    case '!=':
      return found !== seg.value;
    case '<':
      return typeof found === typeof seg.value && (found as number) < (seg.value as number);
    case '>':
      return typeof found === typeof seg.value && (found as number) > (seg.value as number);
  }
}

function evaluate(path: Segment[], current: unknown, root: unknown): unknown[] {
  return path.reduce<unknown[]>((values, seg) => step(values, seg, root), [current]);
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (isObject(v)) return JSON.stringify(v);
  return String(v);
}

function render(nodes: Node[], data: unknown, current: unknown): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') out += node.text;
    else if (node.kind === 'path') {
      out += evaluate(node.path, current, data).map(text).join(' ');
    } else {
      let items = evaluate(node.path, current, data);
      // `{range .items}` walks the array, as `{range .items[*]}` does.
      if (items.length === 1 && Array.isArray(items[0])) items = items[0] as unknown[];
      for (const item of items) out += render(node.body, data, item);
    }
  }
  return out;
}
