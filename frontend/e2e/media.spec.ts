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

test("a visitor hears the free lesson's media", async ({ page }) => {
  const steps = new Steps(page, test.info());
  await page.goto(`/lessons/${FREE.slug}`);
  await expect(page.getByRole("region", { name: "Lesson media" })).toBeVisible();
  await expectPlays(page, "Welcome, read aloud");
  await expectAccessible(page, "a free lesson's media");
  await steps.shot("free-media");
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
  await expect(card(page, JOINS).getByText("Owned", { exact: true })).toBeVisible();
  const sessionId = returnedSession(page);

  await page.goto(`/lessons/${JOINS.slug}`);
  const media = page.getByRole("region", { name: "Lesson media" });
  await expect(media).toBeVisible();
  await expectPlays(page, "Joins in two seconds");
  const diagram = media.getByRole("img", { name: "Two overlapping circles: a left join keeps all of the left one" });
  await expect(diagram).toHaveAttribute("src", SIGNED);
  await expect.poll(() => diagram.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(240);
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
  const reader = await page.context().newPage();
  await expect(async () => {
    await reader.goto(`/lessons/${JOINS.slug}`);
    await expect(reader.getByText(/^Refunded on .+\. Access ended\.$/)).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await reader.close();

  // still on the page opened before the refund: a player whose URL fails asks for a new one,
  // Storage signs nothing, and the reader says so without a reload
  await page.getByLabel("Joins in two seconds", { exact: true }).dispatchEvent("error");
  await expect(
    page.getByRole("status").filter({ hasText: "Your access to this lesson's media has ended." }),
  ).toBeVisible();
  await expect(page.getByRole("region", { name: "Lesson media" })).toHaveCount(0);
  await steps.shot("media-ended");

  await page.reload();
  await expect(page.getByText(/^Refunded on .+\. Access ended\.$/)).toBeVisible();
  await expect(page.getByRole("region", { name: "Lesson media" })).toHaveCount(0);
  await expect(page.locator("audio, video, img")).toHaveCount(0);
  await steps.shot("media-after-refund");
});
