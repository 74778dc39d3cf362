// The dashboard in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core; never
// `playwright install`). Started by tests/e2e/test_gateway_browser.py, which runs the hub and passes
// REALTIME_HTTP_URL, REALTIME_GRPC_URL, REALTIME_ADMIN_TOKEN, REALTIME_SERVICES and REALTIME_SHOT_DIR.
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
const services = (process.env.REALTIME_SERVICES ?? "").split(",");
const shots = process.env.REALTIME_SHOT_DIR;
const WAIT = 15_000;

const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
  "--autoplay-policy=no-user-gesture-required",
];

let context: BrowserContext;
let page: Page;
let userDir: string;
const problems: string[] = [];

before(async () => {
  userDir = mkdtempSync(path.join(tmpdir(), "realtime-chromium-"));
  context = await chromium.launchPersistentContext(userDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: FLAGS,
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warning") problems.push(`console.${msg.type()}: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("requestfailed", (req) => {
    // Streams the page itself cancels (sign out, navigation) are not failures.
    if (!req.failure()?.errorText.includes("ERR_ABORTED")) problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`);
  });
});

after(async () => {
  await context?.close();
  rmSync(userDir, { recursive: true, force: true });
});

async function shot(name: string): Promise<void> {
  if (shots) await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

test("loads, signs in with a dev token, shows the services that exist", async () => {
  await page.goto(httpUrl + "/", { waitUntil: "load" });
  assert.equal(await page.title(), "Realtime hub dashboard");
  await page.locator("#dev-sub").fill("pat");
  await page.locator("#dev-admin").check();
  await page.getByRole("button", { name: "Sign in with a dev token" }).click();
  await page.locator("#identity").getByText("Signed in as pat (admin)").waitFor({ timeout: WAIT });
  await page.locator("#services li", { hasText: "realtime.v1.DiagnosticsService" }).waitFor({ timeout: WAIT });
  for (const [svc, panel] of [
    ["realtime.v1.TextService", "#text-panel"],
    ["realtime.v1.NotificationService", "#notifications-panel"],
  ]) {
    assert.equal(await page.locator(panel).isVisible(), services.includes(svc), `${panel} visibility`);
  }
  await page.getByRole("button", { name: "Measure" }).click();
  await page.locator("#echo-result").getByText(/10 pings, average/).waitFor({ timeout: WAIT });
  await shot("signed-in");
});

test("a wrong-layout word is fixed as it is typed", async () => {
  assert.ok(services.includes("realtime.v1.TextService"), "the test hub serves the text service");
  await page.locator("#text-input").pressSequentially("akuo", { delay: 30 });
  await page.locator("#text-fixed").getByText("שלום").waitFor({ timeout: WAIT });
  assert.equal(await page.locator("#text-input").inputValue(), "שלום");
  await shot("text-fixed");
});

test("a published notification arrives live; mark as read lowers the unread count", async () => {
  assert.ok(services.includes("realtime.v1.NotificationService"), "the test hub serves notifications");
  await page.locator("#notifications-status").getByText("live").waitFor({ timeout: WAIT });
  const before = Number(await page.locator("#unread").textContent());
  const admin = createClient(
    NotificationService,
    createHubNodeTransport({ baseUrl: grpcUrl, token: staticToken(process.env.REALTIME_ADMIN_TOKEN ?? "") }),
  );
  await admin.publish({ channel: "general", title: "Deploy finished", body: "all green" });
  const item = page.locator("#feed li", { hasText: "Deploy finished" });
  await item.waitFor({ timeout: WAIT });
  await page.locator("#unread").getByText(String(before + 1), { exact: true }).waitFor({ timeout: WAIT });
  await item.getByRole("button", { name: /Mark .* read/ }).click();
  await page.locator("#unread").getByText(String(before), { exact: true }).waitFor({ timeout: WAIT });
  // Live server stats from system:stats (the signed-in user is an admin).
  await page.locator("#stats-status").getByText(/instance/).waitFor({ timeout: WAIT });
  await shot("notifications");
});

test("an analysis job shows its progress over a gRPC-Web stream, then its result", async () => {
  const panel = page.locator("#analysis-panel");
  if (!services.includes("realtime.v1.AnalysisService")) {
    assert.equal(await panel.isVisible(), false, "no analysis panel without the service");
    return;
  }
  await page.locator("#analysis-input").fill("Hello world. akuo! This text is inspected by the hub.");
  await panel.getByRole("button", { name: "Analyze" }).click();
  const job = page.locator("#analysis-jobs li").first();
  await job.getByText("done 100%").waitFor({ timeout: WAIT });
  assert.equal(await job.locator("progress").getAttribute("value"), "100");
  assert.match((await job.locator(".result").textContent()) ?? "", /language/);
  await shot("analysis");
});

/** A 24-bit BMP of pseudo-random pixels (fixed seed): incompressible, so its optimized WebP is
 * larger than the 512 KiB an operation carries inline and comes back through UploadService.Read. */
function noisyBmp(width: number, height: number, seed: number): Buffer {
  const row = Math.ceil((width * 3) / 4) * 4;
  const buf = Buffer.alloc(54 + row * height);
  buf.write("BM", 0, "latin1");
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(54, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(24, 28);
  buf.writeUInt32LE(row * height, 34);
  let x = seed >>> 0;
  for (let i = 54; i < buf.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}

test("an image of 4 MB uploads from a browser File in chunks, is optimized, and comes back by Read", async () => {
  const panel = page.locator("#analysis-panel");
  if (!services.includes("realtime.v1.AnalysisService") || !services.includes("realtime.v1.UploadService")) {
    assert.equal(await page.locator("#analysis-file-form").isVisible(), false);
    return;
  }
  const bmp = noisyBmp(1400, 1000, 12345);
  console.log(`noisy BMP 1400x1000 seed 12345: ${bmp.length} bytes`);
  await page.locator("#analysis-file").setInputFiles({ name: "noise.bmp", mimeType: "image/bmp", buffer: bmp });
  await panel.getByRole("button", { name: "Optimize", exact: true }).click();
  const job = page.locator("#analysis-jobs li", { hasText: "noise.bmp" }).first();
  await job.getByText("done 100%").waitFor({ timeout: 60_000 });
  const link = job.locator("a.artifact");
  await link.waitFor({ timeout: WAIT });
  const bytes = Number(await link.getAttribute("data-bytes"));
  assert.ok(bytes > 512 * 1024, `optimized ${bytes} bytes`);
  assert.match((await job.locator(".result").textContent()) ?? "", /"original_bytes": 4200054/);
  await shot("upload");
});

test("the shared notes board applies notes through the sequencer, live", async () => {
  const panel = page.locator("#collab-panel");
  if (!services.includes("realtime.v1.CollaborationService")) {
    assert.equal(await panel.isVisible(), false, "no board without the service");
    return;
  }
  await panel.getByRole("button", { name: "Open" }).click();
  await page.locator("#collab-status").getByText(/^live on board-pat/).waitFor({ timeout: WAIT });
  await page.locator("#collab-people li", { hasText: "pat" }).waitFor({ timeout: WAIT });
  await page.locator("#collab-text").fill("Ship the gateway");
  await panel.getByRole("button", { name: "Add" }).click();
  const note = page.locator("#collab-notes li", { hasText: "Ship the gateway" });
  await note.waitFor({ timeout: WAIT }); // shown once the server applied and broadcast it
  await shot("board");
  await note.getByRole("button", { name: /Delete note/ }).click();
  await note.waitFor({ state: "detached", timeout: WAIT });
});

test("a call: microphone audio streams in, a typed line gets a reply", async () => {
  const panel = page.locator("#call-panel");
  if (!services.includes("realtime.v1.ConversationService")) {
    assert.equal(await panel.isVisible(), false, "no call panel without the service");
    return;
  }
  await panel.getByRole("button", { name: "Call" }).click();
  // Chromium's fake capture device stands in for the microphone.
  await page.locator("#call-status").getByText(/listening|hearing/).waitFor({ timeout: WAIT });
  await page.locator("#call-text").fill("Hello, who is calling?");
  await panel.getByRole("button", { name: "Send" }).click();
  await page.locator("#call-log li", { hasText: "Hub" }).first().waitFor({ timeout: WAIT });
  await shot("call");
  await panel.getByRole("button", { name: "Hang up" }).click();
});

test("no console errors, failed requests or page errors", () => {
  assert.deepEqual(problems, []);
});
