// The Node client of the realtime hub: @connectrpc/connect-node speaking gRPC over HTTP/2 straight
// to the hub's gRPC port (no gateway), with the same token provider as the browser client.
//
//   const transport = createHubNodeTransport({ baseUrl: "http://127.0.0.1:50051", token: () => TOKEN });
//   const diag = createClient(DiagnosticsService, transport);
//   console.log(await diag.getServerInfo({}));
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type TokenProvider, tokenInterceptor } from "../web/token.js";

export { Code, ConnectError, createClient } from "@connectrpc/connect";
export { backoffDelay, isRetryable, reconnecting } from "../web/reconnect.js";
export { Cursor, NotificationSubscription, notificationSubscription } from "../web/subscription.js";
export type { Reconnect, SubscriptionOptions } from "../web/subscription.js";
export { staticToken, tokenInterceptor } from "../web/token.js";
export type { TokenProvider } from "../web/token.js";

export interface HubNodeTransportOptions {
  /** The hub's gRPC port as a URL, e.g. "http://127.0.0.1:50051". */
  baseUrl: string;
  /** Asked before every call; return null to call without a token. */
  token?: TokenProvider;
  interceptors?: Interceptor[];
  /** Default deadline for calls, in milliseconds (none by default). */
  defaultTimeoutMs?: number;
}

export function createHubNodeTransport(options: HubNodeTransportOptions): Transport {
  return createGrpcTransport({
    baseUrl: options.baseUrl,
    interceptors: [...(options.token ? [tokenInterceptor(options.token)] : []), ...(options.interceptors ?? [])],
    defaultTimeoutMs: options.defaultTimeoutMs,
    // Keep the HTTP/2 connection alive through idle periods, like the hub's own keepalive.
    pingIntervalMs: 30_000,
    pingIdleConnection: true,
  });
}

/** The token from REALTIME_TOKEN, as the CLI reads it. */
export function envToken(): TokenProvider {
  return () => process.env.REALTIME_TOKEN ?? null;
}
