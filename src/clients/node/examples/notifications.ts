// Follow your notifications live, reconnecting with backoff and full jitter.
//   REALTIME_TOKEN=$(realtime token --sub alice) node src/clients/node/run.mjs src/clients/node/examples/notifications.ts
// Publish one from another shell (an admin token): see docs/gateway.md.
import { NotificationService, type SubscribeRequest } from "../../../../gen/ts/realtime/v1/notifications_pb.js";
import { Outbox } from "../../web/outbox.js";
import { createClient, createHubNodeTransport, envTls, envToken, reconnecting } from "../index.js";

const transport = createHubNodeTransport({ baseUrl: process.env.REALTIME_GRPC_URL ?? "http://127.0.0.1:50051", token: envToken(), ...envTls() });
const notifications = createClient(NotificationService, transport);

const stream = reconnecting((_attempt, signal) => notifications.subscribe(new Outbox<SubscribeRequest>(), { signal }), {
  onRetry: (err, _n, delay) => console.error(`${err.message}; reconnecting in ${delay} ms`),
});
for await (const ev of stream) {
  if (ev.event.case === "subscribed") console.log(`subscribed to ${ev.event.value.channel}`);
  if (ev.event.case === "notification") console.log(`[${ev.event.value.channel}] ${ev.event.value.title} ${ev.event.value.body}`);
}
