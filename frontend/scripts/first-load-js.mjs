/* eslint-disable no-console -- a command-line report */
// The JavaScript a first visit to a page loads, gzipped, from the production build's manifest:
// the page's own chunks, _app's, the runtime and the manifests Next loads with them. Not the
// legacy polyfills: Next serves them `<script nomodule>`, which no browser with ES modules loads.
//   npm run build && npm run size -- /lessons
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const DIR = new URL("../.next/", import.meta.url).pathname;

/** {files: [{file, gzipped}], raw, gzipped} in bytes for `page`, or throws if it was not built. */
export function firstLoadJs(page) {
  const manifest = JSON.parse(readFileSync(join(DIR, "build-manifest.json"), "utf8"));
  if (!manifest.pages[page])
    throw new Error(`${page} is not in .next/build-manifest.json: run \`npm run build\` first`);
  const names = new Set(
    [
      ...manifest.rootMainFiles,
      ...manifest.pages["/_app"],
      ...manifest.pages[page],
      ...manifest.lowPriorityFiles,
    ].filter((file) => file.endsWith(".js")),
  );
  const files = [...names].map((file) => {
    const bytes = readFileSync(join(DIR, file));
    return { file, raw: bytes.length, gzipped: gzipSync(bytes).length };
  });
  return {
    files,
    raw: files.reduce((sum, f) => sum + f.raw, 0),
    gzipped: files.reduce((sum, f) => sum + f.gzipped, 0),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const page = process.argv[2] ?? "/lessons";
  try {
    const { files, raw, gzipped } = firstLoadJs(page);
    for (const f of files) console.log(`${(f.gzipped / 1024).toFixed(1).padStart(7)} kB  ${f.file}`);
    console.log(
      `${(gzipped / 1024).toFixed(1).padStart(7)} kB gzipped (${(raw / 1024).toFixed(1)} kB raw) for ${page}, ${files.length} files`,
    );
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
