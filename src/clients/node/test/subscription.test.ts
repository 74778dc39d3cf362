// NotificationSubscription against two real replicas on Redis (started by
// tests/e2e/test_notifications_ts_recovery.py, which SIGKILLs replica A when this prints KILL_A_NOW).
// Passes REALTIME_GRPC_URL_A, REALTIME_GRPC_URL_B, REALTIME_TOKEN and REALTIME_ADMIN_TOKEN.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { StreamPositionSchema } from "../../../../gen/ts/realtime/v1/common_pb.js";
import {
  NotificationSchema,
  NotificationService,
  type SubscribeRequest,
  SubscribeRequestSchema,
  type SubscribeResponse,
  SubscribeResponseSchema,
} from "../../../../gen/ts/realtime/v1/notifications_pb.js";
import { Cursor, createClient, createHubNodeTransport, type Reconnect, notificationSubscription, staticToken } from "../index.js";

const urlA = process.env.REALTIME_GRPC_URL_A ?? "http://127.0.0.1:50051";
const urlB = process.env.REALTIME_GRPC_URL_B ?? "http://127.0.0.1:50052";
const token = staticToken(process.env.REALTIME_TOKEN ?? "");
const CHANNEL = "topic:ts-exact";

test("the cursor hands each offset out once", () => {
  const c = new Cursor("e", 0n);
  const got = [3n, 1n, 1n, 2n, 3n, 5n, 4n].filter((o) => c.take("e", o));
  assert.deepEqual(got, [3n, 1n, 2n, 5n, 4n]);
  assert.equal(c.contiguous, 5n);
});

const note = (offset: bigint) =>
  create(NotificationSchema, { channel: "topic:b", title: `n${offset}`, position: create(StreamPositionSchema, { epoch: "e", offset }) });

test("batch events are unpacked, each offset handed out once", async () => {
  const sent: SubscribeRequest[] = [];
  const batch = (offsets: bigint[]) =>
    // Through the wire format, as the hub sends it.
    fromBinary(SubscribeResponseSchema, toBinary(SubscribeResponseSchema, create(SubscribeResponseSchema, { event: { case: "batch", value: { notifications: offsets.map(note) } } })));
  const fake = {
    async *subscribe(commands: AsyncIterable<SubscribeRequest>): AsyncIterable<SubscribeResponse> {
      for await (const c of commands) {
        sent.push(c);
        break;
      }
      yield create(SubscribeResponseSchema, { commandId: "r0", event: { case: "subscribed", value: { channel: "topic:b", position: create(StreamPositionSchema, { epoch: "e", offset: 0n }) } } });
      yield batch([1n, 2n, 3n]);
      yield batch([3n, 4n]); // 3 again (as a resume may send): dropped
      yield create(SubscribeResponseSchema, { event: { case: "notification", value: note(5n) } });
    },
  };
  const sub = notificationSubscription(fake as unknown as Parameters<typeof notificationSubscription>[0], ["topic:b"]);
  const got: string[] = [];
  for await (const ev of sub) {
    assert.notEqual(ev.event.case, "batch");
    if (ev.event.case === "notification") got.push(ev.event.value.title);
  }
  assert.deepEqual(got, ["n1", "n2", "n3", "n4", "n5"]);
  assert.equal(sent[0].acceptBatches, true);
  assert.equal(sub.positions().get("topic:b")?.offset, 5n);
});

test("the hub's batch events decode in Node, in order", async () => {
  const admin = createClient(NotificationService, createHubNodeTransport({ baseUrl: urlB, token: staticToken(process.env.REALTIME_ADMIN_TOKEN ?? "") }));
  const reader = createClient(NotificationService, createHubNodeTransport({ baseUrl: urlB, token }));
  const commands = [create(SubscribeRequestSchema, { id: "b", acceptBatches: true, command: { case: "subscribe", value: { channel: "topic:ts-batch" } } })];
  async function* requests() {
    yield* commands;
    await new Promise((resolve) => setTimeout(resolve, 60_000)); // keep the stream open
  }
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 60_000);
  const titles: string[] = [];
  const offsets: bigint[] = [];
  let batches = 0;
  let bursts = 0;
  const burst = () => {
    const from = bursts++ * 100;
    return Promise.all(Array.from({ length: 100 }, (_, i) => admin.publish({ channel: "topic:ts-batch", title: `m${from + i}` })));
  };
  const published: Promise<unknown>[] = [];
  try {
    for await (const ev of reader.subscribe(requests(), { signal: ac.signal })) {
      if (ev.event.case === "subscribed" && ev.event.value.channel === "topic:ts-batch") published.push(burst());
      if (ev.event.case === "batch") {
        batches++;
        for (const n of ev.event.value.notifications) {
          titles.push(n.title);
          offsets.push(n.position?.offset ?? 0n);
        }
      }
      if (ev.event.case === "notification" && ev.event.value.channel === "topic:ts-batch") {
        titles.push(ev.event.value.title);
        offsets.push(ev.event.value.position?.offset ?? 0n);
      }
      if (titles.length === bursts * 100) {
        if (batches > 0 || bursts >= 5) break;
        published.push(burst()); // until one burst arrived batched
      }
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  await Promise.all(published);
  assert.ok(batches > 0, "no batch event");
  // Publishes in flight together are numbered by the hub in any order: compare as sets, and the
  // stream's offsets must be strictly increasing.
  assert.deepEqual(new Set(titles), new Set(Array.from({ length: bursts * 100 }, (_, i) => `m${i}`)));
  assert.equal(titles.length, bursts * 100);
  assert.deepEqual(offsets, Array.from({ length: bursts * 100 }, (_, i) => BigInt(i + 1)));
});

test("a subscription resumes on the other replica after its own is killed, exactly once", async () => {
  const admin = createClient(NotificationService, createHubNodeTransport({ baseUrl: urlB, token: staticToken(process.env.REALTIME_ADMIN_TOKEN ?? "") }));
  const readers = [urlA, urlB].map((baseUrl) => createClient(NotificationService, createHubNodeTransport({ baseUrl, token })));
  const reconnects: Reconnect[] = [];
  const publish = async (from: number, to: number) => {
    for (let i = from; i < to; i++) await admin.publish({ channel: CHANNEL, title: `m${i}`, requestId: `ts-${i}` });
  };
  let second: Promise<void> | undefined;
  const ac = new AbortController();
  const sub = notificationSubscription(readers, [CHANNEL], {
    baseMs: 50,
    capMs: 500,
    signal: ac.signal,
    onReconnect: (r) => {
      reconnects.push(r);
      // Published while the subscriber is away: the resume must bring them back.
      if (reconnects.length === 1) second = publish(10, 20);
    },
  });
  const titles: string[] = [];
  const timer = setTimeout(() => ac.abort(), 60_000);
  try {
    for await (const ev of sub) {
      if (ev.event.case === "subscribed" && ev.event.value.channel === CHANNEL && titles.length === 0 && !ev.event.value.resumed) {
        await publish(0, 10);
      }
      if (ev.event.case === "subscribed" && ev.event.value.resumed) assert.ok(ev.event.value.recovered, "resume recovered");
      if (ev.event.case !== "notification" || ev.event.value.channel !== CHANNEL) continue;
      titles.push(ev.event.value.title);
      if (titles.length === 10) console.log("KILL_A_NOW");
      if (titles.length === 20) break;
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  await second;
  assert.deepEqual(titles, Array.from({ length: 20 }, (_, i) => `m${i}`));
  assert.ok(reconnects.length >= 1 && reconnects[0].code !== undefined);
});
