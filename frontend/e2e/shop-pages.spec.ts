// The shop's own pages: reached from the footer of any page, readable at phone and desk widths,
// each with its own title and description for search results and link previews.
import { expect, test, Steps, expectAccessible } from "./support";

const PAGES = [
  { link: "Terms of sale", path: "/terms", heading: "Terms of sale" },
  { link: "Refund policy", path: "/refunds", heading: "Refund policy" },
  { link: "Privacy", path: "/privacy", heading: "Privacy" },
  { link: "Contact", path: "/contact", heading: "Contact" },
];

for (const width of [390, 1280]) {
  test(`the footer's pages at ${width} px`, async ({ page }) => {
    await page.setViewportSize({ width, height: 900 });
    const steps = new Steps(page, test.info());
    await page.goto("/lessons");
    await expect(page.getByRole("link", { name: "Lesson shop" })).toHaveAttribute("href", "/lessons");
    const description = await page.locator('meta[name="description"]').getAttribute("content");
    expect(description).toMatch(/lessons/i);

    for (const { link, path, heading } of PAGES) {
      await page.getByRole("contentinfo").getByRole("link", { name: link }).click();
      await expect(page).toHaveURL(new RegExp(`${path}$`));
      await expect(page.getByRole("heading", { level: 1, name: heading })).toBeFocused();
      await expect(page).toHaveTitle(`${heading} · Lesson shop`);
      await expect(page.locator('meta[property="og:title"]')).toHaveAttribute("content", heading);
      const own = await page.locator('meta[name="description"]').getAttribute("content");
      expect(own, path).not.toBe(description);
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), path).toBe(true);
      await steps.shot(path.slice(1));
      await expectAccessible(page, path);
    }

    // the refund policy's words are the shop's rules (README: a partial refund keeps the lesson)
    await page.goto("/refunds");
    const partial = page.getByRole("listitem").filter({ hasText: /partial refund/i });
    await expect(partial).toContainText("keeps the lesson yours");
  });
}

test("an unknown one-segment address is the 404 page, not a shop page", async ({ page }) => {
  const answer = await page.goto("/constructor");
  expect(answer?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
});
