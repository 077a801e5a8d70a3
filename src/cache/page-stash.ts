/**
 * Pages read from the store but not admitted to the cache, held for the read they were fetched
 * for: on a metadata miss the first page comes with the metadata (one store round trip), before
 * the mount's admission rules can be checked against the object's size; a page the rules then
 * refuse is handed to the read that follows instead of being read again. Bounded (the oldest
 * goes), node-wide; a page is taken at most once.
 */
export class PageStash {
  private readonly pages = new Map<string, Buffer>();

  constructor(readonly maxPages = 8) {}

  get size(): number {
    return this.pages.size;
  }

  put(pageKey: string, data: Buffer): void {
    this.pages.delete(pageKey);
    this.pages.set(pageKey, data);
    if (this.pages.size > this.maxPages) this.pages.delete(this.pages.keys().next().value as string);
  }

  /** The page, removed from the stash; undefined when it is not there. */
  take(pageKey: string): Buffer | undefined {
    const data = this.pages.get(pageKey);
    if (data !== undefined) this.pages.delete(pageKey);
    return data;
  }
}
