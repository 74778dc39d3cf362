// Round trip over the WebSocket bridge: ten pings on DiagnosticsService.EchoStream.
import { create } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import { createClient } from "@connectrpc/connect";
import { DiagnosticsService, type EchoStreamRequest, EchoStreamRequestSchema } from "../../../../gen/ts/realtime/v1/diagnostics_pb.js";
import { PingCommandSchema } from "../../../../gen/ts/realtime/v1/common_pb.js";
import { Outbox } from "../outbox.js";
import { $, describeError } from "./dom.js";

export function setupEcho(transport: () => Transport): void {
  const button = $("echo-run") as HTMLButtonElement;
  const result = $("echo-result");
  button.onclick = async () => {
    button.disabled = true;
    result.textContent = "measuring…";
    try {
      const client = createClient(DiagnosticsService, transport());
      const out = new Outbox<EchoStreamRequest>();
      const times: number[] = [];
      let sentAt = performance.now();
      const ping = (i: number) => {
        sentAt = performance.now();
        out.push(create(EchoStreamRequestSchema, { id: `p${i}`, command: { case: "ping", value: create(PingCommandSchema) } }));
      };
      ping(0);
      for await (const ev of client.echoStream(out)) {
        if (ev.event.case !== "pong") continue;
        times.push(performance.now() - sentAt);
        if (times.length === 10) {
          out.close();
        } else {
          ping(times.length);
        }
      }
      const avg = times.reduce((a, b) => a + b, 0) / times.length;
      result.textContent = `${times.length} pings, average ${avg.toFixed(1)} ms`;
    } catch (err) {
      result.textContent = describeError(err);
    } finally {
      button.disabled = false;
    }
  };
}
