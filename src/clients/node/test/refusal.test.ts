// The Node client against a real hub that refuses: `--max-streams-per-user 1` makes the hub end a
// second stream of a user RESOURCE_EXHAUSTED with google.rpc.RetryInfo (1 s). Every retry path
// must wait at least that long (real timers here; what each path asked to wait is recorded), then
// get in once the user's other stream is closed. Started by tests/e2e/test_node_retry_info.py,
// which passes REALTIME_GRPC_URL, REALTIME_HTTP_URL (the gateway) and one token per test
// (REALTIME_TOKEN_1..4, distinct users, so a slot still being given back by one test never refuses
// the next). The browser client's tests run it in Node (fetch for gRPC-Web; node
// --experimental-websocket for the WebSocket bridge): the same code a page runs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { DiagnosticsService, type EchoStreamRequest, EchoStreamRequestSchema, type EchoStreamResponse } from "../../../../gen/ts/realtime/v1/diagnostics_pb.js";
import { NotificationService } from "../../../../gen/ts/realtime/v1/notifications_pb.js";
import { Outbox } from "../../web/outbox.js";
import { createHubTransport, readResource as webReadResource, notificationSubscription as webSubscription } from "../../web/index.js";
import { sleep as timer } from "../../web/reconnect.js";
import {
  Code,
  type Reconnect,
  createClient,
  createHubNodeTransport,
  notificationSubscription,
  reconnecting,
  staticToken,
  uploadBlob,
} from "../index.js";

const baseUrl = process.env.REALTIME_GRPC_URL ?? "http://127.0.0.1:50051";
const httpUrl = process.env.REALTIME_HTTP_URL ?? "http://127.0.0.1:8080";
const ADVICE_MS = 1000; // the hub's RetryInfo on a refused stream (platform/limits.py)

function transportFor(n: number) {
  return createHubNodeTransport({ baseUrl, token: staticToken(process.env[`REALTIME_TOKEN_${n}`] ?? ""), defaultTimeoutMs: 30_000 });
}

/** A real sleep that remembers what it was asked to wait. */
function recordedSleep() {
  const waits: number[] = [];
  return { waits, sleep: (ms: number, signal?: AbortSignal) => (waits.push(ms), timer(ms, signal)) };
}

/** Opens one EchoStream (the user's only slot) and waits until the hub answered on it. */
async function holdTheSlot(n: number): Promise<{ release: () => void; ended: Promise<void> }> {
  const out = new Outbox<EchoStreamRequest>();
  out.push(create(EchoStreamRequestSchema, { id: "hold", command: { case: "ping", value: {} } }));
  const events = createClient(DiagnosticsService, transportFor(n)).echoStream(out)[Symbol.asyncIterator]();
  const first: IteratorResult<EchoStreamResponse> = await events.next();
  assert.equal(first.done, false);
  const ended = (async () => {
    for (let ev = await events.next(); !ev.done; ev = await events.next()) {
      // drain until the hub ends it
    }
  })();
  return { release: () => out.close(), ended };
}

function assertAdvised(waits: number[], told: number[]) {
  assert.ok(waits.length >= 1, "at least one refusal");
  assert.deepEqual(waits, told, "waited what was reported");
  for (const w of waits) assert.ok(w >= ADVICE_MS && w <= ADVICE_MS * 1.5, `waited ${w} ms for advice of ${ADVICE_MS} ms`);
}

test("a notification subscription refused by the stream cap waits the hub's RetryInfo, then gets in", async () => {
  const hold = await holdTheSlot(1);
  const { waits, sleep } = recordedSleep();
  const reconnects: Reconnect[] = [];
  const ac = new AbortController();
  const guard = setTimeout(() => ac.abort(), 60_000);
  const sub = notificationSubscription(createClient(NotificationService, transportFor(1)), ["topic:retry-info"], {
    baseMs: 1, // our own backoff is far below the advice: only RetryInfo can make the wait 1 s
    maxAttempts: 6,
    signal: ac.signal,
    sleep,
    onReconnect: (r) => {
      reconnects.push(r);
      hold.release(); // the slot frees while we wait
    },
  });
  let subscribed = false;
  try {
    for await (const ev of sub) {
      if (ev.event.case === "subscribed" && ev.event.value.channel === "topic:retry-info") {
        subscribed = true;
        break;
      }
    }
  } finally {
    clearTimeout(guard);
    ac.abort();
  }
  await hold.ended;
  assert.ok(subscribed);
  assert.equal(reconnects[0].code, Code.ResourceExhausted, reconnects[0].message);
  for (const r of reconnects) assert.equal(r.retryAfterMs, ADVICE_MS);
  assertAdvised(waits, reconnects.map((r) => r.delayMs));
});

