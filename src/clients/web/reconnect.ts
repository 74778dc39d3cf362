// Reconnect with exponential backoff and full jitter (delay = random(0, min(cap, base * 2^attempt))),
// so a fleet of clients that lost the same server does not come back in lock step.
import { Code, ConnectError } from "@connectrpc/connect";

export interface BackoffOptions {
  /** First ceiling, in milliseconds (default 250). */
  baseMs?: number;
  /** Largest ceiling, in milliseconds (default 30 000). */
  capMs?: number;
  /** Source of randomness in [0, 1) (tests pass their own). */
  random?: () => number;
}

/** The delay before retry number `attempt` (0-based), full jitter. */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? 250;
  const cap = opts.capMs ?? 30_000;
  const random = opts.random ?? Math.random;
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** Codes worth reconnecting for: the server went away or is overloaded, not a refusal. */
const RETRYABLE = new Set<Code>([Code.Unavailable, Code.Unknown, Code.Internal, Code.Aborted, Code.DeadlineExceeded]);

export function isRetryable(err: unknown): boolean {
  const ce = ConnectError.from(err);
  if (ce.code === Code.Canceled) return false;
  return RETRYABLE.has(ce.code) || ce.code === Code.ResourceExhausted;
}

export interface ReconnectOptions extends BackoffOptions {
  /** Stops reconnecting (and the current stream) when aborted. */
  signal?: AbortSignal;
  /** Decides whether an error is worth a retry (default: isRetryable). */
  retryable?: (err: unknown) => boolean;
  /** Called before each wait, e.g. to show "reconnecting in 2 s". */
  onRetry?: (err: ConnectError, attempt: number, delayMs: number) => void;
  /** Largest number of consecutive failures before giving up (default: unlimited). */
  maxAttempts?: number;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new ConnectError("aborted", Code.Canceled));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ConnectError("aborted", Code.Canceled));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Yields the events of a stream, reopening it with backoff when it fails for a retryable reason.
 * `open` gets the attempt number; use it (or your own state) to resume, e.g. from the last offset.
 * A stream that delivered at least one event resets the backoff. A stream that ends cleanly ends
 * the iteration.
 */
export async function* reconnecting<T>(
  open: (attempt: number, signal?: AbortSignal) => AsyncIterable<T>,
  opts: ReconnectOptions = {},
): AsyncGenerator<T> {
  const retryable = opts.retryable ?? isRetryable;
  let failures = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      for await (const event of open(attempt, opts.signal)) {
        failures = 0;
        yield event;
      }
      return;
    } catch (err) {
      if (opts.signal?.aborted || !retryable(err)) throw err;
      if (opts.maxAttempts !== undefined && failures + 1 >= opts.maxAttempts) throw err;
      const delay = backoffDelay(failures, opts);
      opts.onRetry?.(ConnectError.from(err), failures, delay);
      failures++;
      await sleep(delay, opts.signal);
    }
  }
}
