// A Transport for client and bidi streams over WebSocket, in the improbable-eng `grpc-websockets`
// framing the gateway speaks (nice-grpc-web speaks it too):
//   client -> server: 1st message = request headers as "name: value\r\n" lines;
//                     then 0x00 + a piece of the gRPC byte stream; exactly 0x01 = half-close.
//   server -> client: a header frame (flag 0x80), data frames, the trailer frame (0x80), close.
// The gRPC-Web protocol code of @connectrpc/connect does the envelopes, trailers and errors; this
// file only carries bytes, so statuses and details arrive exactly as over gRPC-Web.
import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import type { UniversalClientFn, UniversalClientRequest } from "@connectrpc/connect/protocol";
import { createTransport } from "@connectrpc/connect/protocol-grpc-web";

export const SUBPROTOCOL = "grpc-websockets";

export interface WebSocketTransportOptions {
  /** The gateway's base URL, http(s):// or ws(s):// (e.g. location.origin). */
  baseUrl: string;
  interceptors?: Interceptor[];
  /** Default deadline of a call, in milliseconds (none by default: streams may be long). */
  defaultTimeoutMs?: number;
  /** The WebSocket constructor (the global one by default). */
  webSocket?: typeof WebSocket;
}

function toWsUrl(url: string): string {
  return url.replace(/^http(s?):/, "ws$1:");
}

function headerBlock(header: Headers): Uint8Array {
  let text = "";
  header.forEach((value, key) => {
    text += `${key}: ${value}\r\n`;
  });
  return new TextEncoder().encode(text);
}

function parseHeaderBlock(data: Uint8Array): Headers {
  const headers = new Headers();
  for (const line of new TextDecoder().decode(data).split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return headers;
}

/** Bytes from the socket as an async iterable, with the first (header) frame split off. */
class SocketReader {
  private chunks: Uint8Array[] = [];
  private waiting: (() => void) | null = null;
  private ended = false;
  private error: ConnectError | null = null;

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.wake();
  }

  end(error: ConnectError | null): void {
    this.ended = true;
    this.error ??= error;
    this.wake();
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }

  private async next(): Promise<Uint8Array | null> {
    while (this.chunks.length === 0) {
      if (this.ended) {
        if (this.error) throw this.error;
        return null;
      }
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
    return this.chunks.shift() ?? null;
  }

  /** Reads exactly n bytes (fewer only at the end of the stream). */
  async read(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = await this.next();
      if (chunk === null) return out.subarray(0, filled);
      const take = Math.min(n - filled, chunk.length);
      out.set(chunk.subarray(0, take), filled);
      filled += take;
      if (take < chunk.length) this.chunks.unshift(chunk.subarray(take));
    }
    return out;
  }

  async *rest(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const chunk = await this.next();
      if (chunk === null) return;
      yield chunk;
    }
  }
}

function webSocketClient(WS: typeof WebSocket): UniversalClientFn {
  return async (req: UniversalClientRequest) => {
    const ws = new WS(toWsUrl(req.url), SUBPROTOCOL);
    ws.binaryType = "arraybuffer";
    const reader = new SocketReader();
    const abort = () => {
      reader.end(new ConnectError("the call was cancelled", Code.Canceled));
      ws.close(1000);
    };
    req.signal?.addEventListener("abort", abort, { once: true });
    ws.onmessage = (ev: MessageEvent) => {
      if (ev.data instanceof ArrayBuffer) reader.push(new Uint8Array(ev.data));
    };
    ws.onclose = (ev: CloseEvent) => {
      req.signal?.removeEventListener("abort", abort);
      // A close before the trailer frame surfaces in the gRPC-Web parser as a missing trailer;
      // an abnormal close says why.
      reader.end(ev.code === 1000 ? null : new ConnectError(`websocket closed (${ev.code})`, Code.Unavailable));
    };
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new ConnectError(`cannot open a WebSocket to ${req.url}`, Code.Unavailable));
    });
    ws.onerror = null;
    ws.send(headerBlock(req.header));
    void (async () => {
      try {
        for await (const chunk of req.body ?? []) {
          if (ws.readyState !== WS.OPEN) return;
          const msg = new Uint8Array(chunk.length + 1);
          msg.set(chunk, 1); // msg[0] = 0x00: data
          ws.send(msg);
        }
        if (ws.readyState === WS.OPEN) ws.send(new Uint8Array([1])); // half-close
      } catch {
        ws.close(1000);
      }
    })();
    // The header frame: 0x80, 4-byte length, header block.
    const prefix = await reader.read(5);
    if (prefix.length < 5 || (prefix[0] & 0x80) === 0) {
      throw new ConnectError("protocol error: no header frame from the gateway", Code.Unavailable);
    }
    const length = new DataView(prefix.buffer, prefix.byteOffset, 5).getUint32(1);
    const header = parseHeaderBlock(await reader.read(length));
    return { status: 200, header, body: reader.rest(), trailer: new Headers() };
  };
}

/** A Transport for streaming methods over the gateway's WebSocket bridge. */
export function createWebSocketTransport(options: WebSocketTransportOptions): Transport {
  const WS = options.webSocket ?? globalThis.WebSocket;
  return createTransport({
    httpClient: webSocketClient(WS),
    baseUrl: options.baseUrl,
    useBinaryFormat: true,
    interceptors: options.interceptors ?? [],
    acceptCompression: [],
    sendCompression: null,
    compressMinBytes: 0,
    readMaxBytes: 0xffffffff,
    writeMaxBytes: 0xffffffff,
    defaultTimeoutMs: options.defaultTimeoutMs,
  });
}
