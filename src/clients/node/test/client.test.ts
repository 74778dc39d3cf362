// The Node client against a real hub (started by tests/e2e/test_gateway_node.py, which passes
// REALTIME_GRPC_URL, REALTIME_TOKEN, REALTIME_ADMIN_TOKEN and REALTIME_SERVICES).
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { DiagnosticsService, type EchoStreamRequest, EchoStreamRequestSchema } from "../../../../gen/ts/realtime/v1/diagnostics_pb.js";
import { NotificationService, type SubscribeRequest, SubscribeRequestSchema } from "../../../../gen/ts/realtime/v1/notifications_pb.js";
import { Outbox } from "../../web/outbox.js";
import { Code, ConnectError, backoffDelay, createClient, createHubNodeTransport, reconnecting, staticToken } from "../index.js";

const baseUrl = process.env.REALTIME_GRPC_URL ?? "http://127.0.0.1:50051";
const token = process.env.REALTIME_TOKEN ?? "";
const adminToken = process.env.REALTIME_ADMIN_TOKEN ?? "";
const services = (process.env.REALTIME_SERVICES ?? "").split(",");

const transport = createHubNodeTransport({ baseUrl, token: staticToken(token), defaultTimeoutMs: 10_000 });
const diag = createClient(DiagnosticsService, transport);

test("unary calls carry the token", async () => {
  const who = await diag.getIdentity({});
  assert.equal(who.subject, "nora");
  const info = await diag.getServerInfo({});
  assert.ok(info.services.includes("realtime.v1.DiagnosticsService"));
  const echo = await diag.echo({ payload: new Uint8Array([0, 1, 255]) });
  assert.deepEqual([...echo.payload], [0, 1, 255]);
});

test("errors arrive as gRPC statuses", async () => {
  const anonymous = createClient(DiagnosticsService, createHubNodeTransport({ baseUrl }));
  await assert.rejects(anonymous.getIdentity({}), (err: unknown) => {
    const ce = ConnectError.from(err);
    assert.equal(ce.code, Code.Unauthenticated);
    assert.match(ce.rawMessage, /authorization/);
    return true;
  });
  await assert.rejects(diag.echo({ payload: new Uint8Array(), delay: { seconds: 60n } }), (err: unknown) => {
    assert.equal(ConnectError.from(err).code, Code.InvalidArgument);
    return true;
  });
});

test("bidi stream over HTTP/2: commands answered in order, half-close ends it", async () => {
  const out = new Outbox<EchoStreamRequest>();
  for (let i = 0; i < 20; i++) {
    out.push(create(EchoStreamRequestSchema, { id: `c${i}`, command: { case: "echo", value: { payload: new TextEncoder().encode(`m${i}`) } } }));
  }
  out.push(create(EchoStreamRequestSchema, { id: "p", command: { case: "ping", value: {} } }));
  out.close();
  const ids: string[] = [];
  for await (const ev of diag.echoStream(out)) {
    ids.push(ev.commandId);
    if (ev.event.case === "echo") assert.equal(new TextDecoder().decode(ev.event.value.payload), ev.commandId.replace("c", "m"));
  }
  assert.deepEqual(ids, [...Array.from({ length: 20 }, (_, i) => `c${i}`), "p"]);
});

test("backoff is full jitter under a cap", () => {
  assert.equal(backoffDelay(0, { random: () => 0.999, baseMs: 100 }), 99);
  assert.equal(backoffDelay(3, { random: () => 0.5, baseMs: 100 }), 400);
  assert.equal(backoffDelay(20, { random: () => 0.999, baseMs: 100, capMs: 1000 }), 999);
  assert.equal(backoffDelay(5, { random: () => 0 }), 0);
});

test("reconnecting reopens a failed stream and stops on a refusal", async () => {
  let opened = 0;
  const events: number[] = [];
  for await (const ev of reconnecting(
    async function* (attempt) {
      opened++;
      yield attempt;
      if (attempt < 2) throw new ConnectError("gone", Code.Unavailable);
    },
    { baseMs: 1, capMs: 2 },
  )) {
    events.push(ev);
  }
  assert.deepEqual(events, [0, 1, 2]);
  assert.equal(opened, 3);
  await assert.rejects(async () => {
    for await (const _ of reconnecting(async function* () {
      throw new ConnectError("no", Code.PermissionDenied);
    })) {
      // nothing
    }
  });
});

test("notifications: a publish reaches a live subscriber", async () => {
  assert.ok(services.includes("realtime.v1.NotificationService"), "the test hub serves notifications");
  const admin = createClient(NotificationService, createHubNodeTransport({ baseUrl, token: staticToken(adminToken) }));
  const user = createClient(NotificationService, transport);
  const out = new Outbox<SubscribeRequest>();
  out.push(create(SubscribeRequestSchema, { id: "s1", command: { case: "subscribe", value: { channel: "topic:node-test" } } }));
  const ac = new AbortController();
  let published = false;
  let got = "";
  for await (const ev of user.subscribe(out, { signal: ac.signal })) {
    if (ev.event.case === "subscribed" && ev.event.value.channel === "topic:node-test" && !published) {
      published = true;
      await admin.publish({ channel: "topic:node-test", title: "hello from node" });
    }
    if (ev.event.case === "notification" && ev.event.value.channel === "topic:node-test") {
      got = ev.event.value.title;
      break;
    }
  }
  ac.abort();
  assert.equal(got, "hello from node");
});
