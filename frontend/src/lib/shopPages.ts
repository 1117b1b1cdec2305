// The shop's own pages and what search results and link previews say of them. Their words are
// Markdown under content/, read on the server by lib/content.ts.

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
