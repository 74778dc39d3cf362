// The server's google.rpc.RetryInfo is a floor for every TypeScript retry path, with jitter on top
// (run by tests/e2e/test_node_retry_info.py; needs no hub). No wall clock: services run in memory
// behind real gRPC, gRPC-Web and Connect protocol code, waits go to an injected sleep that records
// what it was asked for, and randomness comes from fixed seeds, printed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { type ConnectRouter, type Transport, createConnectRouter, encodeBinaryHeader } from "@connectrpc/connect";
import { createUniversalHandlerClient } from "@connectrpc/connect/protocol";
import { createTransport as connectTransport } from "@connectrpc/connect/protocol-connect";
import { createTransport as grpcTransport, findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { createTransport as grpcWebTransport } from "@connectrpc/connect/protocol-grpc-web";
import { RetryInfoSchema } from "../../../../gen/ts/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../../../gen/ts/google/rpc/status_pb.js";
import { DiagnosticsService } from "../../../../gen/ts/realtime/v1/diagnostics_pb.js";
import { NotificationService, type SubscribeRequest } from "../../../../gen/ts/realtime/v1/notifications_pb.js";
import { UploadService, type WriteRequest } from "../../../../gen/ts/realtime/v1/uploads_pb.js";
import {
  Code,
  ConnectError,
  MAX_ADVICE_MS,
  type Reconnect,
  backoffDelay,
  createClient,
  notificationSubscription,
  readResource,
  reconnecting,
  retryAfterMs,
  retryDelay,
  uploadBlob,
} from "../index.js";

const SEEDS = [1, 7, 42, 1234, 99991];

/** mulberry32: a small seeded source of numbers in [0, 1). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A sleep that returns at once and remembers every wait it was asked for. */
function recorder(): { waits: number[]; sleep: (ms: number) => Promise<void> } {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

/** The error a hub sends when it refuses and says when to come back. */
function refusal(code: Code, ms: number | null, message = "busy"): ConnectError {
  const details = ms === null ? [] : [{ desc: RetryInfoSchema, value: { retryDelay: { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 } } }];
  return new ConnectError(message, code, undefined, details);
}

type Protocol = "grpc" | "grpc-web" | "connect";
const PROTOCOLS: Protocol[] = ["grpc", "grpc-web", "connect"];

/** `routes` served in memory, reached through the client side of `protocol`: errors and their
 * details cross the real wire encoding (grpc-status-details-bin, gRPC-Web trailers, Connect JSON). */
function inMemory(protocol: Protocol, routes: (r: ConnectRouter) => void): Transport {
  const router = createConnectRouter({ grpc: true, grpcWeb: true, connect: true });
  routes(router);
  const common = {
    httpClient: createUniversalHandlerClient(router.handlers),
    baseUrl: "https://in-memory",
    useBinaryFormat: true,
    interceptors: [],
    acceptCompression: [],
    sendCompression: null,
    compressMinBytes: Number.MAX_SAFE_INTEGER,
    readMaxBytes: Number.MAX_SAFE_INTEGER,
    writeMaxBytes: Number.MAX_SAFE_INTEGER,
  };
  if (protocol === "grpc") return grpcTransport(common);
  if (protocol === "grpc-web") return grpcWebTransport(common);
  return connectTransport(common);
}

async function caught(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected a failure");
}

test("RetryInfo is read off the wire in gRPC, gRPC-Web and Connect", async () => {
  for (const protocol of PROTOCOLS) {
    let advice: number | null = 1250;
    const diag = createClient(
      DiagnosticsService,
      inMemory(protocol, (r) =>
        r.service(DiagnosticsService, {
          echo() {
            throw refusal(Code.Unavailable, advice);
          },
        }),
      ),
    );
    const err = await caught(diag.echo({}));
    assert.equal(err.code, Code.Unavailable, protocol);
    assert.equal(retryAfterMs(err), 1250, protocol);
    advice = 86_400_000; // a day: capped, as the Python client does
    assert.equal(retryAfterMs(await caught(diag.echo({}))), MAX_ADVICE_MS, protocol);
    advice = null;
    assert.equal(retryAfterMs(await caught(diag.echo({}))), undefined, protocol);
  }
});

test("a RetryInfo detail that does not decode is ignored, not thrown", () => {
  const status = create(StatusSchema, {
    code: Code.Unavailable,
    message: "busy",
    details: [
      create(AnySchema, { typeUrl: "type.googleapis.com/google.rpc.RetryInfo", value: new Uint8Array([0x0a, 0xff, 0xff]) }),
    ],
  });
  const trailer = new Headers({ "grpc-status": "14", "grpc-status-details-bin": encodeBinaryHeader(toBinary(StatusSchema, status)) });
  const err = findTrailerError(trailer);
  assert.ok(err);
  assert.equal(err.code, Code.Unavailable);
  assert.equal(retryAfterMs(err), undefined);
  // A RetryInfo without a delay means "now": the client's own backoff decides.
  const empty = create(AnySchema, { typeUrl: "type.googleapis.com/google.rpc.RetryInfo", value: toBinary(RetryInfoSchema, create(RetryInfoSchema)) });
  const bare = findTrailerError(new Headers({ "grpc-status-details-bin": encodeBinaryHeader(toBinary(StatusSchema, create(StatusSchema, { code: 14, details: [empty] }))) }));
  assert.equal(retryAfterMs(bare), 0);
});

test("retryDelay: never below the advice, at most half of it again, otherwise the plain backoff", () => {
  for (const seed of SEEDS) {
    console.log(`retryDelay seed ${seed}`);
    const pick = seeded(seed);
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const attempt = Math.floor(pick() * 14);
      const advice = Math.floor(pick() * 20_000);
      const opts = { baseMs: 100, capMs: 10_000, random: seeded(seed * 1000 + i) };
      const delay = retryDelay(attempt, refusal(Code.ResourceExhausted, advice), opts);
      const ceiling = Math.min(10_000, 100 * 2 ** attempt);
      assert.ok(delay >= advice, `seed ${seed}: ${delay} < advice ${advice}`);
      assert.ok(delay <= Math.max(ceiling, Math.ceil(advice * 1.5)), `seed ${seed}: ${delay} too long for ${advice}`);
      // Without advice: exactly the full-jitter backoff of the same random draws.
      const same = { baseMs: 100, capMs: 10_000 };
      assert.equal(
        retryDelay(attempt, refusal(Code.Unavailable, null), { ...same, random: seeded(seed + i) }),
        backoffDelay(attempt, { ...same, random: seeded(seed + i) }),
      );
      seen.add(retryDelay(0, refusal(Code.Unavailable, 1000), { baseMs: 1, random: pick }));
    }
    assert.ok(seen.size > 100, `seed ${seed}: a fleet told 1 s would come back in lock step (${seen.size} distinct waits)`);
    for (const d of seen) assert.ok(d >= 1000 && d <= 1500, `seed ${seed}: ${d}`);
  }
});

test("reconnecting waits at least the advised delay, jittered", async () => {
  for (const code of [Code.Unavailable, Code.ResourceExhausted]) {
    const { waits, sleep } = recorder();
    const told: number[] = [];
    let opened = 0;
    const got: number[] = [];
    for await (const ev of reconnecting(
      async function* () {
        opened++;
        if (opened <= 3) throw refusal(code, 500);
        yield opened;
      },
      { baseMs: 1, random: seeded(SEEDS[1]), sleep, onRetry: (_e, _n, d) => told.push(d) },
    )) {
      got.push(ev);
    }
    assert.deepEqual(got, [4]);
    assert.deepEqual(waits, told);
    assert.equal(waits.length, 3);
    for (const w of waits) assert.ok(w >= 500 && w <= 750, `${w}`);
    assert.equal(new Set(waits).size, 3, "jittered, not lock step");
  }
});

test("a refusal without RetryInfo keeps the plain backoff; a non-retryable one is not retried", async () => {
  const { waits, sleep } = recorder();
  let opened = 0;
  for await (const _ of reconnecting(
    async function* () {
      if (++opened <= 2) throw refusal(Code.Unavailable, null);
      yield 1;
    },
    { baseMs: 8, random: () => 0.5, sleep },
  )) {
    // one event
  }
  assert.deepEqual(waits, [4, 8]);
  const { waits: none, sleep: s2 } = recorder();
  await assert.rejects(async () => {
    for await (const _ of reconnecting(async function* () {
      throw refusal(Code.PermissionDenied, 1000);
    }, { sleep: s2 })) {
      // nothing
    }
  });
  assert.deepEqual(none, []);
});

test("a notification subscription refused with RetryInfo waits at least that long (gRPC and Connect)", async () => {
  for (const protocol of PROTOCOLS) {
    if (protocol === "grpc-web") continue; // bidi: gRPC-Web cannot carry it (the web client uses the WebSocket bridge)
    let opened = 0;
    const transport = inMemory(protocol, (r) =>
      r.service(NotificationService, {
        async *subscribe(requests: AsyncIterable<SubscribeRequest>) {
          opened++;
          if (opened <= 2) throw refusal(Code.ResourceExhausted, 1000, "too many open streams");
          for await (const req of requests) {
            if (req.command.case === "subscribe") {
              yield { commandId: req.id, event: { case: "subscribed", value: { channel: req.command.value.channel } } };
              return;
            }
          }
        },
      }),
    );
    const { waits, sleep } = recorder();
    const reconnects: Reconnect[] = [];
    const sub = notificationSubscription(createClient(NotificationService, transport), ["topic:a"], {
      baseMs: 1,
      random: seeded(SEEDS[2]),
      sleep,
      onReconnect: (r) => reconnects.push(r),
    });
    const events: string[] = [];
    for await (const ev of sub) events.push(ev.event.case ?? "");
    assert.deepEqual(events, ["subscribed"], protocol);
    assert.equal(opened, 3, protocol);
    assert.deepEqual(
      reconnects.map((r) => [r.code, r.retryAfterMs, r.attempt]),
      [
        [Code.ResourceExhausted, 1000, 1],
        [Code.ResourceExhausted, 1000, 2],
      ],
      protocol,
    );
    assert.deepEqual(waits, reconnects.map((r) => r.delayMs), protocol);
    for (const w of waits) assert.ok(w >= 1000 && w <= 1500, `${protocol}: ${w}`);
  }
});

/** An in-memory UploadService whose Write fails as `failWrite` says on the given attempts. */
function uploadServer(protocol: Protocol, failWrite: (attempt: number) => ConnectError | null) {
  const state = { writes: 0, reads: 0, committed: 0n, size: 0n, data: [] as number[] };
  const upload = () => ({ name: "uploads/u1", size: state.size, committedSize: state.committed, complete: state.committed === state.size && state.size > 0n });
  const transport = inMemory(protocol, (r) =>
    r.service(UploadService, {
      createUpload(req) {
        state.size = req.size;
        return { upload: upload() };
      },
      async write(requests: AsyncIterable<WriteRequest>) {
        const failure = failWrite(++state.writes);
        for await (const req of requests) {
          assert.equal(req.writeOffset, state.committed, "resumes where the hub got to");
          state.data.push(...req.data);
          state.committed += BigInt(req.data.length);
          if (failure) throw failure; // after one chunk: a connection broken mid-upload
        }
        return { committedSize: state.committed, upload: upload() };
      },
      queryWriteStatus() {
        return { committedSize: state.committed, complete: upload().complete };
      },
      getUpload() {
        return { upload: upload() };
      },
      async *read(req) {
        // Refused before any message: the in-memory gRPC client drops trailers that follow
        // messages (over HTTP/2 they arrive; tests/e2e covers that path).
        if (++state.reads === 1) throw refusal(Code.Unavailable, 2000, "store unavailable");
        const from = Number(req.readOffset);
        yield { data: new Uint8Array(state.data.slice(from, from + 3)) };
        yield { data: new Uint8Array(state.data.slice(from + 3)) };
      },
    }),
  );
  return { state, transport };
}

test("an upload told to retry later waits at least that long, then resumes; a quota without a time is final", async () => {
  const bytes = new Uint8Array(Array.from({ length: 10 }, (_, i) => i));
  for (const protocol of ["grpc", "connect"] as Protocol[]) {
    // Write is a client stream: gRPC-Web (the browser) sends it over the WebSocket bridge.
    const advised = [refusal(Code.Aborted, 1000, "another Write in progress"), refusal(Code.ResourceExhausted, 3000, "too many open streams")];
    const { state, transport } = uploadServer(protocol, (n) => advised[n - 1] ?? null);
    const { waits, sleep } = recorder();
    const told: [Code, number][] = [];
    const up = await uploadBlob(transport, new Blob([bytes]), {
      chunkSize: 4,
      backoff: { random: seeded(SEEDS[3]), sleep },
      onRetry: (e, _n, d) => told.push([e.code, d]),
    });
    assert.ok(up.complete, protocol);
    assert.deepEqual(state.data, [...bytes], protocol);
    assert.deepEqual(told.map(([c]) => c), [Code.Aborted, Code.ResourceExhausted], protocol);
    assert.deepEqual(waits, told.map(([, d]) => d), protocol);
    assert.ok(waits[0] >= 1000 && waits[0] <= 1500, `${protocol}: ${waits}`);
    assert.ok(waits[1] >= 3000 && waits[1] <= 4500, `${protocol}: ${waits}`);

    const quota = uploadServer(protocol, () => refusal(Code.ResourceExhausted, null, "quota"));
    const { waits: none, sleep: s2 } = recorder();
    const err = await caught(uploadBlob(quota.transport, new Blob([bytes]), { backoff: { sleep: s2 } }));
    assert.equal(err.code, Code.ResourceExhausted, protocol);
    assert.deepEqual(none, [], protocol);

    const { waits: reads, sleep: s3 } = recorder();
    const back = await readResource(transport, "uploads/u1", { backoff: { random: seeded(SEEDS[4]), sleep: s3 } });
    assert.deepEqual([...back], [...bytes], protocol);
    assert.equal(reads.length, 1, protocol);
    assert.ok(reads[0] >= 2000 && reads[0] <= 3000, `${protocol}: ${reads}`);
  }
});

test("a long advised wait ends at once when the caller aborts", async () => {
  const ac = new AbortController();
  let retries = 0;
  const failed = caught(
    (async () => {
      for await (const _ of reconnecting(
        async function* () {
          throw refusal(Code.Unavailable, MAX_ADVICE_MS);
        },
        // The default timer: an abort must cancel the 300 s wait, not sit it out.
        { signal: ac.signal, onRetry: () => void (retries++, setImmediate(() => ac.abort())) },
      )) {
        // nothing
      }
    })(),
  );
  const err = await failed;
  assert.equal(err.code, Code.Canceled);
  assert.equal(retries, 1);
});
