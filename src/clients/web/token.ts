// Bearer tokens for every call: a provider is asked before each call (and each reconnect),
// so a refreshed token is picked up without rebuilding clients.
import type { Interceptor } from "@connectrpc/connect";

/** Returns the current token (a JWT), or null to call without one. */
export type TokenProvider = () => string | null | undefined | Promise<string | null | undefined>;

/** A provider that always returns the same token. */
export function staticToken(token: string): TokenProvider {
  return () => token;
}

/** Adds `authorization: Bearer <token>` to every request when the provider has a token. */
export function tokenInterceptor(provider: TokenProvider): Interceptor {
  return (next) => async (req) => {
    const token = await provider();
    if (token) {
      req.header.set("authorization", `Bearer ${token}`);
    }
    return next(req);
  };
}
