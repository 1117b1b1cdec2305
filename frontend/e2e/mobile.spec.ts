// Every page on a phone: each link, button and field a finger can hit is at least 44 × 44 CSS
// px at 390 px (WCAG 2.5.5's size; the only exception taken is 2.5.8's inline one, a link inside
// a sentence of prose), and no page scrolls sideways at 360, 390 or 768 px. Signed out, and
// signed in owning a lesson (the reader, Purchases with a payment, the account page, the open
// account menu). On a phone the header keeps one row, signed in or out.
import type { Page } from "@playwright/test";

import {
  expect,
  test,
  FREE,
  JOINS,
  Steps,
  card,
  expectHostedCheckout,
  newEmail,
  notification,
  openAccountMenu,
  signUp,
} from "./support";

const MIN = 44;

const SIGNED_OUT = [
  "/lessons",
  `/lessons/${JOINS.slug}`,
  `/lessons/${FREE.slug}`,
  "/login",
  "/signup",
  "/forgot-password",
  "/reset-password",
  "/profile", // sends to sign-in
  "/terms",
  "/refunds",
  "/privacy",
  "/contact",
  "/no-such-page",
];

const SIGNED_IN = ["/lessons", `/lessons/${JOINS.slug}`, `/lessons/${FREE.slug}`, "/profile", "/account"];

/** The visible targets smaller than 44 × 44 px, each described; links inside a sentence of
 * prose (a paragraph, list item or quote with words besides the link) are exempt. */
async function smallTargets(page: Page): Promise<string[]> {
  return page.evaluate((min) => {
    const selector =
      'a[href], button, input:not([type="hidden"]), select, textarea, summary, [role="button"], [tabindex]:not([tabindex="-1"])';
    const words = (el: Element | null) => (el?.textContent ?? "").replace(/\s+/g, " ").trim();
    const found: string[] = [];
    for (const el of Array.from(document.querySelectorAll<HTMLElement>(selector))) {
      const style = getComputedStyle(el);
      const box = el.getBoundingClientRect();
      if (style.visibility === "hidden" || box.width === 0 || box.height === 0) continue;
      // off-screen until focused (the skip link): a keyboard's target, not a finger's
      if (box.right + window.scrollX <= 0) continue;
      if (el.tagName === "A") {
        const block = el.parentElement?.closest("p, li, dd, blockquote, figcaption, td");
        if (block && words(block).length > words(el).length) continue;
      }
      if (box.width + 0.5 < min || box.height + 0.5 < min) {
        const name = el.getAttribute("aria-label") ?? (words(el) || el.getAttribute("name") || el.id);
        found.push(
          `${el.tagName.toLowerCase()} "${name.slice(0, 40)}" ${Math.round(box.width)}×${Math.round(box.height)}`,
        );
      }
    }
    return found;
  }, MIN);
}

async function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/** How far the main navigation sits from the brand's line (0: one row), in px. */
async function headerRows(page: Page): Promise<number> {
  const brand = await page.getByRole("link", { name: "Lesson shop" }).boundingBox();
  const nav = await page.getByRole("navigation", { name: "Main" }).boundingBox();
  if (!brand || !nav) return Infinity;
  return Math.abs(brand.y + brand.height / 2 - (nav.y + nav.height / 2)) + Math.max(0, nav.height - brand.height);
}

async function checkPages(page: Page, paths: string[], steps: Steps, tag: string) {
  for (const width of [360, 390, 768]) {
    await page.setViewportSize({ width, height: 800 });
    for (const path of paths) {
      await page.goto(path);
      await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
      // soft: one run lists every page's problems
      expect
        .soft(await sidewaysOverflow(page), `${path} (${tag}) scrolls sideways at ${width} px`)
        .toBeLessThanOrEqual(0);
      if (width < 768) {
        expect.soft(await headerRows(page), `the header of ${path} (${tag}) is one row at ${width} px`).toBeLessThan(4);
      }
      if (width === 390) {
        expect.soft(await smallTargets(page), `targets under ${MIN} px on ${path} (${tag}) at 390 px`).toEqual([]);
        await steps.shot(`${tag}${path.replace(/\//g, "-")}`);
      }
    }
  }
}

test("every page signed out: tap targets of 44 px at 390 px, no sideways scroll at 360, 390 and 768 px", async ({
  page,
}) => {
  test.setTimeout(120_000);
  await checkPages(page, SIGNED_OUT, new Steps(page, test.info()), "signed-out");
});

test("every page signed in, owning a lesson: tap targets of 44 px at 390 px, no sideways scroll", async ({ page }) => {
  test.setTimeout(180_000);
  const steps = new Steps(page, test.info());
  await page.setViewportSize({ width: 390, height: 844 });
  await signUp(page, newEmail("phone"));
  await card(page, JOINS).getByRole("button", { name: /^Buy/ }).click();
  await expectHostedCheckout(page, JOINS);
  await page.getByRole("button", { name: "Pay", exact: true }).click();
  await expect(notification(page)).toContainText(`Purchase complete: ${JOINS.title} is yours.`);

  await checkPages(page, SIGNED_IN, steps, "signed-in");

  // the account menu, open
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/lessons");
  await openAccountMenu(page);
  expect(await smallTargets(page), "targets under 44 px in the open account menu").toEqual([]);
  expect(await sidewaysOverflow(page)).toBeLessThanOrEqual(0);
  await steps.shot("account-menu-open");
});
