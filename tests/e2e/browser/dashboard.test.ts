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
const WIDTHS = [390, 1280, 1920];
// An id with no place to break: it must wrap inside its card, never push buttons out of it.
const LONG_ID = `deploy-${"0123456789abcdef".repeat(12)}`;

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
  await page.locator("#services li", { hasText: "DiagnosticsService" }).waitFor({ timeout: WAIT });
  // Infrastructure (operations, reflection, health) is summarised apart, not listed as a user service.
  const listed = await page.locator("#services li").allTextContents();
  assert.deepEqual(listed.filter((s) => /longrunning|Operations$|grpc\.|Health|Reflection/.test(s)), [], `services: ${listed}`);
  assert.ok(listed.length >= 2, `services: ${listed}`);
  assert.match((await page.locator("#infra-services").textContent()) ?? "", /^Plus \d+ infrastructure services? \(.*operations.*\)\.$/);
  assert.match((await page.locator("#server-info").textContent()) ?? "", /Max message\d[\d,.]* (KiB|MiB|GiB)/);
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
  assert.equal(await page.locator("#mark-all").isEnabled(), true, "Mark all read is enabled with unread items");
  await item.getByRole("button", { name: /Mark .* read/ }).click();
  await page.locator("#unread").getByText(String(before), { exact: true }).waitFor({ timeout: WAIT });
  await admin.publish({ channel: "general", title: LONG_ID, body: `job ${LONG_ID} finished` });
  await page.locator("#feed li", { hasText: LONG_ID }).first().waitFor({ timeout: WAIT });
  // Live server stats from system:stats (the signed-in user is an admin).
  await page.locator("#stats-status").getByText(/instance/).waitFor({ timeout: WAIT });
  // Formatted: at most two decimals, grouped thousands (never a raw float like 0.33333).
  assert.match((await page.locator("#stats-rate").textContent()) ?? "", /^\d{1,3}(,\d{3})*(\.\d{1,2})?$/);
  assert.match((await page.locator("#stats-open").textContent()) ?? "", /^\d{1,3}(,\d{3})*$/);
  // The live chart: two series drawn once a sample is in.
  await page.locator("#stats-chart polyline.a").waitFor({ state: "attached", timeout: WAIT });
  assert.equal(await page.locator("#stats-chart polyline").count(), 2);
  await shot("notifications");
});

