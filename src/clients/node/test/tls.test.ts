// The Node client over mutual TLS (started by tests/e2e/test_gateway_node.py, which passes
// REALTIME_GRPC_URL (https), REALTIME_CA_FILE, REALTIME_CERT_FILE, REALTIME_KEY_FILE and
// REALTIME_OTHER_CA_FILE; the hub maps the client certificate to the user "svc-node").
import assert from "node:assert/strict";
import { test } from "node:test";
import { DiagnosticsService } from "../../../../gen/ts/realtime/v1/diagnostics_pb.js";
import { createClient, createHubNodeTransport } from "../index.js";

const baseUrl = process.env.REALTIME_GRPC_URL ?? "";
const caFile = process.env.REALTIME_CA_FILE ?? "";
const certFile = process.env.REALTIME_CERT_FILE ?? "";
const keyFile = process.env.REALTIME_KEY_FILE ?? "";

test("a mapped client certificate is the caller when no token is sent", async () => {
  const diag = createClient(DiagnosticsService, createHubNodeTransport({ baseUrl, caFile, certFile, keyFile, defaultTimeoutMs: 10_000 }));
  const who = await diag.getIdentity({});
  assert.equal(who.subject, "svc-node");
  assert.equal(who.issuer, "mtls");
});

test("no client certificate: the handshake fails", async () => {
  const diag = createClient(DiagnosticsService, createHubNodeTransport({ baseUrl, caFile, defaultTimeoutMs: 5_000 }));
  await assert.rejects(diag.getIdentity({}));
});

test("a hub certificate from another CA is refused", async () => {
  const other = process.env.REALTIME_OTHER_CA_FILE ?? "";
  const diag = createClient(DiagnosticsService, createHubNodeTransport({ baseUrl, caFile: other, certFile, keyFile, defaultTimeoutMs: 5_000 }));
  await assert.rejects(diag.getIdentity({}), /certificate/);
});
