// Listen over the gateway's SSE route in headless Chromium: a plain EventSource follows a channel
// and resumes from the id of the last event it saw. Started by tests/e2e/test_notifications_browser.py
// (REALTIME_HTTP_URL, REALTIME_GRPC_URL, REALTIME_ADMIN_TOKEN, REALTIME_USER_TOKEN, REALTIME_EPOCH).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { NotificationService } from "../../../gen/ts/realtime/v1/notifications_pb.js";
import { createClient, createHubNodeTransport, staticToken } from "../../../src/clients/node/index.js";

const httpUrl = process.env.REALTIME_HTTP_URL ?? "http://127.0.0.1:8080";
const grpcUrl = process.env.REALTIME_GRPC_URL ?? "http://127.0.0.1:50051";
const userToken = process.env.REALTIME_USER_TOKEN ?? "";
const epoch = process.env.REALTIME_EPOCH ?? "";
const WAIT = 15_000;

let context: BrowserContext;
let page: Page;
let userDir: string;

before(async () => {
  userDir = mkdtempSync(path.join(tmpdir(), "realtime-chromium-"));
  context = await chromium.launchPersistentContext(userDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
  page = context.pages()[0] ?? (await context.newPage());
  await page.goto(httpUrl + "/"); // same origin as the SSE route
});

after(async () => {
  await context?.close();
  rmSync(userDir, { recursive: true, force: true });
});

type Seen = { id: string; title: string; offset: string; batched: boolean };

/** Opens an EventSource on Listen in the page and returns the first `count` notifications. */
async function listen(count: number, lastEventId: string, acceptBatches = false): Promise<Seen[]> {
  const request = { channels: [{ channel: "topic:browser", since: { epoch, offset: "0" } }], acceptBatches };
  let url = `/sse/realtime.v1.NotificationService/Listen?request=${encodeURIComponent(JSON.stringify(request))}`;
  url += `&access_token=${encodeURIComponent(userToken)}`;
  if (lastEventId) url += `&last_event_id=${encodeURIComponent(lastEventId)}`;
  return page.evaluate(
    ({ url, count, wait }) =>
      new Promise<Seen[]>((resolve, reject) => {
        const seen: Seen[] = [];
        const source = new EventSource(url);
        const timer = setTimeout(() => {
          source.close();
          reject(new Error(`only ${seen.length} notifications within ${wait} ms`));
        }, wait);
        source.addEventListener("message", (event) => {
          const data = JSON.parse((event as MessageEvent).data);
          // A batch event carries several notifications; its id is the last one's position.
          const batched = Boolean(data.batch);
          const notes = data.batch ? data.batch.notifications : data.notification ? [data.notification] : [];
          for (const n of notes) {
            seen.push({ id: (event as MessageEvent).lastEventId, title: n.title, offset: String(n.position.offset), batched });
          }
          if (seen.length >= count) {
            clearTimeout(timer);
            source.close();
            resolve(seen);
          }
        });
        source.addEventListener("status", (event) => {
          clearTimeout(timer);
          source.close();
          reject(new Error(`stream ended: ${(event as MessageEvent).data}`));
        });
      }),
    { url, count, wait: WAIT },
  );
}

test("an EventSource follows a channel and resumes from its last event id", async () => {
  const first = await listen(3, "");
  assert.deepEqual(
    first.map((n) => n.title),
    ["n0", "n1", "n2"],
  );
  assert.deepEqual(
    first.map((n) => n.id),
    [1, 2, 3].map((i) => `${epoch}:${i}`),
  );
  const admin = createClient(
    NotificationService,
    createHubNodeTransport({ baseUrl: grpcUrl, token: staticToken(process.env.REALTIME_ADMIN_TOKEN ?? "") }),
  );
  await admin.publish({ channel: "topic:browser", title: "n3" });
  await admin.publish({ channel: "topic:browser", title: "n4" });
  // Resuming from the last id seen gives exactly what came after it.
  const resumed = await listen(2, first[2].id);
  assert.deepEqual(
    resumed.map((n) => [n.title, n.offset]),
    [
      ["n3", "4"],
      ["n4", "5"],
    ],
  );
});

test("an EventSource that accepts batches gets them, and resumes from a batch's id", async () => {
  // n0..n4 are in history (the test above): replayed together as one batch.
  const replay = await listen(5, "", true);
  assert.deepEqual(
    replay.map((n) => [n.title, n.offset, n.batched, n.id]),
    [0, 1, 2, 3, 4].map((i) => [`n${i}`, String(i + 1), true, `${epoch}:5`]),
  );
  const admin = createClient(
    NotificationService,
    createHubNodeTransport({ baseUrl: grpcUrl, token: staticToken(process.env.REALTIME_ADMIN_TOKEN ?? "") }),
  );
  await admin.publish({ channel: "topic:browser", title: "n5" });
  const resumed = await listen(1, replay[4].id, true);
  assert.deepEqual(
    resumed.map((n) => [n.title, n.offset]),
    [["n5", "6"]],
  );
});
