// SPDX-License-Identifier: MIT
// Drives the web dashboard in headless Chromium (playwright-core, Debian's /usr/bin/chromium):
// submit an image, follow the job to completed, wait for the 3D preview, download the asset.
// Usage: node dashboard_e2e.cjs BASE_URL IMAGE OUT_DIR [API_KEY [CONTAINER]]
// (NODE_PATH = tools/node/node_modules). With an API_KEY the page must ask for it (the server
// requires keys) before anything works; CONTAINER is an AssetContainer name (default GLB).
// Writes OUT_DIR/empty.png and OUT_DIR/model.png (viewer screenshots) and prints a JSON summary.
"use strict";
const { createHash } = require("node:crypto");
const { readFileSync } = require("node:fs");
const { basename, extname, join } = require("node:path");
const { chromium } = require("playwright-core");

const [baseUrl, imagePath, outDir, apiKey, container] = process.argv.slice(2);

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync",
      // WebGL through the CPU rasteriser, since there is no GPU.
      "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
    ],
  });
  const out = { consoleErrors: [], requests: [] };
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    const page = await context.newPage();
    page.on("console", (msg) => {
      if (msg.type() !== "error") return;
      out.consoleErrors.push(msg.text());
      process.stderr.write(`console: ${msg.text()}\n`);
    });
    page.on("pageerror", (error) => {
      out.consoleErrors.push(String(error));
      process.stderr.write(`page error: ${error}\n`);
    });
    page.on("request", (request) => out.requests.push(request.url()));

    const started = Date.now();
    await page.goto(baseUrl, { waitUntil: "load" });
    if (apiKey) {
      await page.waitForSelector("#key-box:not([hidden])");
      out.bannerBeforeKey = await page.textContent("#banner");
      await page.fill("#api-key", apiKey);
      await page.press("#api-key", "Enter");
      await page.locator("#api-key").blur();
      // The page asked for a key: its unauthenticated calls logged HTTP 401s, as they should.
      out.consoleErrors = out.consoleErrors.filter((text) => !text.includes("401"));
    }
    await page.waitForSelector("#server-info .chip");
    out.loadMs = Date.now() - started;
    out.chips = await page.locator("#server-info .chip").allTextContents();
    await page.locator("#viewer").screenshot({ path: join(outDir, "empty.png") });

    await page.setInputFiles("#image", imagePath);
    await page.fill("#display-name", basename(imagePath, extname(imagePath)));
    await page.selectOption("#pipeline", "PIPELINE_TYPE_512");
    await page.selectOption("#texture-size", "256");
    await page.fill("#decimation", "2000");
    await page.fill("#seed", "5");
    if (container) await page.selectOption("#container", container);
    await page.click(".advanced summary");
    await page.fill("#ss-steps", "12");
    await page.click("#submit");

    // Sample the progress bar while the job runs.
    const fractions = [];
    const deadline = Date.now() + 150_000;
    for (;;) {
      const state = await page.textContent("#job-state");
      fractions.push(Number(await page.getAttribute("#job-progress", "value")) || (await page.evaluate(() => document.getElementById("job-progress").value)));
      if (["succeeded", "failed", "canceled"].includes(state)) {
        out.state = state;
        break;
      }
      if (Date.now() > deadline) throw new Error(`job still ${state} after 150 s`);
      await page.waitForTimeout(100);
    }
    out.fractions = fractions;
    out.events = await page.locator("#events li").allTextContents();
    out.listed = await page.locator("#jobs li.job.selected").getAttribute("data-state");
    out.downloads = await page.locator("#downloads a").count();

    await page.waitForSelector('#viewer[data-state="loaded"]', { timeout: 60_000 });
    await page.waitForTimeout(300);
    await page.locator("#viewer").screenshot({ path: join(outDir, "model.png") });

    const link = page.locator("#downloads a.main");
    out.expectedDigest = await link.getAttribute("data-digest");
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    out.downloadName = download.suggestedFilename();
    const path = await download.path();
    out.downloadDigest = createHash("sha256").update(readFileSync(path)).digest("hex");
    const zipLink = page.locator("#downloads a.zip");
    if (await zipLink.count()) {
      const [zip] = await Promise.all([page.waitForEvent("download"), zipLink.click()]);
      out.zipName = zip.suggestedFilename();
      out.zipHead = readFileSync(await zip.path()).subarray(0, 2).toString("latin1");
    }

    // "New seed": the same image and settings again, as a new job that runs to the end.
    const firstId = await page.getAttribute("#jobs li.job.selected", "data-job-id");
    await page.click("#variation");
    await page.waitForFunction(
      (id) => {
        const selected = document.querySelector("#jobs li.job.selected");
        return selected && selected.dataset.jobId !== id && document.getElementById("job-state").textContent === "succeeded";
      },
      firstId,
      { timeout: 150_000 },
    );
    const jobs = await page.locator("#jobs li.job").count();
    out.variation = { jobs, differentJob: (await page.getAttribute("#jobs li.job.selected", "data-job-id")) !== firstId };
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
