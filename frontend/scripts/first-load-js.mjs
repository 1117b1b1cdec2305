/* eslint-disable no-console -- a command-line report */
// The JavaScript a first visit to a page loads, gzipped, from the production build's manifest:
// the page's own chunks, _app's, the runtime and the manifests Next loads with them.
//   npm run build && npm run size -- /lessons
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const page = process.argv[2] ?? "/lessons";
const dir = new URL("../.next/", import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(dir, "build-manifest.json"), "utf8"));
if (!manifest.pages[page]) {
  console.error(`${page} is not in .next/build-manifest.json: run \`npm run build\` first`);
  process.exit(1);
}
const files = new Set(
  [
    ...manifest.polyfillFiles,
    ...manifest.rootMainFiles,
    ...manifest.pages["/_app"],
    ...manifest.pages[page],
    ...manifest.lowPriorityFiles,
  ].filter((file) => file.endsWith(".js")),
);
let raw = 0;
let gzipped = 0;
for (const file of files) {
  const bytes = readFileSync(join(dir, file));
  const size = gzipSync(bytes).length;
  raw += bytes.length;
  gzipped += size;
  console.log(`${(size / 1024).toFixed(1).padStart(7)} kB  ${file}`);
}
console.log(`${(gzipped / 1024).toFixed(1).padStart(7)} kB gzipped (${(raw / 1024).toFixed(1)} kB raw) for ${page}, ${files.size} files`);
