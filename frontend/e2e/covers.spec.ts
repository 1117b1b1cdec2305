// Lesson covers: each catalogue card and the lesson's page show the cover from Supabase
// Storage's public bucket, with its alt text, in a box sized before it loads (no layout shift),
// and the lesson's page names it as its link-preview image by absolute URL.
import { expect, test, JOINS, Steps, card, expectAccessible, stack } from "./support";

const JOINS_COVER = "Two columns of white cards side by side on green, paired row by row";

/** The layout shift the page has had so far (what Lighthouse's CLS adds up). */
async function layoutShift(page: import("@playwright/test").Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        let total = 0;
        new PerformanceObserver((list) => {
          for (const entry of list.getEntries() as unknown as { value: number; hadRecentInput: boolean }[]) {
            if (!entry.hadRecentInput) total += entry.value;
          }
        }).observe({ type: "layout-shift", buffered: true });
        setTimeout(() => resolve(total), 300);
      }),
  );
}

for (const width of [390, 1280]) {
  test(`covers on the catalogue and a lesson's page at ${width} px`, async ({ page, request }) => {
    await page.setViewportSize({ width, height: 900 });
    const steps = new Steps(page, test.info());
    await page.goto("/lessons");
    const cover = card(page, JOINS).getByRole("img", { name: JOINS_COVER });
    await cover.scrollIntoViewIfNeeded();
    await expect(cover).toBeVisible();
    await expect.poll(() => cover.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(960);
    expect(await cover.getAttribute("src")).toMatch(
      new RegExp(`^${stack.supabase.replace(/\/+$/, "")}/storage/v1/object/public/lesson-covers/`),
    );
    // every published lesson has one, each saying what it shows
    const covers = page.getByRole("article").getByRole("img");
    expect(await covers.count()).toBe(await page.getByRole("article").count());
    for (const alt of await covers.evaluateAll((all) => all.map((img) => img.getAttribute("alt") ?? ""))) {
      expect(alt.length).toBeGreaterThan(10);
    }
    expect(await layoutShift(page)).toBe(0);
    await steps.shot("catalogue with covers");
    await expectAccessible(page, "/lessons");

    await page.goto(`/lessons/${JOINS.slug}`);
    const own = page.getByRole("main").getByRole("img", { name: JOINS_COVER });
    await expect.poll(() => own.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(960);
    const preview = await page.locator('meta[property="og:image"]').getAttribute("content");
    expect(preview).toBe(await own.getAttribute("src"));
    await expect(page.locator('meta[property="og:image:alt"]')).toHaveAttribute("content", JOINS_COVER);
    // a link preview fetches it with no key and no cookie
    const image = await request.get(preview!, { headers: {} });
    expect(image.status()).toBe(200);
    expect(image.headers()["content-type"]).toBe("image/png");
    expect(await layoutShift(page)).toBe(0);
    await steps.shot("lesson page with its cover");
    await expectAccessible(page, `/lessons/${JOINS.slug}`);
  });
}
