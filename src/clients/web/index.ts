// The browser client of the realtime hub: one Transport for every method, through the gateway.
//   unary and server streaming -> gRPC-Web (fetch)   client and bidi streaming -> WebSocket
//
//   const transport = createHubTransport({ baseUrl: location.origin, token: () => myToken });
//   const diag = createClient(DiagnosticsService, transport);
//   const info = await diag.getServerInfo({});
import type { DescMessage, DescMethodStreaming, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import type { ContextValues, Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { type TokenProvider, tokenInterceptor } from "./token.js";
import { createWebSocketTransport } from "./websocket-transport.js";

export { createClient, Code, ConnectError } from "@connectrpc/connect";
export { backoffDelay, isRetryable, MAX_ADVICE_MS, reconnecting, retryAfterMs, retryDelay } from "./reconnect.js";
export type { BackoffOptions, ReconnectOptions, Sleep } from "./reconnect.js";
export { Cursor, NotificationSubscription, notificationSubscription } from "./subscription.js";
export type { Reconnect, SubscriptionOptions } from "./subscription.js";
export { staticToken, tokenInterceptor } from "./token.js";
export type { TokenProvider } from "./token.js";
export { createWebSocketTransport, SUBPROTOCOL } from "./websocket-transport.js";
export { CHUNK, readResource, sha256Hex, uploadBlob } from "./upload.js";
export type { TransferProgress, TransferRetry, UploadOptions } from "./upload.js";

export interface HubTransportOptions {
  /** The gateway's URL, e.g. location.origin or "http://127.0.0.1:8080". */
  baseUrl: string;
  /** Asked before every call; return null to call without a token. */
  token?: TokenProvider;
  interceptors?: Interceptor[];
  /** Default deadline for unary calls, in milliseconds (streams get none). */
  defaultTimeoutMs?: number;
}

export function createHubTransport(options: HubTransportOptions): Transport {
  const interceptors = [...(options.token ? [tokenInterceptor(options.token)] : []), ...(options.interceptors ?? [])];
  const web = createGrpcWebTransport({ baseUrl: options.baseUrl, interceptors, useBinaryFormat: true });
  const ws = createWebSocketTransport({ baseUrl: options.baseUrl, interceptors });
  const unaryTimeout = options.defaultTimeoutMs;
  return {
    unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ) {
      return web.unary(method, signal, timeoutMs ?? unaryTimeout, header, input, contextValues);
    },
    stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ) {
      const transport = method.methodKind === "server_streaming" ? web : ws;
      return transport.stream(method, signal, timeoutMs, header, input, contextValues);
    },
  };
}