test("an analysis job shows its progress over a gRPC-Web stream, then its result", async () => {
  const panel = page.locator("#analysis-panel");
  if (!services.includes("realtime.v1.AnalysisService")) {
    assert.equal(await panel.isVisible(), false, "no analysis panel without the service");
    return;
  }
  const analyze = panel.getByRole("button", { name: "Analyze" });
  // Nothing to analyse yet: the button is visibly disabled and the page says why.
  assert.equal(await analyze.isDisabled(), true, "Analyze is disabled with no text");
  assert.equal(await page.locator("#analysis-hint").textContent(), "Type some text to analyze.");
  await page.locator("#analysis-input").fill("Hello world. akuo! This text is inspected by the hub.");
  assert.equal(await analyze.isEnabled(), true);
  await analyze.click();
  const job = page.locator("#analysis-jobs li").first();
  await job.getByText("done 100%").waitFor({ timeout: WAIT });
  assert.equal(await job.locator("progress").getAttribute("value"), "100");
  // Rendered as tables, not raw JSON.
  assert.ok((await job.locator(".result table").count()) >= 2, "the result is shown as tables");
  assert.match((await job.locator(".result").textContent()) ?? "", /Language/);
  assert.doesNotMatch((await job.locator(".result").textContent()) ?? "", /^\s*\{/);

  // An image: the optimized output is shown as a picture.
  assert.equal(await page.locator("#analysis-file").isVisible(), false, "no image picker for a text analyzer");
  await page.locator("#analysis-analyzer").selectOption("image.optimize");
  assert.equal(await page.locator("#analysis-input").isVisible(), false, "no text box for an image analyzer");
  assert.equal(await analyze.isDisabled(), true, "Analyze is disabled with no image");
  assert.equal(await page.locator("#analysis-hint").textContent(), "Choose an image to analyze.");
  await page.evaluate(async () => {
    const canvas = document.createElement("canvas");
    canvas.width = 480;
    canvas.height = 320;
    const g = canvas.getContext("2d")!;
    const grad = g.createLinearGradient(0, 0, 480, 320);
    grad.addColorStop(0, "#0b63ce");
    grad.addColorStop(1, "#f5c542");
    g.fillStyle = grad;
    g.fillRect(0, 0, 480, 320);
    g.fillStyle = "#fff";
    g.font = "48px sans-serif";
    g.fillText("realtime hub", 60, 180);
    const blob = await new Promise<Blob>((resolve) => canvas.toBlob((b) => resolve(b!), "image/png"));
    const files = new DataTransfer();
    files.items.add(new File([blob], "banner.png", { type: "image/png" }));
    const input = document.getElementById("analysis-file") as HTMLInputElement;
    input.files = files.files;
    input.dispatchEvent(new Event("change"));
  });
  await analyze.click();
  const imageJob = page.locator("#analysis-jobs li", { hasText: "banner.png" });
  await imageJob.getByText("done 100%").waitFor({ timeout: WAIT });
  const img = imageJob.locator(".result img");
  await img.waitFor({ timeout: WAIT });
  await page.waitForFunction((el) => (el as HTMLImageElement).complete, await img.elementHandle(), { timeout: WAIT });
  assert.equal(await img.evaluate((el) => (el as HTMLImageElement).naturalWidth), 480);
  assert.match((await imageJob.locator(".result").textContent()) ?? "", /Reduction\d[\d.,]* %/);
  await page.locator("#analysis-analyzer").selectOption("text.inspect");
  assert.equal(await page.locator("#analysis-file").isVisible(), false);
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
    assert.equal(await panel.isVisible(), services.includes("realtime.v1.AnalysisService"));
    return;
  }
  const bmp = noisyBmp(1400, 1000, 12345);
  console.log(`noisy BMP 1400x1000 seed 12345: ${bmp.length} bytes`);
  await page.locator("#analysis-analyzer").selectOption("image.optimize");
  await page.locator("#analysis-file").setInputFiles({ name: "noise.bmp", mimeType: "image/bmp", buffer: bmp });
  // Far above one message, yet no blocker: the image goes as an upload.
  assert.equal(await page.locator("#analysis-hint").textContent(), "");
  // Remember whether an upload row with a progress bar ever appeared (it is removed once the job runs).
  await page.evaluate(() => {
    const w = window as unknown as { sawUpload: boolean };
    w.sawUpload = false;
    new MutationObserver(() => {
      if (document.querySelector("#analysis-jobs li.upload progress")) w.sawUpload = true;
    }).observe(document.getElementById("analysis-jobs")!, { childList: true, subtree: true });
  });
  await panel.getByRole("button", { name: "Analyze", exact: true }).click();
  const job = page.locator("#analysis-jobs li", { hasText: "image.optimize: noise.bmp" }).first();
  await job.getByText("done 100%").waitFor({ timeout: 60_000 });
  assert.equal(await page.evaluate(() => (window as unknown as { sawUpload: boolean }).sawUpload), true);
  // The optimized image is over 512 KiB: it comes by reference, is read back, shown and offered.
  const link = job.locator("a.artifact");
  await link.waitFor({ timeout: WAIT });
  const bytes = Number(await link.getAttribute("data-bytes"));
  assert.ok(bytes > 512 * 1024, `optimized ${bytes} bytes`);
  assert.match((await link.getAttribute("href")) ?? "", /^data:image\//);
  const img = job.locator(".result img");
  await page.waitForFunction((el) => (el as HTMLImageElement).complete, await img.elementHandle(), { timeout: WAIT });
  assert.equal(await img.evaluate((el) => (el as HTMLImageElement).naturalWidth), 1400);
  assert.match((await job.locator(".result").textContent()) ?? "", /Original bytes4(\.\d)? MiB/);
  // The upload row goes once the job runs: only the job is left.
  assert.equal(await page.locator("#analysis-jobs li.upload").count(), 0);
  await page.locator("#analysis-analyzer").selectOption("text.inspect");
  await shot("upload");
});

test("the shared notes board applies notes through the sequencer, live", async () => {
  const panel = page.locator("#collab-panel");
  if (!services.includes("realtime.v1.CollaborationService")) {
    assert.equal(await panel.isVisible(), false, "no board without the service");
    return;
  }
  const addButton = panel.getByRole("button", { name: "Add" });
  assert.equal(await addButton.isDisabled(), true, "Add is disabled before a board is open");
  assert.equal(await page.locator("#collab-hint").textContent(), "Open a board to add notes.");
  await panel.getByRole("button", { name: "Open" }).click();
  await page.locator("#collab-status").getByText(/^live on board-pat/).waitFor({ timeout: WAIT });
  assert.equal(await addButton.isEnabled(), true, "Add is enabled on a live board");
  assert.equal(await page.locator("#collab-hint").isVisible(), false);
  await page.locator("#collab-people li", { hasText: "pat" }).waitFor({ timeout: WAIT });
  await page.locator("#collab-text").fill("Ship the gateway");
  await panel.getByRole("button", { name: "Add" }).click();
  const note = page.locator("#collab-notes li", { hasText: "Ship the gateway" });
  await note.waitFor({ timeout: WAIT }); // shown once the server applied and broadcast it
  await shot("board");
  await note.getByRole("button", { name: /Delete note/ }).click();
  await note.waitFor({ state: "detached", timeout: WAIT });
  await page.locator("#collab-text").fill(LONG_ID);
  await addButton.click();
  await page.locator("#collab-notes li", { hasText: LONG_ID }).waitFor({ timeout: WAIT });
});

test("a call: microphone audio streams in, a typed line gets a reply", async () => {
  const panel = page.locator("#call-panel");
  if (!services.includes("realtime.v1.ConversationService")) {
    assert.equal(await panel.isVisible(), false, "no call panel without the service");
    return;
  }
  const send = panel.getByRole("button", { name: "Send" });
  // Before a call, typed lines cannot go anywhere: Send is disabled and the page says why.
  assert.equal(await send.isDisabled(), true, "Send is disabled before Call");
  assert.equal(await page.locator("#call-hint").textContent(), "Start a call to send typed lines.");
  assert.equal(await page.locator("#call-hint").isVisible(), true);
  await panel.getByRole("button", { name: "Call" }).click();
  // Chromium's fake capture device stands in for the microphone.
  await page.locator("#call-status").getByText(/listening|hearing/).waitFor({ timeout: WAIT });
  await page.locator("#call-text").fill("Hello, who is calling?");
  await send.click();
  await page.locator("#call-log li", { hasText: "Hub" }).first().waitFor({ timeout: WAIT });
  await shot("call");
  await panel.getByRole("button", { name: "Hang up" }).click();
  assert.equal(await send.isDisabled(), true, "Send is disabled again after hanging up");
  assert.match((await page.locator("#call-hint").textContent()) ?? "", /start a call/);
});

// Everything that overflows: the page wider than the window, an element outside its card, or a
// scroll box that scrolls sideways. Returns one line per problem.
function overflowProblems(): string[] {
  const out: string[] = [];
  const name = (e: Element) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}${e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : ""}`;
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth) out.push(`page scrollWidth ${root.scrollWidth} > innerWidth ${window.innerWidth}`);
  const cards = [...document.querySelectorAll<HTMLElement>(".panel, header.top")].filter((c) => c.offsetParent !== null);
  for (const card of cards) {
    const box = card.getBoundingClientRect();
    if (box.right > window.innerWidth + 0.5) out.push(`${name(card)} ends at ${box.right} beyond ${window.innerWidth}`);
    for (const e of card.querySelectorAll("*")) {
      const r = e.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue; // not rendered
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5) {
        out.push(`${name(e)} in ${name(card)}: [${Math.round(r.left)}, ${Math.round(r.right)}] outside [${Math.round(box.left)}, ${Math.round(box.right)}]`);
      }
      const style = getComputedStyle(e);
      if (/(auto|scroll)/.test(style.overflowX) && e.scrollWidth > e.clientWidth + 1) {
        out.push(`${name(e)} in ${name(card)} scrolls sideways (${e.scrollWidth} > ${e.clientWidth})`);
      }
    }
  }
  return out;
}

test("responsive at 390, 1280 and 1920 px: nothing scrolls sideways or leaves its card", async () => {
  await page.locator("#feed li", { hasText: LONG_ID }).first().waitFor({ timeout: WAIT });
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    assert.deepEqual(await page.evaluate(overflowProblems), [], `overflow at ${width} px`);
    // The states the other tests set up hold at every width.
    assert.equal(await page.locator("#call-panel").getByRole("button", { name: "Send" }).isDisabled(), true);
    assert.equal(await page.locator("#call-hint").isVisible(), true);
    const chart = await page.locator("#stats-chart").boundingBox();
    const card = await page.locator("#stats-panel").boundingBox();
    assert.ok(chart && card && chart.width > 0 && chart.x + chart.width <= card.x + card.width + 0.5, `chart inside its card at ${width} px`);
    await shot(`dashboard-${width}`);
  }
  // The dark palette (prefers-color-scheme) for whoever looks at the screenshots.
  await page.emulateMedia({ colorScheme: "dark" });
  await page.setViewportSize({ width: 1280, height: 900 });
  assert.deepEqual(await page.evaluate(overflowProblems), [], "overflow in the dark palette");
  await shot("dashboard-1280-dark");
  await page.emulateMedia({ colorScheme: "light" });
});

test("no console errors, failed requests or page errors", () => {
  assert.deepEqual(problems, []);
});
