// A lesson's media as a learner meets them, in Chromium against the whole stack: the files the
// devstack seed uploaded to Storage (devstack/media.py), served through signed URLs the reader
// minted on the server. A visitor hears the free lesson; a buyer plays, sees and downloads the
// paid one's; after a refund the reader gets no new URL (without a reload, when a player asks
// again) and, reloaded, shows no media at all.
import type { Page } from "@playwright/test";

import {
  expect,
  test,
  FREE,
  JOINS,
  Steps,
  card,
  expectAccessible,
  expectHostedCheckout,
  newEmail,
  notification,
  record,
  returnedSession,
  signUp,
  stack,
  stripe,
} from "./support";

const SIGNED = new RegExp(
  `^${stack.supabase.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/storage/v1/object/sign/lesson-media/`,
);

/** The audio player's source plays: it loads, and its clock moves once played (muted). */
async function expectPlays(page: Page, name: string): Promise<void> {
  const player = page.getByLabel(name, { exact: true });
  await expect(player).toHaveAttribute("src", SIGNED);
  await expect.poll(() => player.evaluate((el: HTMLMediaElement) => el.readyState)).toBeGreaterThanOrEqual(1);
  await player.evaluate(async (el: HTMLMediaElement) => {
    el.muted = true;
    await el.play();
  });
  await expect.poll(() => player.evaluate((el: HTMLMediaElement) => el.currentTime)).toBeGreaterThan(0.2);
  // the captions beside it loaded (CORS from Storage, allowed by the CSP's media-src)
  await expect
    .poll(() => player.evaluate((el: HTMLMediaElement) => (el.querySelector("track") as HTMLTrackElement).readyState))
    .toBe(2);
}

// make e2e runs the site with MEDIA_URL_TTL_SECONDS=30 (tools/e2e.py)
const TTL_MS = 30_000;

test("a visitor hears the free lesson's media, and the reader signs it again before it expires", async ({ page }) => {
  const steps = new Steps(page, test.info());
  await page.goto(`/lessons/${FREE.slug}`);
  await expect(page.getByRole("region", { name: "Lesson media" })).toBeVisible();
  await expectPlays(page, "Welcome, read aloud");
  await expectAccessible(page, "a free lesson's media");
  await steps.shot("free-media");

  // no reload: a fifth of the TTL before expiry the player gets a fresh URL and still plays
  const player = page.getByLabel("Welcome, read aloud", { exact: true });
  const first = await player.getAttribute("src");
  await expect(player).not.toHaveAttribute("src", first ?? "", { timeout: TTL_MS });
  await expect(player).toHaveAttribute("src", SIGNED);
  await player.evaluate(async (el: HTMLMediaElement) => {
    el.currentTime = 0;
    await el.play();
  });
  await expect.poll(() => player.evaluate((el: HTMLMediaElement) => el.currentTime)).toBeGreaterThan(0.2);
  expect(page.url()).toMatch(new RegExp(`/lessons/${FREE.slug}$`));
});

test("a buyer plays the lesson's media; a refund takes them away", async ({ page }) => {
  const steps = new Steps(page, test.info());
  await signUp(page, newEmail("media"));

  // before buying: the paywall, and no media
  await page.goto(`/lessons/${JOINS.slug}`);
  await expect(page.getByRole("button", { name: "Buy" })).toBeEnabled();
  await expect(page.getByRole("region", { name: "Lesson media" })).toHaveCount(0);

  await page.goto("/lessons");
  await card(page, JOINS).getByRole("button", { name: "Buy" }).click();
  await expectHostedCheckout(page, JOINS);
  await page.getByRole("button", { name: "Pay", exact: true }).click();
  // back from Checkout on the lesson's page
  await expect(notification(page)).toContainText(`Purchase complete: ${JOINS.title} is yours.`);
  const sessionId = returnedSession(page);

  await page.goto(`/lessons/${JOINS.slug}`);
  const media = page.getByRole("region", { name: "Lesson media" });
  await expect(media).toBeVisible();
  await expectPlays(page, "Joins in two seconds");
  const diagram = media.getByRole("img", { name: "Two overlapping circles: a left join keeps all of the left one" });
  await expect(diagram).toHaveAttribute("src", SIGNED);
  await expect.poll(() => diagram.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(240);
  const copied = (await page.getByLabel("Joins in two seconds", { exact: true }).getAttribute("src")) ?? "";
  const notes = media.getByRole("link", { name: "Download Joins: the notes" });
  await expect(media.getByText("(PDF, 1 page)")).toBeVisible();
  const href = (await notes.getAttribute("href")) ?? "";
  expect(href).toMatch(SIGNED);
  const pdf = await page.request.get(href);
  expect(pdf.status()).toBe(200);
  expect(pdf.headers()["content-type"]).toBe("application/pdf");
  expect(pdf.headers()["content-disposition"]).toMatch(/^attachment/);
  expect((await pdf.body()).subarray(0, 5).toString()).toBe("%PDF-");
  await expectAccessible(page, "a bought lesson's media");
  await steps.shot("media-owned");

  // the operator refunds the payment; the charge.refunded webhook ends access
  const session = await stripe("GET", `/v1/checkout/sessions/${sessionId}`);
  await stripe("POST", "/v1/refunds", { payment_intent: String(session.payment_intent) });
  const refunded = Date.now();
  const reader = await page.context().newPage();
  await expect(async () => {
    await reader.goto(`/lessons/${JOINS.slug}`);
    await expect(reader.getByText(/^Refunded on .+\. Access ended\.$/)).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await reader.close();

  // still on the page opened before the refund: a player whose URL fails asks for a new one,
  // Storage signs nothing, and the reader says so without a reload
  // (with a 30 s TTL the reader's own timer may have asked first; either way, no reload)
  await page.evaluate(() => document.querySelector("audio")?.dispatchEvent(new Event("error")));
  await expect(
    page.getByRole("status").filter({ hasText: "Your access to this lesson's media has ended." }),
  ).toBeVisible();
  await expect(page.getByRole("region", { name: "Lesson media" })).toHaveCount(0);
  await steps.shot("media-ended");

  // a URL copied before the refund is a bearer token until it expires (Storage checks access
  // when it signs): refused within the TTL
  await expect
    .poll(async () => (await page.request.get(copied)).status(), { timeout: TTL_MS + 5_000, intervals: [1_000] })
    .toBe(400);
  const refusedAfter = Date.now() - refunded;
  record("Refund → a URL copied before it is refused (ms)", refusedAfter);
  expect(refusedAfter).toBeLessThan(TTL_MS + 5_000);

  await page.reload();
  await expect(page.getByText(/^Refunded on .+\. Access ended\.$/)).toBeVisible();
  await expect(page.getByRole("region", { name: "Lesson media" })).toHaveCount(0);
  // nothing from the private media bucket (the lesson's cover is a public marketing image)
  await expect(page.locator("audio, video")).toHaveCount(0);
  await expect(page.locator('img[src*="/lesson-media/"]')).toHaveCount(0);
  await expect(page.locator("img")).toHaveCount(
    await page.locator('img[src*="/object/public/lesson-covers/"]').count(),
  );
  await steps.shot("media-after-refund");
});
