// Renders an analysis result (a JSON object whose shape each analyzer documents, plus binary
// artifacts) as tables and images instead of raw JSON. Generic: scalars become rows, objects of
// scalars become small tables, lists of objects become tables with a column per key, image
// artifacts become <img>.
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Artifact } from "../../../../gen/ts/realtime/v1/analysis_pb.js";
import { el } from "./dom.js";
import { formatBytes, formatCount, formatNumber, humanKey } from "./format.js";

const MAX_ROWS = 20;
const MAX_COLUMNS = 6;
const PERCENT_KEYS = /(_share|reduction|_ratio)$/;

type Scalar = string | number | boolean | null;

function isScalar(v: JsonValue): v is Scalar {
  return v === null || typeof v !== "object";
}

function isObject(v: JsonValue): v is JsonObject {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** One value as text, formatted by what its key says it is. */
export function formatValue(key: string, v: JsonValue): string {
  if (v === null) return "–";
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "number") {
    if (/bytes$/.test(key)) return formatBytes(v);
    if (PERCENT_KEYS.test(key) && v >= -1 && v <= 1) return `${formatNumber(v * 100)} %`;
    return Number.isInteger(v) ? formatCount(v) : formatNumber(v);
  }
  if (typeof v === "string") return v || "–";
  if (Array.isArray(v)) {
    if (v.length === 0) return "none";
    if (v.every(isScalar)) return v.map((x) => formatValue(key, x)).join(", ");
  }
  const text = JSON.stringify(v);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function keyValueTable(caption: string | null, entries: [string, JsonValue][]): HTMLTableElement {
  const table = el("table");
  if (caption) table.append(el("caption", { text: caption }));
  const body = el("tbody");
  for (const [k, v] of entries) {
    const th = el("th", { text: humanKey(k) });
    th.scope = "row";
    body.append(el("tr", {}, th, el("td", { text: formatValue(k, v) })));
  }
  table.append(body);
  return table;
}

function listTable(caption: string, rows: JsonObject[]): HTMLTableElement {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))].slice(0, MAX_COLUMNS);
  const table = el("table", {}, el("caption", { text: `${caption} (${formatCount(rows.length)})` }));
  const head = el("tr");
  for (const c of columns) {
    const th = el("th", { text: humanKey(c) });
    th.scope = "col";
    head.append(th);
  }
  const body = el("tbody");
  for (const r of rows.slice(0, MAX_ROWS)) {
    body.append(el("tr", {}, ...columns.map((c) => el("td", { text: c in r ? formatValue(c, r[c]!) : "" }))));
  }
  if (rows.length > MAX_ROWS) {
    const more = el("td", { className: "muted", text: `and ${formatCount(rows.length - MAX_ROWS)} more` });
    more.colSpan = columns.length;
    body.append(el("tr", {}, more));
  }
  table.append(el("thead", {}, head), body);
  table.className = "list";
  return table;
}

function section(key: string, v: JsonValue): HTMLElement[] {
  if (isObject(v)) {
    const entries = Object.entries(v);
    const flat = entries.filter(([, x]) => !isObject(x) && !(Array.isArray(x) && x.some(isObject)));
    const out: HTMLElement[] = flat.length ? [keyValueTable(humanKey(key), flat)] : [];
    for (const [k, x] of entries) if (!flat.some(([f]) => f === k)) out.push(...section(`${key}_${k}`, x));
    return out;
  }
  if (Array.isArray(v) && v.length > 0 && v.every(isObject)) return [listTable(humanKey(key), v)];
  return [keyValueTable(humanKey(key), [[key, v]])];
}

/** Tables for a result's data: scalars first (one summary table), then each nested part. */
export function renderData(data: JsonObject): HTMLElement[] {
  // A Struct is a map (its order is not kept): alphabetical is the order a reader can predict.
  const entries = Object.entries(data).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const scalars = entries.filter(([, v]) => !isObject(v) && !(Array.isArray(v) && v.length > 0 && v.every(isObject)));
  const out: HTMLElement[] = scalars.length ? [keyValueTable(null, scalars)] : [];
  for (const [k, v] of entries) if (!scalars.some(([s]) => s === k)) out.push(...section(k, v));
  return out;
}

/** A data: URL (the gateway's Content-Security-Policy allows `img-src 'self' data:`, not blob:). */
export function dataUrl(contentType: string, data: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < data.length; i += 0x8000) binary += String.fromCharCode(...data.subarray(i, i + 0x8000));
  return `data:${contentType || "application/octet-stream"};base64,${btoa(binary)}`;
}

/** A file name for a downloaded artifact: its name plus an extension from its type. */
function downloadName(a: Artifact): string {
  if (a.name.includes(".")) return a.name;
  const ext = (a.contentType.split("/")[1] ?? "").replace(/[^a-z0-9].*$/, "");
  return ext ? `${a.name}.${ext}` : a.name;
}

/** Artifacts (their bytes at hand): images as pictures, each with a download link. */
export function renderArtifacts(artifacts: Artifact[]): HTMLElement[] {
  return artifacts.map((a) => {
    const url = dataUrl(a.contentType, a.data);
    const caption = el("figcaption", { text: `${a.name} · ${a.contentType} · ${formatBytes(a.data.length)} · ` });
    const link = el("a", { className: "artifact", text: `Download ${a.name}` });
    link.href = url;
    link.download = downloadName(a);
    link.dataset.bytes = String(a.data.length);
    caption.append(link);
    if (a.contentType.startsWith("image/")) {
      const img = el("img");
      img.src = url;
      img.alt = `${a.name} output`;
      return el("figure", {}, img, caption);
    }
    return el("figure", {}, caption);
  });
}
