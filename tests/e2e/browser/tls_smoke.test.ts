// The dashboard over https in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core). Started by tests/e2e/test_wheel_install.py against the wheel-installed hub under
// TLS, which passes REALTIME_HTTP_URL (https) and REALTIME_SPKI: the base64 SHA-256 of the hub
// certificate's public key, the only certificate this browser accepts beyond its system CAs.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { chromium } from "playwright-core";

const httpUrl = process.env.REALTIME_HTTP_URL ?? "";
const spki = process.env.REALTIME_SPKI ?? "";
const WAIT = 15_000;

async function withPage(args: string[], run: (page: import("playwright-core").Page, problems: string[]) => Promise<void>): Promise<void> {
  const userDir = mkdtempSync(path.join(tmpdir(), "realtime-chromium-tls-"));
  const context = await chromium.launchPersistentContext(userDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", ...args],
  });
  const problems: string[] = [];
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(`console.error: ${msg.text()}`);
    });
    await run(page, problems);
  } finally {
    await context.close();
    rmSync(userDir, { recursive: true, force: true });
  }
}

test("over https the dashboard signs in and lists the services through gRPC-Web", async () => {
  assert.match(httpUrl, /^https:\/\//);
  await withPage([`--ignore-certificate-errors-spki-list=${spki}`], async (page, problems) => {
    await page.goto(httpUrl + "/", { waitUntil: "load" });
    assert.equal(await page.title(), "Realtime hub dashboard");
    assert.equal(await page.evaluate(() => window.isSecureContext), true);
    await page.locator("#dev-sub").fill("tess");
    await page.getByRole("button", { name: "Sign in with a dev token" }).click();
    await page.locator("#identity").getByText("Signed in as tess").waitFor({ timeout: WAIT });
    await page.locator("#services li", { hasText: "TextService" }).waitFor({ timeout: WAIT });
    assert.deepEqual(problems, []);
  });
});

test("a browser that does not trust the hub's certificate gets no page", async () => {
  await withPage([], async (page) => {
    await assert.rejects(page.goto(httpUrl + "/", { waitUntil: "load" }), /ERR_CERT/);
  });
});
