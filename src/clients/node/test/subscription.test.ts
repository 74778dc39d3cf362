// NotificationSubscription against two real replicas on Redis (started by
// tests/e2e/test_notifications_ts_recovery.py, which SIGKILLs replica A when this prints KILL_A_NOW).
// Passes REALTIME_GRPC_URL_A, REALTIME_GRPC_URL_B, REALTIME_TOKEN and REALTIME_ADMIN_TOKEN.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NotificationService } from "../../../../gen/ts/realtime/v1/notifications_pb.js";
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
