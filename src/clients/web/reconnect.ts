// Reconnect with exponential backoff and full jitter (delay = random(0, min(cap, base * 2^attempt))),
// so a fleet of clients that lost the same server does not come back in lock step.
//
// When the server says how long to stay away (a `google.rpc.RetryInfo` detail on the status, as the
// hub sends with UNAVAILABLE and RESOURCE_EXHAUSTED refusals), that advice is a floor: the wait is
// at least `retry_delay`, plus up to half of it again as jitter, so a fleet told "1 s" does not all
// come back in the same millisecond either. Same rule as the Python client (realtime.client.backoff).
import { Code, ConnectError } from "@connectrpc/connect";
import { RetryInfoSchema } from "../../../gen/ts/google/rpc/error_details_pb.js";

/** Waits `ms`, or rejects with CANCELED when `signal` aborts first. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export interface BackoffOptions {
  /** First ceiling, in milliseconds (default 250). */
  baseMs?: number;
  /** Largest ceiling, in milliseconds (default 30 000). */
  capMs?: number;
  /** Source of randomness in [0, 1) (tests pass their own). */
  random?: () => number;
  /** How to wait (default: a timer; tests pass their own). */
  sleep?: Sleep;
}

/** The longest server advice honoured (as the Python client): a bogus RetryInfo of a day does not
 * park the client for a day. */
export const MAX_ADVICE_MS = 300_000;

/** The delay before retry number `attempt` (0-based), full jitter. */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? 250;
  const cap = opts.capMs ?? 30_000;
  const random = opts.random ?? Math.random;
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** Milliseconds the server's `google.rpc.RetryInfo` asks the client to wait, if the error has one
 * (over gRPC from `grpc-status-details-bin`, over gRPC-Web and Connect from their trailers). */
export function retryAfterMs(err: unknown): number | undefined {
  const [info] = ConnectError.from(err).findDetails(RetryInfoSchema); // undecodable details are skipped
  if (info === undefined) return undefined;
  const d = info.retryDelay;
  const ms = d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 0;
  return Math.min(Math.max(ms, 0), MAX_ADVICE_MS);
}

/**
 * The wait before retry number `attempt` (0-based) after `err`: the client's own full-jitter delay,
 * but never less than the server's RetryInfo advice, which gets up to 50 % jitter on top:
 * `max(backoffDelay(attempt), uniform(advice, 1.5 * advice))`.
 */
export function retryDelay(attempt: number, err: unknown, opts: BackoffOptions = {}): number {
  const own = backoffDelay(attempt, opts);
  const advised = retryAfterMs(err);
  if (advised === undefined) return own;
  const random = opts.random ?? Math.random;
  return Math.max(own, Math.ceil(advised * (1 + random() / 2)));
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
  /** Called before each wait, e.g. to show "reconnecting in 2 s" (`retryAfterMs(err)` is the
   * server's advice, if any). */
  onRetry?: (err: ConnectError, attempt: number, delayMs: number) => void;
  /** Largest number of consecutive failures before giving up (default: unlimited). */
  maxAttempts?: number;
}

/** The default Sleep: a timer that an abort cancels. */
export const sleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
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

/**
 * Yields the events of a stream, reopening it with backoff when it fails for a retryable reason.
 * `open` gets the attempt number; use it (or your own state) to resume, e.g. from the last offset.
 * A stream that delivered at least one event resets the backoff. A stream that ends cleanly ends
 * the iteration. A RetryInfo on the error is a floor for the wait (see `retryDelay`).
 */
export async function* reconnecting<T>(
  open: (attempt: number, signal?: AbortSignal) => AsyncIterable<T>,
  opts: ReconnectOptions = {},
): AsyncGenerator<T> {
  const retryable = opts.retryable ?? isRetryable;
  const wait = opts.sleep ?? sleep;
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
      const delay = retryDelay(failures, err, opts);
      opts.onRetry?.(ConnectError.from(err), failures, delay);
      failures++;
      await wait(delay, opts.signal);
    }
  }
}
