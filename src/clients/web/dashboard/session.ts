// Who is signed in: the token (pasted, or minted by the dev endpoint and refreshed before it expires).
export interface Session {
  token: string;
  /** Set for dev tokens: re-mint this long before expiry (ms). */
  refresh?: { sub: string; roles: string[] };
}

let current: Session | null = null;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;

export function token(): string | null {
  return current?.token ?? null;
}

export function setSession(s: Session | null): void {
  current = s;
  clearTimeout(refreshTimer);
}

/** POST /dev/token (the dev default only). */
export async function devToken(sub: string, roles: string[]): Promise<{ token: string; expiresIn: number }> {
  const resp = await fetch("/dev/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ sub, roles }),
  });
  const body = (await resp.json()) as { token?: string; expires_in?: number; error?: string };
  if (!resp.ok || !body.token) throw new Error(body.error ?? `dev token: HTTP ${resp.status}`);
  return { token: body.token, expiresIn: body.expires_in ?? 900 };
}

/** Keep a dev session's token fresh: re-mint at 80 % of its lifetime. */
export function scheduleRefresh(expiresIn: number, onError: (err: unknown) => void): void {
  clearTimeout(refreshTimer);
  const s = current;
  if (!s?.refresh) return;
  refreshTimer = setTimeout(async () => {
    try {
      const fresh = await devToken(s.refresh!.sub, s.refresh!.roles);
      if (current === s) {
        s.token = fresh.token;
        scheduleRefresh(fresh.expiresIn, onError);
      }
    } catch (err) {
      onError(err);
    }
  }, expiresIn * 800);
}
