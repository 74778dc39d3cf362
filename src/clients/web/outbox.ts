// An async iterable the page pushes commands into: the request side of a bidi stream.
// Bounded: push() reports false when the stream is not draining (the caller decides what to drop).
export class Outbox<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(private readonly limit = 256) {}

  push(item: T): boolean {
    if (this.closed || this.items.length >= this.limit) return false;
    this.items.push(item);
    this.notify();
    return true;
  }

  /** Half-close: the stream ends after what was pushed. */
  close(): void {
    this.closed = true;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
