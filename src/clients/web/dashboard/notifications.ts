// The notifications feed (unread count, mark as read) and live server stats from `system:stats`.
// The stream is NotificationService.Subscribe over WebSocket; after a reconnect the feed is
// reloaded from ListNotifications (the contract's answer when resuming is not possible).
import { create } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import { createClient } from "@connectrpc/connect";
import {
  type Notification,
  NotificationService,
  type SubscribeRequest,
  SubscribeRequestSchema,
} from "../../../../gen/ts/realtime/v1/notifications_pb.js";
import { Outbox } from "../outbox.js";
import { reconnecting } from "../reconnect.js";
import { LiveChart } from "./chart.js";
import { $, describeError, el } from "./dom.js";
import { formatCount, formatNumber } from "./format.js";

const STATS = "system:stats";
const FEED_SIZE = 50;
const CHART_POINTS = 120; // ten minutes at the default 5 s stats interval
let chart: LiveChart | null = null;

export function startNotifications(transport: () => Transport, admin: boolean, signal: AbortSignal): void {
  const client = createClient(NotificationService, transport());
  chart ??= new LiveChart($("stats-chart") as unknown as SVGSVGElement, CHART_POINTS, formatNumber);
  chart.clear();
  const feed = $("feed");
  const unreadBadge = $("unread");
  const status = $("notifications-status");
  const unread = new Set<string>();
  const shown = new Set<string>();

  const renderUnread = () => {
    unreadBadge.textContent = formatCount(unread.size);
    ($("mark-all") as HTMLButtonElement).disabled = unread.size === 0;
    $("mark-all-hint").textContent = unread.size === 0 ? "Nothing unread." : "";
  };

  const markRead = async (ids: string[]) => {
    if (ids.length === 0) return;
    try {
      await client.markRead({ notificationIds: ids });
      for (const id of ids) {
        unread.delete(id);
        const item = document.getElementById(`n-${id}`);
        item?.classList.remove("unread");
        item?.querySelector("button")?.remove();
      }
      renderUnread();
    } catch (err) {
      status.textContent = describeError(err);
    }
  };
  ($("mark-all") as HTMLButtonElement).onclick = () => void markRead([...unread]);

  const item = (n: Notification): HTMLLIElement => {
    const when = n.time ? new Date(Number(n.time.seconds) * 1000).toLocaleTimeString() : "";
    const li = el(
      "li",
      { className: n.read ? "" : "unread" },
      el("span", { className: "title", text: n.title || "(no title)" }),
      el("span", { className: "meta", text: `${n.channel} · ${when}${n.body ? " · " + n.body : ""}` }),
    );
    li.id = `n-${n.id}`;
    if (!n.read) {
      const b = el("button", { className: "secondary", text: "Mark read" });
      b.type = "button";
      b.setAttribute("aria-label", `Mark “${n.title}” read`);
      b.onclick = () => void markRead([n.id]);
      li.append(b);
    }
    return li;
  };

  const add = (n: Notification, atTop: boolean) => {
    if (shown.has(n.id)) return;
    shown.add(n.id);
    if (!n.read) unread.add(n.id);
    if (atTop) feed.prepend(item(n));
    else feed.append(item(n));
    while (feed.children.length > FEED_SIZE) feed.lastElementChild?.remove();
  };

  const reload = async () => {
    const page = await client.listNotifications({ pageSize: FEED_SIZE });
    feed.replaceChildren();
    shown.clear();
    unread.clear();
    for (const n of page.notifications) add(n, false);
    renderUnread();
    if (admin) {
      const last = await client.listNotifications({ channel: STATS, pageSize: 1 });
      if (last.notifications[0]) showStats(last.notifications[0]);
    }
  };

  const stream = reconnecting(
    (_attempt, sig) => {
      const out = new Outbox<SubscribeRequest>();
      if (admin) {
        out.push(create(SubscribeRequestSchema, { id: "stats", command: { case: "subscribe", value: { channel: STATS } } }));
      }
      void reload().catch((err) => (status.textContent = describeError(err)));
      status.textContent = "live";
      return client.subscribe(out, { signal: sig });
    },
    {
      signal,
      onRetry: (err, _n, delay) => {
        status.textContent = `${describeError(err)}; reconnecting in ${(delay / 1000).toFixed(1)} s`;
      },
    },
  );
  void (async () => {
    try {
      for await (const ev of stream) {
        switch (ev.event.case) {
          case "notification": {
            const n = ev.event.value;
            if (n.channel === STATS) showStats(n);
            else {
              add(n, true);
              renderUnread();
            }
            break;
          }
          case "error":
            status.textContent = `${ev.event.value.reason}: ${ev.event.value.message}`;
            break;
          case "goingAway":
            status.textContent = "server restarting; reconnecting";
            break;
        }
      }
    } catch (err) {
      if (!signal.aborted) status.textContent = describeError(err);
    }
  })();
}

interface StatsBody {
  instance?: string;
  active_streams?: Record<string, number>;
  messages_per_second?: number;
}

function showStats(n: Notification): void {
  let body: StatsBody;
  try {
    body = JSON.parse(new TextDecoder().decode(n.data)) as StatsBody;
  } catch {
    return;
  }
  const rate = Number(body.messages_per_second ?? 0);
  const streams = Object.entries(body.active_streams ?? {});
  const open = streams.reduce((sum, [, count]) => sum + Number(count), 0);
  $("stats-rate").textContent = formatNumber(rate);
  $("stats-open").textContent = formatCount(open);
  const at = n.time ? Number(n.time.seconds) * 1000 + Math.floor(n.time.nanos / 1e6) : Date.now();
  chart?.push({ at, a: rate, b: open });
  const rows = streams.map(([svc, count]) => {
    const num = el("td", { className: "num", text: formatCount(Number(count)) });
    const name = el("td", { text: svc.replace(/^realtime\.v1\./, "") || "(none)" });
    name.title = svc;
    return el("tr", {}, name, num);
  });
  $("stats-streams").replaceChildren(...rows);
  $("stats-status").textContent = `instance ${body.instance ?? "?"}, updated ${new Date().toLocaleTimeString()}`;
}
