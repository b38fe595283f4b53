// One copy of each repeated short string the cache holds (states, pools, labels, repositories,
// clusters): thousands of cached records carry the same few values, and every listing, event or
// DescribeTasks answer brings fresh copies of them. Label lists are shared whole, frozen.
//
// Bounded: past `max` distinct values a new one is kept as it comes (not interned), so values
// that are not repeated after all cannot grow the table without end.

export class Interner {
  readonly #strings = new Map<string, string>();
  readonly #lists = new Map<string, readonly string[]>();
  readonly #max: number;

  constructor(max = 10_000) {
    this.#max = max;
  }

  string<T extends string | undefined>(value: T): T {
    if (value === undefined) return value;
    const known = this.#strings.get(value);
    if (known !== undefined) return known as T;
    if (this.#strings.size < this.#max) this.#strings.set(value, value);
    return value;
  }

  /** A frozen list equal to `values`, shared with every equal list interned before. */
  list(values: readonly string[]): readonly string[] {
    const key = values.join('\u0000');
    const known = this.#lists.get(key);
    if (known && known.length === values.length && known.every((v, i) => v === values[i])) {
      return known;
    }
    const list = Object.freeze(values.map((v) => this.string(v)));
    if (this.#lists.size < this.#max) this.#lists.set(key, list);
    return list;
  }

  get size(): number {
    return this.#strings.size + this.#lists.size;
  }

  clear(): void {
    this.#strings.clear();
    this.#lists.clear();
  }
}
