// Analysis jobs: submit a text to `text.inspect`, or an image file of any size to `image.optimize`
// (uploaded first in resumable chunks over the WebSocket bridge), then watch its progress over a
// gRPC-Web server stream (WatchAnalysis) with a progress bar per job; cancel while it runs. A large
// optimized image is read back in chunks (UploadService.Read) and offered as a download.
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import type { Transport } from "@connectrpc/connect";
import { createClient } from "@connectrpc/connect";
import type { Operation } from "../../../../gen/ts/google/longrunning/operations_pb.js";
import {
  AnalysisMetadataSchema,
  AnalysisResultSchema,
  AnalysisService,
  JobState,
} from "../../../../gen/ts/realtime/v1/analysis_pb.js";
import { UploadService } from "../../../../gen/ts/realtime/v1/uploads_pb.js";
import { reconnecting } from "../reconnect.js";
import { readResource, uploadBlob } from "../upload.js";
import { $, describeError, el } from "./dom.js";

const ANALYZER = "text.inspect";

export function setupAnalysis(transport: () => Transport, signal: AbortSignal): void {
  const client = createClient(AnalysisService, transport());
  const form = $("analysis-form") as HTMLFormElement;
  const input = $("analysis-input") as HTMLTextAreaElement;
  const jobs = $("analysis-jobs");
  const fileForm = $("analysis-file-form") as HTMLFormElement;
  const fileInput = $("analysis-file") as HTMLInputElement;
  fileForm.onsubmit = async (ev) => {
    ev.preventDefault();
    const file = fileInput.files?.[0];
    if (!file) return;
    const bar = el("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", `upload of ${file.name}`);
    const state = el("span", { className: "meta", text: "uploading" });
    const li = el("li", { className: "upload" }, el("span", { className: "title", text: file.name }), bar, state);
    jobs.prepend(li);
    try {
      const up = await uploadBlob(transport(), file, {
        signal,
        onProgress: (p) => {
          bar.value = p.total ? Math.floor((100 * p.done) / p.total) : 100;
          state.textContent = `uploading ${(p.done / 1048576).toFixed(1)} of ${(p.total / 1048576).toFixed(1)} MiB`;
        },
      });
      const op = await client.submitAnalysis({
        analyzer: "image.optimize",
        input: { source: { case: "upload", value: up.name } },
      });
      // The job holds its own copy of the input now: free the upload (and the quota) at once.
      await createClient(UploadService, transport()).deleteUpload({ name: up.name });
      li.remove();
      watch(op.name, file.name);
    } catch (err) {
      state.textContent = describeError(err);
      li.className = "error";
    }
  };
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    try {
      const op = await client.submitAnalysis({ analyzer: ANALYZER, input: { source: { case: "text", value: text } } });
      watch(op.name, text);
    } catch (err) {
      jobs.prepend(el("li", { className: "error", text: describeError(err) }));
    }
  };

  function watch(name: string, text: string): void {
    const bar = el("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", `progress of ${name}`);
    const state = el("span", { className: "meta", text: "queued" });
    const cancel = el("button", { className: "secondary", text: "Cancel" });
    cancel.type = "button";
    cancel.onclick = () => void client.cancelOperation({ name }).catch((err) => (state.textContent = describeError(err)));
    const result = el("pre", { className: "result" });
    const li = el("li", {}, el("span", { className: "title", text: text.slice(0, 60) }), cancel, bar, state, result);
    li.dataset.operation = name;
    jobs.prepend(li);

    const show = (op: Operation | undefined) => {
      if (!op) return;
      const md = op.metadata ? anyUnpack(op.metadata, AnalysisMetadataSchema) : undefined;
      if (md) {
        bar.value = md.percent;
        state.textContent = `${JobState[md.state].toLowerCase()} ${md.phase ? "· " + md.phase : ""} ${md.percent}%`;
      }
      if (!op.done) return;
      cancel.remove();
      if (op.result.case === "response") {
        const res = anyUnpack(op.result.value, AnalysisResultSchema);
        result.textContent = JSON.stringify(res?.data ?? {}, null, 2).slice(0, 1200);
        state.textContent = "done 100%";
        bar.value = 100;
        for (const art of res?.artifacts ?? []) void offer(art.name, art.contentType, art.data, art.resourceName, li);
      } else if (op.result.case === "error") {
        state.textContent = `${op.result.value.message} (code ${op.result.value.code})`;
      }
    };

    async function offer(name: string, type: string, data: Uint8Array, resource: string, li: HTMLElement) {
      try {
        // An artifact too large for one message comes by reference: read it in chunks.
        const bytes = data.length || !resource ? data : await readResource(transport(), resource, { signal });
        const link = el("a", { className: "artifact", text: `${name}: ${bytes.length} bytes` });
        link.href = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
        link.download = `${name}.${type.split("/")[1] ?? "bin"}`;
        link.dataset.bytes = String(bytes.length);
        li.append(link);
      } catch (err) {
        li.append(el("span", { className: "error", text: describeError(err) }));
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
