// The shop's own pages (terms, privacy, refunds, contact), written in Markdown under content/ so
// an operator edits words without touching code. Read on the server only.
import { readFile } from "node:fs/promises";
import path from "node:path";

import { renderMarkdown } from "@/lib/markdown";

export const SHOP_PAGES = {
  terms: { title: "Terms of sale", description: "What you buy when you buy a lesson, and how you pay." },
  privacy: { title: "Privacy", description: "What the shop keeps about you, why, and for how long." },
  refunds: { title: "Refund policy", description: "How to ask for a refund, and what refunds and disputes do." },
  contact: { title: "Contact", description: "How to reach the shop about a lesson, a payment or your account." },
} as const;

export type ShopPage = keyof typeof SHOP_PAGES;

export function isShopPage(name: unknown): name is ShopPage {
  return typeof name === "string" && Object.hasOwn(SHOP_PAGES, name);
}

/** The page's Markdown as safe HTML. `next start` runs in frontend/, beside content/. */
export async function shopPageHtml(name: ShopPage): Promise<string> {
  const source = await readFile(path.join(process.cwd(), "content", `${name}.md`), "utf8");
  return renderMarkdown(source);
}
