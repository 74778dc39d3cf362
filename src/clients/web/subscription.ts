// A notification subscription that recovers by itself (web and Node), as Centrifugo's SDKs do.
//
//   const sub = notificationSubscription([clientA, clientB], ["topic:news"], {
//     onReconnect: (r) => console.log(`dropped (${r.code}); retrying in ${r.delayMs} ms`),
//   });
//   for await (const ev of sub) {
//     if (ev.event.case === "notification") show(ev.event.value);
//     if (ev.event.case === "subscribed" && ev.event.value.resumed && !ev.event.value.recovered) reload();
//   }
//
// Per channel it keeps the last position received without a gap. When the stream fails with a
// retryable status (replica gone, broker lost, shutdown, slow consumer) it waits (full-jitter
// backoff, never less than the server's RetryInfo advice: see reconnect.ts), reconnects to the
// next client of the list (one per replica) and resubscribes every channel from there. Every notification is yielded once: offsets a resume may send again are
// dropped here. `subscribed` events report `recovered` and `notRecoveredReason`.
// It asks for batches (`acceptBatches`): notifications the hub had queued arrive in one `batch`
// event, unpacked here, so the application still sees one `notification` event each.
import { create } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { StreamPosition } from "../../../gen/ts/realtime/v1/common_pb.js";
import { StreamPositionSchema } from "../../../gen/ts/realtime/v1/common_pb.js";
import {
  type NotificationService,
  type SubscribeRequest,
  SubscribeRequestSchema,
  type SubscribeResponse,
  SubscribeResponseSchema,
} from "../../../gen/ts/realtime/v1/notifications_pb.js";
import { Outbox } from "./outbox.js";
import { type BackoffOptions, isRetryable, retryAfterMs, retryDelay, sleep } from "./reconnect.js";

export interface Reconnect {
  code: Code;
  message: string;
  delayMs: number;
  /** Consecutive failures so far (1 for the first). */
  attempt: number;
  /** The wait the server asked for (google.rpc.RetryInfo), if it did: `delayMs` is at least this. */
  retryAfterMs?: number;
}

export interface SubscriptionOptions extends BackoffOptions {
  /** Resume these channels after these positions (e.g. saved from `positions()` of a previous run). */
  positions?: Record<string, { epoch: string; offset: bigint }>;
  /** Ask for join/leave `presence` events on the listed channels. */
  joinLeave?: boolean;
  /** Stops the subscription when aborted. */
  signal?: AbortSignal;
  /** Told before each wait. */
  onReconnect?: (r: Reconnect) => void;
  /** Largest number of consecutive failures before giving up (default: unlimited). */
  maxAttempts?: number;
  /** Let the hub send queued notifications in batch events (default true; they are unpacked here). */
  acceptBatches?: boolean;
}

/** The id of the ping that opts in to batches when there is no subscribe command to carry it. */
const OPT_IN = "accept-batches";

/** Offsets received in one epoch: every one up to `contiguous`, plus some beyond it. */
export class Cursor {
  readonly ahead = new Set<bigint>();
  constructor(
    public epoch: string,
    public contiguous: bigint,
  ) {}

  /** Records a notification; false when it was already handed out. */
  take(epoch: string, offset: bigint): boolean {
    if (epoch !== this.epoch) {
      this.epoch = epoch;
      this.contiguous = offset;
      this.ahead.clear();
      return true;
    }
    if (offset <= this.contiguous || this.ahead.has(offset)) return false;
    if (offset === this.contiguous + 1n) {
      this.contiguous = offset;
      while (this.ahead.delete(this.contiguous + 1n)) this.contiguous += 1n;
    } else {
      this.ahead.add(offset);
    }
    return true;
  }
}

type NotificationClient = Client<typeof NotificationService>;

export class NotificationSubscription implements AsyncIterable<SubscribeResponse> {
  private readonly clients: NotificationClient[];
  private readonly cursors = new Map<string, Cursor>();
  private next = 0;

  constructor(
    clients: NotificationClient | NotificationClient[],
    readonly channels: string[],
    private readonly opts: SubscriptionOptions = {},
  ) {
    this.clients = Array.isArray(clients) ? clients : [clients];
    if (this.clients.length === 0) throw new Error("at least one client");
    for (const [channel, p] of Object.entries(opts.positions ?? {})) this.cursors.set(channel, new Cursor(p.epoch, p.offset));
  }

