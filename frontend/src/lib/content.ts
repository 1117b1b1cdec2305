// The shop's own pages' words, Markdown under content/ so an operator edits them without
// touching code. Read at build (getStaticProps): node:fs never reaches the browser.
import { readFile } from "node:fs/promises";
import path from "node:path";

import { renderMarkdown } from "@/lib/markdown";
import type { ShopPage } from "@/lib/shopPages";

/** The page's Markdown as safe HTML. `next start` runs in frontend/, beside content/. */
export async function shopPageHtml(name: ShopPage): Promise<string> {
  const source = await readFile(path.join(process.cwd(), "content", `${name}.md`), "utf8");
  return renderMarkdown(source);
}
