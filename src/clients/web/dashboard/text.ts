// Live text fixing: a TextService.Session bidi stream over WebSocket; every keystroke is an edit with
// a higher version, the server debounces and answers with the fix for the latest version.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import { createClient } from "@connectrpc/connect";
import {
  Operation,
  type SessionRequest,
  SessionRequestSchema,
  TextService,
} from "../../../../gen/ts/realtime/v1/text_pb.js";
import { Outbox } from "../outbox.js";
import { reconnecting } from "../reconnect.js";
import { $, describeError, el } from "./dom.js";

const DOC = "dashboard";

export function startText(transport: () => Transport, signal: AbortSignal): void {
  const box = $("text-input") as HTMLTextAreaElement;
  const fixed = $("text-fixed");
  const list = $("text-suggestions");
  const status = $("text-status");
  const apply = $("text-apply") as HTMLInputElement;
  let version = 0;
  let outbox: Outbox<SessionRequest> | null = null;
  let seq = 0;

  const send = (command: MessageInitShape<typeof SessionRequestSchema>["command"]) => {
    outbox?.push(create(SessionRequestSchema, { id: `t${++seq}`, command }));
  };
  const edit = () => {
    version++;
    send({ case: "edit", value: { documentId: DOC, version, content: { case: "text", value: box.value } } });
  };
  box.oninput = edit;

  const client = createClient(TextService, transport());
  const stream = reconnecting(
    (_attempt, sig) => {
      outbox = new Outbox<SessionRequest>();
      version++;
      send({
        case: "open",
        value: { documentId: DOC, operations: [Operation.FIX_LAYOUT], text: box.value, version },
      });
      status.textContent = "connected";
      return client.session(outbox, { signal: sig });
    },
    {
      signal,
      onRetry: (err, _n, delay) => {
        status.textContent = `${describeError(err)}; reconnecting in ${(delay / 1000).toFixed(1)} s`;
      },
    },
  );
  void (async () => {
    try {
      for await (const ev of stream) {
        switch (ev.event.case) {
          case "result": {
            const r = ev.event.value;
            if (r.version !== version || !r.fix) break; // stale: a newer edit is on its way
            fixed.textContent = r.fix.text;
            list.replaceChildren(
              ...r.fix.suggestions.map((s) =>
                el("li", { text: `“${box.value.substr(s.offset, s.length)}” → “${s.replacement}” ${s.message}` }),
              ),
            );
            if (apply.checked && r.fix.text !== box.value) {
              const tail = box.value.length - box.selectionEnd;
              box.value = r.fix.text;
              box.selectionStart = box.selectionEnd = Math.max(0, box.value.length - tail);
              edit();
            }
            break;
          }
          case "error":
            status.textContent = `${ev.event.value.reason}: ${ev.event.value.message}`;
            break;
          case "goingAway":
            status.textContent = "server restarting; reconnecting";
            break;
        }
      }
    } catch (err) {
      if (!signal.aborted) status.textContent = describeError(err);
    }
  })();
}
