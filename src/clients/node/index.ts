// The Node client of the realtime hub: @connectrpc/connect-node speaking gRPC over HTTP/2 straight
// to the hub's gRPC port (no gateway), with the same token provider as the browser client.
//
//   const transport = createHubNodeTransport({ baseUrl: "http://127.0.0.1:50051", token: () => TOKEN });
//   const diag = createClient(DiagnosticsService, transport);
//   console.log(await diag.getServerInfo({}));
//
// Over TLS: baseUrl "https://hub.example:50051" and caFile (the CA that signed the hub's
// certificate); under mutual TLS also certFile and keyFile.
import { readFileSync } from "node:fs";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type TokenProvider, tokenInterceptor } from "../web/token.js";

export { Code, ConnectError, createClient } from "@connectrpc/connect";
export { backoffDelay, isRetryable, MAX_ADVICE_MS, reconnecting, retryAfterMs, retryDelay } from "../web/reconnect.js";
export type { BackoffOptions, ReconnectOptions, Sleep } from "../web/reconnect.js";
export { Cursor, NotificationSubscription, notificationSubscription } from "../web/subscription.js";
export type { Reconnect, SubscriptionOptions } from "../web/subscription.js";
export { CHUNK, readResource, sha256Hex, uploadBlob } from "../web/upload.js";
export type { TransferProgress, TransferRetry, UploadOptions } from "../web/upload.js";
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
  /** PEM file of the CA that signed the hub's certificate (an https:// baseUrl); default: Node's roots. */
  caFile?: string;
  /** PEM client certificate for a hub that requires one (--tls-client-ca-file); with keyFile. */
  certFile?: string;
  /** PEM private key of certFile. */
  keyFile?: string;
}

export function createHubNodeTransport(options: HubNodeTransportOptions): Transport {
  if (!options.certFile !== !options.keyFile) {
    throw new Error("give certFile and keyFile together (the client certificate and its key)");
  }
  const tls = {
    ...(options.caFile ? { ca: readFileSync(options.caFile) } : {}),
    ...(options.certFile ? { cert: readFileSync(options.certFile) } : {}),
    ...(options.keyFile ? { key: readFileSync(options.keyFile) } : {}),
  };
  return createGrpcTransport({
    nodeOptions: tls,
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

/** TLS files from REALTIME_CA_FILE, REALTIME_CERT_FILE and REALTIME_KEY_FILE, as the CLI reads them. */
export function envTls(): Pick<HubNodeTransportOptions, "caFile" | "certFile" | "keyFile"> {
  const env = process.env;
  return {
    ...(env.REALTIME_CA_FILE ? { caFile: env.REALTIME_CA_FILE } : {}),
    ...(env.REALTIME_CERT_FILE ? { certFile: env.REALTIME_CERT_FILE } : {}),
    ...(env.REALTIME_KEY_FILE ? { keyFile: env.REALTIME_KEY_FILE } : {}),
  };
}
