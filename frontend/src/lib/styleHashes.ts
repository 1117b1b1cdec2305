// The inline styles a production page may create: on a client-side navigation, Next's pages
// router (webpack build) fetches the next page's CSS files and puts each one's text in a
// <style> element it first appends empty (next/dist/client/index.js). Those texts are the build's
// own CSS files, so the CSP allows exactly them by hash ('sha256-…'), and the empty element's,
// instead of 'unsafe-inline' or a nonce that a prerendered page could not vary. Computed once
// per server from the build `next start` serves; a dev server (it allows inline styles) or a
// missing build gives none.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";

function source(text: string | Buffer): string {
  return `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
}

/** The CSP sources for every CSS file the build's pages load (and the empty style element). */
export function builtStyleSources(buildDir: string): string[] {
  const manifest = JSON.parse(readFileSync(path.join(buildDir, "build-manifest.json"), "utf8")) as {
    pages: Record<string, string[]>;
  };
  const files = new Set(
    Object.values(manifest.pages)
      .flat()
      .filter((file) => file.endsWith(".css")),
  );
  const sources = new Set([source("")]);
  for (const file of files) sources.add(source(readFileSync(path.join(buildDir, file))));
  return [...sources].sort();
}

let cached: string[] | undefined;

/** builtStyleSources for the build in .next/ (read once), or none without one. */
export function servedStyleSources(): string[] {
  if (cached) return cached;
  try {
    cached = builtStyleSources(path.join(process.cwd(), ".next"));
  } catch {
    cached = [];
  }
  return cached;
}
