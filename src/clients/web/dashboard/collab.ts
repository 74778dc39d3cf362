// A shared notes board on CollaborationService: join a document over the WebSocket bridge, add and
// delete notes (create/delete element operations), see everyone's changes and who is here, live.
// Open the same board in two tabs (or as two users it is shared with) to watch it sync.
import { create } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import type { Transport } from "@connectrpc/connect";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  type AppliedOperation,
  type CollaborateRequest,
  CollaborateRequestSchema,
  CollaborationService,
  type DocumentElement,
  type DocumentParticipant,
} from "../../../../gen/ts/realtime/v1/collaboration_pb.js";
import { Outbox } from "../outbox.js";
import { $, describeError, el } from "./dom.js";

interface Note {
  id: string;
  text: string;
  author: string;
  position: string;
}

function noteOf(e: DocumentElement): Note {
  const v = e.properties.text;
  return { id: e.elementId, text: v?.kind.case === "stringValue" ? v.kind.value : "", author: e.createdBy, position: e.position };
}

// A fractional index after every earlier one: base-36 time, never ending in "0".
function nextPosition(): string {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 35 + 1).toString(36)}`;
}

export function setupCollab(transport: () => Transport, who: string, signal: AbortSignal): void {
  const client = createClient(CollaborationService, transport());
  const status = $("collab-status");
  const list = $("collab-notes");
  const people = $("collab-people");
  const add = $("collab-add") as HTMLFormElement;
  const addInput = $("collab-text") as HTMLInputElement;
  const open = $("collab-open") as HTMLFormElement;
  const docInput = $("collab-doc") as HTMLInputElement;
  const addButton = add.querySelector("button[type=submit]") as HTMLButtonElement;
  const hint = $("collab-hint");
  // Notes go on the board's stream: adding works only while a board is live.
  const canAdd = (live: boolean, why: string) => {
    addInput.disabled = !live;
    addButton.disabled = !live;
    hint.textContent = live ? "" : why;
  };
  canAdd(false, "Open a board to add notes.");
  if (!docInput.value) docInput.value = `board-${who}`;

  let session: AbortController | null = null;
  let out: Outbox<CollaborateRequest> | null = null;
  let version = 0n;
  let seq = 0n;
  let cmd = 0;
  const notes = new Map<string, Note>();
  const here = new Map<string, DocumentParticipant>();

  const render = () => {
    const sorted = [...notes.values()].sort((a, b) => (a.position < b.position ? -1 : 1));
    list.replaceChildren(
      ...sorted.map((n) => {
        const del = el("button", { className: "secondary", text: "Delete" });
        del.type = "button";
        del.setAttribute("aria-label", `Delete note “${n.text}”`);
        del.onclick = () => submit({ case: "delete", value: { elementId: n.id } });
        return el("li", {}, el("span", { className: "title", text: n.text }), del, el("span", { className: "meta", text: `by ${n.author}` }));
      }),
    );
    people.replaceChildren(...[...here.values()].map((p) => el("li", { text: p.displayName || p.userId })));
  };

  const send = (command: CollaborateRequest["command"]) => {
    out?.push(create(CollaborateRequestSchema, { id: `c${++cmd}`, command }));
  };

  const submit = (kind: { case: "create"; value: object } | { case: "delete"; value: { elementId: string } }) => {
    send({ case: "op", value: { baseVersion: version, operations: [{ clientSeq: ++seq, kind }] } } as CollaborateRequest["command"]);
  };

  const apply = (op: AppliedOperation) => {
    version = op.version;
    const kind = op.operation?.kind;
    if (kind?.case === "create") {
      const v = kind.value.properties.text;
      notes.set(kind.value.elementId, {
        id: kind.value.elementId,
        text: v?.kind.case === "stringValue" ? v.kind.value : "",
        author: op.author,
        position: kind.value.position,
      });
    } else if (kind?.case === "delete") {
      notes.delete(kind.value.elementId);
    }
  };

  add.onsubmit = (ev) => {
    ev.preventDefault();
    const text = addInput.value.trim();
    if (!out) {
      canAdd(false, "Open a board to add notes.");
      return;
    }
    if (!text) {
      hint.textContent = "Type a note first.";
      return;
    }
    hint.textContent = "";
    addInput.value = "";
    submit({
      case: "create",
      value: {
        elementId: `n${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`,
        kind: "note",
        position: nextPosition(),
        properties: { text: create(ValueSchema, { kind: { case: "stringValue", value: text } }) },
      },
    });
  };

  open.onsubmit = async (ev) => {
    ev.preventDefault();
    session?.abort();
    const mine = new AbortController();
    session = mine;
    signal.addEventListener("abort", () => mine.abort(), { once: true });
    const documentId = docInput.value.trim();
    out = null;
    if (!documentId) {
      canAdd(false, "Name a board to open.");
      return;
    }
    canAdd(false, "Opening the board…");
    notes.clear();
    here.clear();
    render();
    try {
      await client.getDocument({ documentId }).catch(async (err: unknown) => {
        if (ConnectError.from(err).code !== Code.NotFound) throw err;
        await client.createDocument({ documentId, title: `Notes of ${who}` });
      });
      out = new Outbox<CollaborateRequest>();
      send({ case: "join", value: { documentId, clientId: `dash-${Math.random().toString(36).slice(2)}`, displayName: who } } as CollaborateRequest["command"]);
      status.textContent = `joining ${documentId}…`;
      for await (const ev of client.collaborate(out, { signal: mine.signal })) {
        switch (ev.event.case) {
          case "joined":
            for (const e of ev.event.value.snapshot?.elements ?? []) notes.set(e.elementId, noteOf(e));
            for (const op of ev.event.value.replay) apply(op);
            version = ev.event.value.version;
            for (const p of ev.event.value.participants) here.set(p.sessionId, p);
            status.textContent = `live on ${documentId}`;
            canAdd(true, "");
            break;
          case "applied":
            for (const op of ev.event.value.operations) apply(op);
            break;
          case "rejected":
            status.textContent = ev.event.value.operations.map((r) => r.message).join("; ");
            break;
          case "participantJoined":
            if (ev.event.value.participant) here.set(ev.event.value.participant.sessionId, ev.event.value.participant);
            break;
          case "participantLeft":
            here.delete(ev.event.value.sessionId);
            break;
          case "error":
            status.textContent = `${ev.event.value.reason}: ${ev.event.value.message}`;
            break;
          case "goingAway":
            status.textContent = "server restarting; open the board again";
            canAdd(false, "The board closed: open it again to add notes.");
            break;
        }
        render();
      }
    } catch (err) {
      if (!mine.signal.aborted) status.textContent = describeError(err);
    } finally {
      // The stream ended on its own (an error or going away), not by another board or sign-out.
      if (!mine.signal.aborted) {
        out = null;
        canAdd(false, "The board closed: open it again to add notes.");
      }
    }
  };
}
