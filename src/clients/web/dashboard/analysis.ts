// Analysis jobs: submit a text (`text.inspect`) or an image (`image.optimize`, `image.inspect`),
// then watch its progress over a gRPC-Web server stream (WatchAnalysis) with a progress bar per
// job; cancel while it runs. An image up to 512 KiB goes inline; a bigger one (up to 256 MiB) is
// uploaded first in resumable chunks over the WebSocket bridge, with its own progress bar. Results
// are rendered as tables, image outputs as pictures with a download link; an output too large for
// one message comes by reference and is read back in chunks (UploadService.Read) first.
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import type { Transport } from "@connectrpc/connect";
import { createClient } from "@connectrpc/connect";
import type { Operation } from "../../../../gen/ts/google/longrunning/operations_pb.js";
import {
  AnalysisMetadataSchema,
  AnalysisResultSchema,
  AnalysisService,
  type Artifact,
  JobState,
} from "../../../../gen/ts/realtime/v1/analysis_pb.js";
import { UploadService } from "../../../../gen/ts/realtime/v1/uploads_pb.js";
import { reconnecting } from "../reconnect.js";
import { readResource, uploadBlob } from "../upload.js";
import { $, describeError, el } from "./dom.js";
import { formatBytes } from "./format.js";
import { renderArtifacts, renderData } from "./results.js";

/** Images up to this size go inline in SubmitAnalysis; bigger ones are uploaded first. */
export const INLINE_LIMIT = 512 * 1024;
/** The largest image accepted (the hub's cap on an analysis input and on an upload). */
export const UPLOAD_LIMIT = 256 * 1024 * 1024;

