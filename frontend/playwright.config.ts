// Browser tests in real Chromium (Debian's /usr/bin/chromium, driven by Playwright).
// Run them with `make e2e` (or `uv run python -m tools.e2e`): it builds the site, starts the
// whole stack on free ports and hands its addresses to these tests as E2E_* variables.
import { defineConfig } from "@playwright/test";

import { CHROMIUM_FLAGS } from "./scripts/chromium.mjs";

const baseURL = process.env.E2E_BASE_URL;
if (!baseURL) {
  throw new Error("E2E_BASE_URL is not set: run the browser tests with `make e2e`");
}

export default defineConfig({
  testDir: "./e2e",
  outputDir: "./e2e/artifacts/test-results",
  // one browser at a time: the machine has two cores and one test stops the sidecar
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  timeout: 90_000,
  expect: { timeout: 15_000 },
  reporter: [["list"], ["json", { outputFile: "e2e/artifacts/results.json" }]],
  use: {
    baseURL,
    browserName: "chromium",
    viewport: { width: 1100, height: 800 },
    locale: "en-US",
    timezoneId: "UTC",
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.E2E_CHROMIUM ?? "/usr/bin/chromium",
      args: CHROMIUM_FLAGS,
    },
  },
});
