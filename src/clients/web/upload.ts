// Uploads of any size from a browser `File` (or any Blob), and chunked reads of large results.
//
//   const transport = createHubTransport({ baseUrl: location.origin, token });
//   const up = await uploadBlob(transport, fileInput.files[0], { onProgress: (p) => bar.value = p.done / p.total });
//   await analysis.submitAnalysis({ analyzer: "image.optimize", input: { source: { case: "upload", value: up.name } } });
//   const bytes = await readResource(transport, artifact.resourceName);   // when artifact.data is empty
//
// `Write` is a client stream, so it goes over the gateway's WebSocket bridge (createHubTransport
// picks it); `Read` is a server stream over gRPC-Web. Chunks are 256 KiB, far below the hub's
// 1 MiB message limit. When the connection breaks the upload asks QueryWriteStatus and goes on
// from the committed offset; creating an upload of the same bytes again resumes it (by SHA-256).
// Between attempts it waits with full-jitter backoff, never less than the server's RetryInfo
// (e.g. 1 s after "another Write of this upload is in progress"); RESOURCE_EXHAUSTED is retried
// only when the hub says when (a stream cap, a full spool), never for a quota it gives no time for.
import type { Transport } from "@connectrpc/connect";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Upload, UploadService, type WriteRequestSchema } from "../../../gen/ts/realtime/v1/uploads_pb.js";
import { type BackoffOptions, retryAfterMs, retryDelay, sleep } from "./reconnect.js";

export const CHUNK = 256 * 1024;
const RESUMABLE = new Set<Code>([Code.Unavailable, Code.Aborted, Code.DeadlineExceeded, Code.OutOfRange]);
/** Uploads and reads wait 200 ms, 400 ms, ... up to 5 s (full jitter) unless told otherwise. */
const TRANSFER_BACKOFF: BackoffOptions = { baseMs: 200, capMs: 5000 };

/** Worth another attempt: a broken connection, or a refusal that says when to come back. */
function resumable(ce: ConnectError): boolean {
  return RESUMABLE.has(ce.code) || (ce.code === Code.ResourceExhausted && retryAfterMs(ce) !== undefined);
}

/** Waits before failure number `failures` (1-based) of a transfer, as `options` says. */
function pause(failures: number, ce: ConnectError, options: TransferRetry): Promise<void> {
  const backoff = { ...TRANSFER_BACKOFF, ...options.backoff };
  const delayMs = retryDelay(failures - 1, ce, backoff);
  options.onRetry?.(ce, failures, delayMs);
  return (backoff.sleep ?? sleep)(delayMs, options.signal);
}

/** How a transfer retries. */
export interface TransferRetry {
  /** Failures in a row without progress before giving up (default 8). */
  retries?: number;
  /** Backoff between attempts (default 200 ms base, 5 s cap; `random` and `sleep` for tests). */
  backoff?: BackoffOptions;
  /** Told before each wait: the error, failures in a row (1 for the first) and the wait. */
  onRetry?: (err: ConnectError, failures: number, delayMs: number) => void;
  signal?: AbortSignal;
}

export interface TransferProgress {
  /** The resource: "uploads/{id}" or what is read. */
  name: string;
  /** Bytes sent (upload) or received (read) so far. */
  done: number;
  /** Total bytes. */
  total: number;
}

export interface UploadOptions extends TransferRetry {
  /** MIME type (default: the File's type, else application/octet-stream). */
  contentType?: string;
  /** File name shown by the hub (default: the File's name). */
  filename?: string;
  /** Called as chunks go out and after a resume. */
  onProgress?: (p: TransferProgress) => void;
  chunkSize?: number;
}

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** SHA-256 of a Blob, hex (WebCrypto digests whole buffers: the Blob is read once into memory). */
export async function sha256Hex(blob: Blob): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
}

/** Upload a Blob (a browser File); resolves with the finished upload. */
export async function uploadBlob(transport: Transport, blob: Blob, options: UploadOptions = {}): Promise<Upload> {
  const client = createClient(UploadService, transport);
  const size = blob.size;
  const chunk = options.chunkSize ?? CHUNK;
  const created = await client.createUpload(
    {
      size: BigInt(size),
      sha256: await sha256Hex(blob),
      contentType: options.contentType || blob.type || "application/octet-stream",
      filename: options.filename ?? (blob instanceof File ? blob.name : ""),
    },
    { signal: options.signal },
  );
  const upload = created.upload;
  if (!upload) throw new ConnectError("CreateUpload returned no upload", Code.Internal);
  const name = upload.name;
  let committed = Number(upload.committedSize);
  let complete = upload.complete;
  const report = (done: number) => options.onProgress?.({ name, done, total: size });
  report(committed);

  async function* chunks(from: number): AsyncGenerator<MessageInitShape<typeof WriteRequestSchema>> {
    let offset = from;
    if (offset >= size) {
      yield { resourceName: name, writeOffset: BigInt(offset), finishWrite: true };
      return;
    }
    while (offset < size) {
      const end = Math.min(size, offset + chunk);
      const data = new Uint8Array(await blob.slice(offset, end).arrayBuffer());
      // The first message names the upload; later ones may leave it empty.
      yield { resourceName: offset === from ? name : "", writeOffset: BigInt(offset), data, finishWrite: end >= size };
      offset = end;
      report(offset);
    }
  }

  let failures = 0;
  let lost = false; // after a failure, ask where the upload got to before writing again
  while (!complete) {
    try {
      if (lost) {
        const status = await client.queryWriteStatus({ resourceName: name }, { signal: options.signal });
        lost = false;
        if (Number(status.committedSize) > committed) failures = 0;
        committed = Number(status.committedSize);
        complete = status.complete;
        report(committed);
        if (complete) break;
      }
      const reply = await client.write(chunks(committed), { signal: options.signal });
      if (reply.upload) return reply.upload;
      break;
    } catch (err) {
      const ce = ConnectError.from(err);
      failures += 1;
      if (options.signal?.aborted || !resumable(ce) || failures > (options.retries ?? 8)) throw ce;
      await pause(failures, ce, options);
      lost = true;
    }
  }
  const done = await client.getUpload({ name }, { signal: options.signal });
  if (!done.upload) throw new ConnectError("GetUpload returned no upload", Code.Internal);
  return done.upload;
}

/** All bytes of a resource ("uploads/{id}" or "operations/{id}/artifacts/{name}"), read in chunks;
 * a broken read resumes from the bytes received. */
export async function readResource(
  transport: Transport,
  resourceName: string,
  options: TransferRetry & { onProgress?: (p: TransferProgress) => void; total?: number } = {},
): Promise<Uint8Array> {
  const client = createClient(UploadService, transport);
  const parts: Uint8Array[] = [];
  let done = 0;
  let failures = 0;
  for (;;) {
    try {
      for await (const reply of client.read({ resourceName, readOffset: BigInt(done) }, { signal: options.signal })) {
        parts.push(reply.data);
        done += reply.data.length;
        failures = 0;
        options.onProgress?.({ name: resourceName, done, total: Math.max(options.total ?? 0, done) });
      }
      break;
    } catch (err) {
      const ce = ConnectError.from(err);
      failures += 1;
      if (options.signal?.aborted || !resumable(ce) || ce.code === Code.OutOfRange || failures > (options.retries ?? 8)) throw ce;
      await pause(failures, ce, options);
    }
  }
  const out = new Uint8Array(done);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
