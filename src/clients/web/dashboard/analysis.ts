// Analysis jobs: submit a text (`text.inspect`) or an image (`image.optimize`, `image.inspect`),
// then watch its progress over a gRPC-Web server stream (WatchAnalysis) with a progress bar per
// job; cancel while it runs. Results are rendered as tables, image outputs as pictures.
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
import { reconnecting } from "../reconnect.js";
import { $, describeError, el } from "./dom.js";
import { formatBytes } from "./format.js";
import { renderArtifacts, renderData } from "./results.js";

// `maxBytes`: the hub's maximum message size (GetServerInfo); a bigger upload cannot be sent.
export function setupAnalysis(transport: () => Transport, maxBytes: number, signal: AbortSignal): void {
  const client = createClient(AnalysisService, transport());
  const form = $("analysis-form") as HTMLFormElement;
  const analyzer = $("analysis-analyzer") as HTMLSelectElement;
  const input = $("analysis-input") as HTMLTextAreaElement;
  const file = $("analysis-file") as HTMLInputElement;
  const submit = form.querySelector("button[type=submit]") as HTMLButtonElement;
  const hint = $("analysis-hint");
  const jobs = $("analysis-jobs");

  const isImage = () => analyzer.value.startsWith("image.");
  // Why Analyze cannot run right now, or "" when it can.
  const blocker = (): string => {
    if (!isImage()) return input.value.trim() ? "" : "Type some text to analyze.";
    const f = file.files?.[0];
    if (!f) return "Choose an image to analyze.";
    // Leave room for the request's other fields.
    if (f.size > maxBytes - 4096) return `That image is ${formatBytes(f.size)}; the hub accepts messages up to ${formatBytes(maxBytes)}.`;
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

  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const why = blocker();
    if (why) {
      hint.textContent = why;
      return;
    }
    const name = analyzer.value;
    try {
      let op: Operation;
      let title: string;
      if (isImage()) {
        const f = file.files![0]!;
        title = `${name}: ${f.name}`;
        const data = new Uint8Array(await f.arrayBuffer());
        op = await client.submitAnalysis({
          analyzer: name,
          input: { source: { case: "data", value: data }, contentType: f.type, filename: f.name },
        });
      } else {
        const text = input.value.trim();
        title = `${name}: ${text.slice(0, 60)}`;
        op = await client.submitAnalysis({ analyzer: name, input: { source: { case: "text", value: text } } });
      }
      watch(op.name, title);
    } catch (err) {
      jobs.prepend(el("li", { className: "error", text: describeError(err) }));
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
        result.replaceChildren(...renderArtifacts(res?.artifacts ?? []), ...renderData(res?.data ?? {}));
        state.textContent = "done 100%";
        bar.value = 100;
      } else if (op.result.case === "error") {
        state.textContent = `${op.result.value.message} (code ${op.result.value.code})`;
        state.classList.add("error");
      }
    };

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
