// The one inline script a production page carries: Turbopack's bootstrap, which queues the
// chunks of `_app` and of the page before its runtime loads (next/document writes it with
// Next's own getTurbopackChunkGroupBootstrap). It is fixed for each page of a build, so the
// CSP allows it by hash ('sha256-…') and needs no per-request nonce: prerendered pages stay
// static. The hashes are computed here with Next's own functions from the build's manifest,
// once per server; a dev server (no such script) or a missing manifest gives none.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";

import { getTurbopackChunkGroupBootstrap } from "next/dist/server/get-page-files";
import { htmlEscapeJsonString } from "next/dist/shared/lib/htmlescape";

type Manifest = { pagesChunkGroupBootstrapParams?: Record<string, object>; chunkLoadingGlobal?: string };

/** The CSP sources ('sha256-…') of every page's bootstrap script in the manifest given. */
export function bootstrapScriptSources(manifest: Manifest): string[] {
  const params = manifest.pagesChunkGroupBootstrapParams;
  const global = manifest.chunkLoadingGlobal;
  if (!params || !global) return [];
  const pages = Object.keys(params).filter((page) => page !== "/_app");
  const sources = new Set<string>();
  for (const group of [["/_app"], ...pages.map((page) => ["/_app", page])]) {
    const script = getTurbopackChunkGroupBootstrap(params, global, group);
    if (!script) continue;
    const digest = createHash("sha256").update(htmlEscapeJsonString(script), "utf8").digest("base64");
    sources.add(`'sha256-${digest}'`);
  }
  return [...sources].sort();
}

let cached: string[] | undefined;

/** The bootstrap scripts' CSP sources for the build `next start` serves (from .next/, read once). */
export function servedBootstrapSources(): string[] {
  if (cached) return cached;
  try {
    const file = path.join(process.cwd(), ".next", "build-manifest.json");
    cached = bootstrapScriptSources(JSON.parse(readFileSync(file, "utf8")) as Manifest);
  } catch {
    cached = []; // no build (next dev): nothing inline to allow
  }
  return cached;
}
