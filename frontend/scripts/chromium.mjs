// How every browser run here starts Debian's Chromium: the browser tests (playwright.config.ts)
// and Lighthouse (scripts/audit.mjs). Playwright's own browser download cannot run here.
export const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
