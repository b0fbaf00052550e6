// What a worker thread builds once per model version (an explainer, an ONNX Runtime session) and
// keeps: the versions in use at once are few (the promoted ones and a few pinned), so the last
// `keep` built are kept and the oldest is dropped (and `onEvict` told) to make room.
export class PerModelCache<T> {
  private readonly items = new Map<string, T>();

  constructor(
    private readonly keep: number,
    private readonly onEvict: (item: T) => void = () => {},
  ) {}

  /** The item of `key`, built by `build` the first time (a build that throws keeps nothing). */
  get(key: string, build: () => T): T {
    const have = this.items.get(key);
    if (have !== undefined) return have;
    const item = build();
    if (this.items.size >= this.keep) {
      const [oldest, evicted] = this.items.entries().next().value!;
      this.items.delete(oldest);
      this.onEvict(evicted);
    }
    this.items.set(key, item);
    return item;
  }

  /** Forgets `item` if it is still the one kept for `key` (e.g. a session that failed to open). */
  forget(key: string, item: T): void {
    if (this.items.get(key) === item) this.items.delete(key);
  }
}
