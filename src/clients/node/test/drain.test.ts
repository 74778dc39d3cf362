// NotificationSubscription across a graceful drain (started by
// tests/e2e/test_notifications_ts_recovery.py, which SIGTERMs replica A when this prints DRAIN_A_NOW).
// A draining hub sends `going_away` and ends the stream UNAVAILABLE/GOING_AWAY with RetryInfo 1 s, so
// its subscribers do not all land on the other replica in the same millisecond: the subscription
// waits at least that (jittered), resumes on replica B and hands out every notification once.
// Passes REALTIME_GRPC_URL_A, REALTIME_GRPC_URL_B, REALTIME_TOKEN and REALTIME_ADMIN_TOKEN.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NotificationService } from "../../../../gen/ts/realtime/v1/notifications_pb.js";
import { sleep as timer } from "../../web/reconnect.js";
import { Code, type Reconnect, createClient, createHubNodeTransport, notificationSubscription, staticToken } from "../index.js";

const urlA = process.env.REALTIME_GRPC_URL_A ?? "http://127.0.0.1:50051";
const urlB = process.env.REALTIME_GRPC_URL_B ?? "http://127.0.0.1:50052";
const token = staticToken(process.env.REALTIME_TOKEN ?? "");
const CHANNEL = "topic:ts-drain";
const ADVICE_MS = 1000; // errors.going_away()

test("a drained replica's RetryInfo is waited out, then the subscription resumes on the other, exactly once", async () => {
  const admin = createClient(NotificationService, createHubNodeTransport({ baseUrl: urlB, token: staticToken(process.env.REALTIME_ADMIN_TOKEN ?? "") }));
  const readers = [urlA, urlB].map((baseUrl) => createClient(NotificationService, createHubNodeTransport({ baseUrl, token })));
  const publish = async (from: number, to: number) => {
    for (let i = from; i < to; i++) await admin.publish({ channel: CHANNEL, title: `m${i}`, requestId: `drain-${i}` });
  };
  const reconnects: Reconnect[] = [];
  const waits: number[] = [];
  let second: Promise<void> | undefined;
  let goingAway = 0;
  const ac = new AbortController();
  const sub = notificationSubscription(readers, [CHANNEL], {
    baseMs: 1, // our own backoff is far below the advice
    signal: ac.signal,
    sleep: (ms, signal) => (waits.push(ms), timer(ms, signal)),
    onReconnect: (r) => {
      reconnects.push(r);
      if (reconnects.length === 1) second = publish(10, 20); // while the subscriber is away
    },
  });
  const titles: string[] = [];
  const guard = setTimeout(() => ac.abort(), 60_000);
  try {
    for await (const ev of sub) {
      if (ev.event.case === "subscribed" && ev.event.value.channel === CHANNEL && titles.length === 0 && !ev.event.value.resumed) {
        await publish(0, 10);
      }
      if (ev.event.case === "goingAway") goingAway++;
      if (ev.event.case === "subscribed" && ev.event.value.resumed) assert.ok(ev.event.value.recovered, "resume recovered");
      if (ev.event.case !== "notification" || ev.event.value.channel !== CHANNEL) continue;
      titles.push(ev.event.value.title);
      if (titles.length === 10) console.log("DRAIN_A_NOW");
      if (titles.length === 20) break;
    }
  } finally {
    clearTimeout(guard);
    ac.abort();
  }
  await second;
  assert.deepEqual(titles, Array.from({ length: 20 }, (_, i) => `m${i}`));
  assert.equal(goingAway, 1, "the drain was announced");
  assert.equal(reconnects.length, 1, JSON.stringify(reconnects));
  assert.equal(reconnects[0].code, Code.Unavailable, reconnects[0].message);
  assert.equal(reconnects[0].retryAfterMs, ADVICE_MS);
  assert.deepEqual(waits, [reconnects[0].delayMs]);
  assert.ok(waits[0] >= ADVICE_MS && waits[0] <= ADVICE_MS * 1.5, `waited ${waits[0]} ms`);
});
