// The hub's dashboard: sign in, then a panel for each service the hub serves (GetServerInfo.services).
import type { Transport } from "@connectrpc/connect";
import { createClient } from "@connectrpc/connect";
import { DiagnosticsService } from "../../../../gen/ts/realtime/v1/diagnostics_pb.js";
import { createHubTransport } from "../index.js";
import { $, describeError, el, input, show } from "./dom.js";
import { formatBytes, formatCount, formatNumber } from "./format.js";
import { setupAnalysis } from "./analysis.js";
import { setupCollab } from "./collab.js";
import { setupConversation } from "./conversation.js";
import { setupEcho } from "./echo.js";
import { startNotifications } from "./notifications.js";
import { devToken, scheduleRefresh, setSession, token } from "./session.js";
import { startText } from "./text.js";

const TEXT = "realtime.v1.TextService";
const NOTIFICATIONS = "realtime.v1.NotificationService";
const ANALYSIS = "realtime.v1.AnalysisService";
const UPLOADS = "realtime.v1.UploadService";
const COLLABORATION = "realtime.v1.CollaborationService";
const CONVERSATION = "realtime.v1.ConversationService";

// Plumbing every gRPC server may expose (operations, reflection, health): not user services.
export function isInfrastructure(service: string): boolean {
  return service === "google.longrunning.Operations" || service.startsWith("grpc.");
}

const hubTransport: Transport = createHubTransport({ baseUrl: location.origin, token, defaultTimeoutMs: 15_000 });
const transport = () => hubTransport;
let running: AbortController | null = null;

function setConn(text: string): void {
  $("conn").textContent = text;
}

async function signedIn(): Promise<void> {
  $("signin-error").textContent = "";
  const diag = createClient(DiagnosticsService, hubTransport);
  let admin = false;
  try {
    const who = await diag.getIdentity({});
    admin = who.roles.includes("admin");
    $("identity").textContent = `Signed in as ${who.subject}${who.roles.length ? ` (${who.roles.join(", ")})` : ""}`;
    const info = await diag.getServerInfo({});
    const facts: [string, string][] = [
      ["Version", info.version],
      ["Instance", info.instanceId],
      ["Broker", info.broker],
      ["Max message", formatBytes(info.maxMessageBytes)],
      ["Rate limit", `${formatNumber(info.rateLimitPerSecond)} calls/s, burst ${formatCount(info.rateLimitBurst)}`],
    ];
    $("server-info").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
    const user = info.services.filter((s) => !isInfrastructure(s));
    const infra = info.services.filter(isInfrastructure);
    $("services").replaceChildren(...user.map((s) => Object.assign(el("li", { text: s.replace(/^realtime\.v1\./, "") }), { title: s })));
    $("services").setAttribute("aria-label", user.join(", "));
    const kinds = [...new Set(infra.map((s) => (s.split(".")[1] ?? s).replace("longrunning", "operations")))];
    $("infra-services").textContent = infra.length ? `Plus ${formatCount(infra.length)} infrastructure service${infra.length === 1 ? "" : "s"} (${kinds.join(", ")}).` : "";
    $("infra-services").title = infra.join(", ");
    running?.abort();
    running = new AbortController();
    const has = (name: string) => info.services.includes(name);
    show("server-panel", true);
    show("echo-panel", true);
    show("text-panel", has(TEXT));
    show("notifications-panel", has(NOTIFICATIONS));
    show("stats-panel", has(NOTIFICATIONS));
    show("analysis-panel", has(ANALYSIS));
    show("collab-panel", has(COLLABORATION));
    show("call-panel", has(CONVERSATION));
    if (has(TEXT)) startText(transport, running.signal);
    if (has(NOTIFICATIONS)) startNotifications(transport, admin, running.signal);
    if (has(ANALYSIS)) setupAnalysis(transport, Number(info.maxMessageBytes), has(UPLOADS), running.signal);
    if (has(COLLABORATION)) setupCollab(transport, who.subject, running.signal);
    if (has(CONVERSATION)) setupConversation(transport, who.subject, running.signal);
    if (has(NOTIFICATIONS) && !admin) $("stats-status").textContent = "Sign in as an admin to see stats.";
    show("signout", true);
    setConn("Connected");
  } catch (err) {
    $("signin-error").textContent = describeError(err);
    setConn("Not connected");
  }
}

function signOut(): void {
  running?.abort();
  running = null;
  setSession(null);
  for (const id of ["server-panel", "echo-panel", "text-panel", "notifications-panel", "stats-panel", "analysis-panel", "collab-panel", "call-panel", "signout"]) {
    show(id, false);
  }
  $("identity").textContent = "";
  setConn("Signed out");
}

function main(): void {
  setupEcho(transport);
  if (document.body.dataset.devMode === "1") {
    show("dev-signin", true);
    $("dev-token").onclick = async () => {
      const sub = input("dev-sub").value.trim() || "dev-user";
      const roles = input("dev-admin").checked ? ["admin"] : [];
      try {
        const { token: t, expiresIn } = await devToken(sub, roles);
        setSession({ token: t, refresh: { sub, roles } });
        scheduleRefresh(expiresIn, (err) => ($("signin-error").textContent = describeError(err)));
        await signedIn();
      } catch (err) {
        $("signin-error").textContent = describeError(err);
      }
    };
  }
  ($("token-form") as HTMLFormElement).onsubmit = async (ev) => {
    ev.preventDefault();
    const t = input("token-input").value.trim();
    if (!t) return;
    setSession({ token: t });
    input("token-input").value = "";
    await signedIn();
  };
  $("signout").onclick = signOut;
}

main();