// `maxBytes`: the hub's maximum message size (GetServerInfo); `uploads`: whether it serves
// UploadService (without it an image must fit in one message).
export function setupAnalysis(
  transport: () => Transport,
  maxBytes: number,
  uploads: boolean,
  signal: AbortSignal,
): void {
  const client = createClient(AnalysisService, transport());
  const form = $("analysis-form") as HTMLFormElement;
  const analyzer = $("analysis-analyzer") as HTMLSelectElement;
  const input = $("analysis-input") as HTMLTextAreaElement;
  const file = $("analysis-file") as HTMLInputElement;
  const submit = form.querySelector("button[type=submit]") as HTMLButtonElement;
  const hint = $("analysis-hint");
  const jobs = $("analysis-jobs");
  // Leave room for the request's other fields.
  const inline = Math.min(INLINE_LIMIT, maxBytes - 4096);

  const isImage = () => analyzer.value.startsWith("image.");
  // Why Analyze cannot run right now, or "" when it can.
  const blocker = (): string => {
    if (!isImage()) return input.value.trim() ? "" : "Type some text to analyze.";
    const f = file.files?.[0];
    if (!f) return "Choose an image to analyze.";
    if (f.size === 0) return "That file is empty.";
    if (!uploads && f.size > inline) return `That image is ${formatBytes(f.size)}; this hub takes images up to ${formatBytes(inline)} (it accepts no uploads).`;
    if (f.size > UPLOAD_LIMIT) return `That image is ${formatBytes(f.size)}; the hub takes images up to ${formatBytes(UPLOAD_LIMIT)}.`;
    return "";
  };
  const refresh = () => {
    $("analysis-text-row").hidden = isImage();
    $("analysis-file-row").hidden = !isImage();
    const why = blocker();
    submit.disabled = why !== "";
    hint.textContent = why;
  };
  analyzer.onchange = refresh;
  input.oninput = refresh;
  file.onchange = refresh;
  refresh();

  // A big image: upload it (a row with its own progress bar), submit the job by the upload's
  // name, then delete the upload (the job holds its own copy: this frees the quota at once).
  async function submitUpload(name: string, f: File): Promise<Operation> {
    const bar = el("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", `upload of ${f.name}`);
    const state = el("span", { className: "meta", text: "uploading" });
    const li = el("li", { className: "upload" }, el("span", { className: "title", text: `upload: ${f.name}` }), bar, state);
    jobs.prepend(li);
    try {
      const up = await uploadBlob(transport(), f, {
        signal,
        onProgress: (p) => {
          bar.value = p.total ? Math.floor((100 * p.done) / p.total) : 100;
          state.textContent = `uploading ${formatBytes(p.done)} of ${formatBytes(p.total)}`;
        },
      });
      const op = await client.submitAnalysis({
        analyzer: name,
        input: { source: { case: "upload", value: up.name }, contentType: f.type, filename: f.name },
      });
      await createClient(UploadService, transport()).deleteUpload({ name: up.name });
      li.remove();
      return op;
    } catch (err) {
      li.remove();
      throw err;
    }
  }

  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const why = blocker();
    if (why) {
      hint.textContent = why;
      return;
    }
    const name = analyzer.value;
    submit.disabled = true;
    try {
      let op: Operation;
      let title: string;
      if (isImage()) {
        const f = file.files![0]!;
        title = `${name}: ${f.name}`;
        if (f.size > inline) {
          op = await submitUpload(name, f);
        } else {
          const data = new Uint8Array(await f.arrayBuffer());
          op = await client.submitAnalysis({
            analyzer: name,
            input: { source: { case: "data", value: data }, contentType: f.type, filename: f.name },
          });
        }
      } else {
        const text = input.value.trim();
        title = `${name}: ${text.slice(0, 60)}`;
        op = await client.submitAnalysis({ analyzer: name, input: { source: { case: "text", value: text } } });
      }
      watch(op.name, title);
    } catch (err) {
      jobs.prepend(el("li", { className: "error", text: describeError(err) }));
    } finally {
      refresh();
    }
  };

  function watch(name: string, title: string): void {
    const bar = el("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", `progress of ${title}`);
    const state = el("span", { className: "meta", text: "queued" });
    const cancel = el("button", { className: "secondary", text: "Cancel" });
    cancel.type = "button";
    cancel.onclick = () => {
      cancel.disabled = true;
      void client.cancelOperation({ name }).catch((err) => {
        cancel.disabled = false;
        state.textContent = describeError(err);
      });
    };
    const result = el("div", { className: "result" });
    const li = el("li", {}, el("span", { className: "title", text: title }), cancel, bar, state, result);
    li.dataset.operation = name;
    jobs.prepend(li);

    const show = (op: Operation | undefined) => {
      if (!op) return;
      const md = op.metadata ? anyUnpack(op.metadata, AnalysisMetadataSchema) : undefined;
      if (md) {
        bar.value = md.percent;
        state.textContent = `${JobState[md.state].toLowerCase()}${md.phase ? " · " + md.phase : ""} · ${md.percent}%`;
      }
      if (!op.done) return;
      cancel.remove();
      if (op.result.case === "response") {
        const res = anyUnpack(op.result.value, AnalysisResultSchema);
        result.replaceChildren(...renderData(res?.data ?? {}));
        state.textContent = "done 100%";
        bar.value = 100;
        void showArtifacts(res?.artifacts ?? [], result);
      } else if (op.result.case === "error") {
        state.textContent = `${op.result.value.message} (code ${op.result.value.code})`;
        state.classList.add("error");
      }
    };

    // Inline artifacts at once; one too large for a message comes by reference (`resourceName`):
    // read it in chunks first. Both are then rendered alike, ahead of the tables.
    async function showArtifacts(artifacts: Artifact[], into: HTMLElement) {
      const ready = artifacts.filter((a) => a.data.length || !a.resourceName);
      if (ready.length) into.prepend(...renderArtifacts(ready));
      for (const art of artifacts) {
        if (art.data.length || !art.resourceName) continue;
        const note = el("p", { className: "meta", text: `reading ${art.name} (${formatBytes(art.size)})` });
        into.prepend(note);
        try {
          const data = await readResource(transport(), art.resourceName, { signal, total: Number(art.size) });
          note.replaceWith(...renderArtifacts([{ ...art, data }]));
        } catch (err) {
          note.className = "error";
          note.textContent = describeError(err);
        }
      }
    }

    void (async () => {
      try {
        // A watch that drops is reopened (it never cancels the job); it starts with a snapshot.
        for await (const ev of reconnecting((_n, sig) => client.watchAnalysis({ name }, { signal: sig }), { signal })) {
          show(ev.operation);
          if (ev.operation?.done) break;
        }
      } catch (err) {
        if (!signal.aborted) state.textContent = describeError(err);
      }
    })();
  }
}