  /** Per channel, the position a resume starts after (everything up to it was handed out). */
  positions(): Map<string, StreamPosition> {
    const out = new Map<string, StreamPosition>();
    for (const [channel, c] of this.cursors) out.set(channel, create(StreamPositionSchema, { epoch: c.epoch, offset: c.contiguous }));
    return out;
  }

  private commands(): Outbox<SubscribeRequest> {
    const out = new Outbox<SubscribeRequest>(1024);
    const channels = [...new Set([...this.cursors.keys(), ...this.channels])];
    const acceptBatches = this.opts.acceptBatches ?? true;
    channels.forEach((channel, i) => {
      const c = this.cursors.get(channel);
      const since = c ? create(StreamPositionSchema, { epoch: c.epoch, offset: c.contiguous }) : undefined;
      const joinLeave = (this.opts.joinLeave ?? false) && this.channels.includes(channel);
      out.push(create(SubscribeRequestSchema, { id: `r${i}`, acceptBatches, command: { case: "subscribe", value: { channel, since, joinLeave } } }));
    });
    if (acceptBatches && channels.length === 0) {
      out.push(create(SubscribeRequestSchema, { id: OPT_IN, acceptBatches, command: { case: "ping", value: {} } }));
    }
    return out;
  }

  private accept(ev: SubscribeResponse): boolean {
    if (ev.event.case === "notification") {
      const n = ev.event.value;
      const pos = n.position ?? create(StreamPositionSchema);
      const cursor = this.cursors.get(n.channel);
      if (!cursor) {
        this.cursors.set(n.channel, new Cursor(pos.epoch, pos.offset));
        return true;
      }
      return cursor.take(pos.epoch, pos.offset);
    }
    if (ev.event.case === "subscribed") {
      const s = ev.event.value;
      const pos = s.position ?? create(StreamPositionSchema);
      const cursor = this.cursors.get(s.channel);
      if (!cursor || (s.resumed && !s.recovered)) this.cursors.set(s.channel, new Cursor(pos.epoch, pos.offset));
      return ev.commandId !== "" || !cursor; // the automatic ones only the first time
    }
    return !(ev.event.case === "pong" && ev.commandId === OPT_IN);
  }

  /** The stream's events with each batch unpacked into single `notification` events. */
  private static *unpack(ev: SubscribeResponse): Generator<SubscribeResponse> {
    if (ev.event.case !== "batch") {
      yield ev;
      return;
    }
    for (const value of ev.event.value.notifications) {
      yield create(SubscribeResponseSchema, { event: { case: "notification", value } });
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SubscribeResponse> {
    let failures = 0;
    for (;;) {
      const client = this.clients[this.next % this.clients.length];
      const commands = this.commands();
      try {
        for await (const event of client.subscribe(commands, { signal: this.opts.signal })) {
          for (const ev of NotificationSubscription.unpack(event)) {
            if (!this.accept(ev)) continue;
            if (ev.event.case === "notification" || ev.event.case === "subscribed") failures = 0;
            yield ev;
          }
        }
        return;
      } catch (err) {
        // A replica that dies mid-stream shows in Node as an HTTP/2 stream closed with CANCEL: not our
        // own cancellation unless our signal was aborted.
        const lost = ConnectError.from(err).code === Code.Canceled;
        if (this.opts.signal?.aborted || !(isRetryable(err) || lost)) throw err;
        failures++;
        if (this.opts.maxAttempts !== undefined && failures >= this.opts.maxAttempts) throw err;
        this.next++; // another replica next time
        const delayMs = retryDelay(failures - 1, err, this.opts);
        const ce = ConnectError.from(err);
        this.opts.onReconnect?.({ code: ce.code, message: ce.rawMessage, delayMs, attempt: failures, retryAfterMs: retryAfterMs(ce) });
        await (this.opts.sleep ?? sleep)(delayMs, this.opts.signal);
      } finally {
        commands.close();
      }
    }
  }
}

/** A NotificationSubscription (see the file's header). */
export function notificationSubscription(
  clients: NotificationClient | NotificationClient[],
  channels: string[],
  opts: SubscriptionOptions = {},
): NotificationSubscription {
  return new NotificationSubscription(clients, channels, opts);
}