test("reconnecting() over EchoStream waits the hub's RetryInfo, then gets in", async () => {
  const hold = await holdTheSlot(2);
  const { waits, sleep } = recordedSleep();
  const told: number[] = [];
  const diag = createClient(DiagnosticsService, transportFor(2));
  const ac = new AbortController();
  const guard = setTimeout(() => ac.abort(), 60_000);
  let pongs = 0;
  try {
    for await (const ev of reconnecting(
      (_n, signal) => {
        const out = new Outbox<EchoStreamRequest>();
        out.push(create(EchoStreamRequestSchema, { id: "p", command: { case: "ping", value: {} } }));
        out.close();
        return diag.echoStream(out, { signal });
      },
      {
        baseMs: 1,
        maxAttempts: 6,
        signal: ac.signal,
        sleep,
        onRetry: (err, _n, delay) => {
          assert.equal(err.code, Code.ResourceExhausted, err.rawMessage);
          told.push(delay);
          hold.release();
        },
      },
    )) {
      if (ev.event.case === "pong") pongs++;
    }
  } finally {
    clearTimeout(guard);
    ac.abort();
  }
  await hold.ended;
  assert.equal(pongs, 1);
  assertAdvised(waits, told);
});

test("an upload whose Write is refused by the stream cap waits the hub's RetryInfo, then completes", async () => {
  const hold = await holdTheSlot(3);
  const { waits, sleep } = recordedSleep();
  const told: number[] = [];
  const bytes = new TextEncoder().encode("retry-info ".repeat(3000));
  const done = await uploadBlob(transportFor(3), new Blob([bytes]), {
    contentType: "text/plain",
    chunkSize: 8192,
    backoff: { baseMs: 1, sleep },
    onRetry: (err, _n, delay) => {
      assert.equal(err.code, Code.ResourceExhausted, err.rawMessage);
      told.push(delay);
      hold.release();
    },
  });
  await hold.ended;
  assert.ok(done.complete);
  assert.equal(Number(done.size), bytes.length);
  assertAdvised(waits, told);
});

test("the browser client through the gateway: WebSocket and gRPC-Web refusals carry RetryInfo and are waited out", async () => {
  assert.equal(typeof globalThis.WebSocket, "function", "run node with --experimental-websocket");
  const web = createHubTransport({ baseUrl: httpUrl, token: staticToken(process.env.REALTIME_TOKEN_4 ?? "") });
  // The user's only slot is taken over the hub's gRPC port; the page's streams go through the gateway.
  let hold = await holdTheSlot(4);
  const { waits, sleep } = recordedSleep();
  const reconnects: Reconnect[] = [];
  const ac = new AbortController();
  const guard = setTimeout(() => ac.abort(), 60_000);
  const sub = webSubscription(createClient(NotificationService, web), ["topic:retry-info-web"], {
    baseMs: 1,
    maxAttempts: 6,
    signal: ac.signal,
    sleep,
    onReconnect: (r) => {
      reconnects.push(r);
      hold.release();
    },
  });
  let subscribed = false;
  try {
    for await (const ev of sub) {
      if (ev.event.case === "subscribed") {
        subscribed = true;
        break;
      }
    }
  } finally {
    clearTimeout(guard);
    ac.abort();
  }
  await hold.ended;
  assert.ok(subscribed);
  assert.equal(reconnects[0].code, Code.ResourceExhausted, reconnects[0].message);
  for (const r of reconnects) assert.equal(r.retryAfterMs, ADVICE_MS, "the WebSocket bridge carries grpc-status-details-bin");
  assertAdvised(waits, reconnects.map((r) => r.delayMs));

  // gRPC-Web (a server stream over fetch): Read of an upload, refused while the slot is taken.
  const bytes = new TextEncoder().encode("read me back ".repeat(100));
  const up = await uploadBlob(transportFor(4), new Blob([bytes]), { contentType: "text/plain" });
  hold = await holdTheSlot(4);
  const { waits: readWaits, sleep: readSleep } = recordedSleep();
  const told: number[] = [];
  const back = await webReadResource(web, up.name, {
    backoff: { baseMs: 1, sleep: readSleep },
    onRetry: (err, _n, delay) => {
      assert.equal(err.code, Code.ResourceExhausted, err.rawMessage);
      told.push(delay);
      hold.release();
    },
  });
  await hold.ended;
  assert.deepEqual(back, bytes);
  assertAdvised(readWaits, told);
});
