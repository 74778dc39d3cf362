// Follow your notifications live: the subscription reconnects with backoff and full jitter and
// resumes every channel from its last position by itself (each notification once).
//   REALTIME_TOKEN=$(realtime token --sub alice) node src/clients/node/run.mjs src/clients/node/examples/notifications.ts topic:news
// Publish one from another shell (an admin token): see docs/gateway.md.
import { NotificationService, NotRecoveredReason } from "../../../../gen/ts/realtime/v1/notifications_pb.js";
import { createClient, createHubNodeTransport, envTls, envToken, notificationSubscription } from "../index.js";

const transport = createHubNodeTransport({ baseUrl: process.env.REALTIME_GRPC_URL ?? "http://127.0.0.1:50051", token: envToken(), ...envTls() });
const notifications = createClient(NotificationService, transport);

const sub = notificationSubscription(notifications, process.argv.slice(2), {
  onReconnect: (r) => console.error(`stream ended (${r.message}); reconnecting in ${r.delayMs} ms and resuming`),
});
for await (const ev of sub) {
  if (ev.event.case === "subscribed") {
    const s = ev.event.value;
    const how = !s.resumed ? "" : s.recovered ? " (recovered)" : ` (NOT recovered: ${NotRecoveredReason[s.notRecoveredReason]})`;
    console.log(`subscribed to ${s.channel}${how}`);
  }
  if (ev.event.case === "notification") console.log(`[${ev.event.value.channel}] ${ev.event.value.title} ${ev.event.value.body}`);
}
