// Who am I, what does the hub serve, and a bidi echo over HTTP/2.
//   REALTIME_TOKEN=$(realtime token --sub alice) node src/clients/node/run.mjs src/clients/node/examples/diagnostics.ts
import { create } from "@bufbuild/protobuf";
import { DiagnosticsService, type EchoStreamRequest, EchoStreamRequestSchema } from "../../../../gen/ts/realtime/v1/diagnostics_pb.js";
import { Outbox } from "../../web/outbox.js";
import { createClient, createHubNodeTransport, envTls, envToken } from "../index.js";

const transport = createHubNodeTransport({ baseUrl: process.env.REALTIME_GRPC_URL ?? "http://127.0.0.1:50051", token: envToken(), ...envTls() });
const diag = createClient(DiagnosticsService, transport);

const who = await diag.getIdentity({});
console.log(`signed in as ${who.subject} [${who.roles.join(", ")}]`);
const info = await diag.getServerInfo({});
console.log(`hub ${info.version} serves: ${info.services.join(", ")}`);

const out = new Outbox<EchoStreamRequest>();
out.push(create(EchoStreamRequestSchema, { id: "1", command: { case: "echo", value: { payload: new TextEncoder().encode("hello") } } }));
out.close();
for await (const ev of diag.echoStream(out)) {
  if (ev.event.case === "echo") console.log(`echo ${ev.commandId}: ${new TextDecoder().decode(ev.event.value.payload)}`);
}
