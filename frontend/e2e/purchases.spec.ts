// Purchases as a record of payments, as one learner's history grows: a refund and a second
// purchase of the same lesson, a partial refund, a dispute open, lost and won, a delayed payment
// that failed and one still processing. Each row in words, on a laptop (a table) and on a phone
// (cards, no sideways scrolling), the reference copied, and the receipt opened from its link.
import type { Page } from "@playwright/test";

import {
  expect,
  test,
  EUROS,
  JOINS,
  RLS,
  Steps,
  WEBHOOKS,
  YEN,
  card,
  disputeClosed,
  disputeOpened,
  expectAccessible,
  expectHostedCheckout,
  newEmail,
  notification,
  paymentIntentOf,
  returnedSession,
  returnedTo,
  settleDelayed,
  signUp,
  stripe,
  type Lesson,
} from "./support";

const LAPTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

type Pay = { button?: "Buy" | "Buy again" | "Try again"; cardNumber?: string; delayed?: boolean };

/** Buy a lesson from its page and pay on the stand-in's hosted page; the Checkout Session id. */
async function buy(page: Page, lesson: Lesson, how: Pay = {}): Promise<string> {
  await page.goto(`/lessons/${lesson.slug}`);
  await expect(async () => {
    // the state the last webhook set may take a moment to land: read the page again until it has
    await page.reload();
    await expect(page.getByRole("button", { name: how.button ?? "Buy" })).toBeEnabled({ timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await page.getByRole("button", { name: how.button ?? "Buy" }).click();
  await expectHostedCheckout(page, lesson);
  if (how.cardNumber) await page.getByLabel("Card number").fill(how.cardNumber);
  await page.getByRole("button", { name: how.delayed ? "Pay with a delayed method" : "Pay", exact: true }).click();
  await expect(page).toHaveURL(returnedTo(lesson));
  if (how.delayed) {
    await expect(page.getByText("Payment processing", { exact: true })).toBeVisible();
  } else {
    await expect(notification(page)).toContainText("Purchase complete");
  }
  return returnedSession(page);
}

async function openDisputeAndWait(page: Page, lesson: Lesson, paymentIntent: string): Promise<string> {
  const dispute = await disputeOpened(paymentIntent);
  await page.goto(`/lessons/${lesson.slug}`);
  await expect(async () => {
    await page.reload();
    await expect(page.getByText(/access is paused/)).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  return dispute;
}

/** The table row (laptop) of a lesson's payment in a given state. */
function row(page: Page, lesson: Lesson, state: RegExp) {
  return page
    .getByRole("row", { name: new RegExp(lesson.title) })
    .filter({ has: page.getByRole("cell", { name: state }) });
}

test("Purchases tells every payment as it stands, on a laptop and on a phone", async ({ page, context, baseURL }) => {
  test.setTimeout(240_000);
  const steps = new Steps(page, test.info());
  await page.setViewportSize(LAPTOP);
  await signUp(page, newEmail("history"));

  // refunded in full, then bought again
  const joinsFirst = await buy(page, JOINS);
  await stripe("POST", "/v1/refunds", { payment_intent: await paymentIntentOf(joinsFirst) });
  const joinsAgain = await buy(page, JOINS, { button: "Buy again" });

  // partly refunded: $5 of $19, with a Mastercard
  const webhooks = await buy(page, WEBHOOKS, { cardNumber: "5555 5555 5555 4444" });
  await stripe("POST", "/v1/refunds", { payment_intent: await paymentIntentOf(webhooks), amount: "500" });

  // a dispute still open
  const euros = await buy(page, EUROS);
  await openDisputeAndWait(page, EUROS, await paymentIntentOf(euros));

  // a dispute lost (the bank gave the money back), then a second payment whose dispute the shop won
  const yenFirst = await buy(page, YEN);
  await disputeClosed(await openDisputeAndWait(page, YEN, await paymentIntentOf(yenFirst)), "lost");
  const yenAgain = await buy(page, YEN, { button: "Buy again" });
  await disputeClosed(await openDisputeAndWait(page, YEN, await paymentIntentOf(yenAgain)), "won");

  // a delayed payment that failed, then one still processing
  const rlsFailed = await buy(page, RLS, { delayed: true });
  await settleDelayed(rlsFailed, "delayed_fail");
  await expect(page.getByText("The payment failed. You have not been charged.")).toBeVisible({ timeout: 30_000 });
  await buy(page, RLS, { button: "Try again", delayed: true });

  await page.goto("/profile");
  await expect(async () => {
    await page.reload();
    for (const [lesson, state] of [
      [JOINS, /^Refunded/],
      [JOINS, /^Paid$/],
      [WEBHOOKS, /^Partly refunded/],
      [EUROS, /^Disputed/],
      [YEN, /^Reversed by your bank/],
      [YEN, /^Dispute closed/],
      [RLS, /^Failed/],
      [RLS, /^Processing/],
    ] as const) {
      await expect(row(page, lesson, state), `${lesson.title}: ${state}`).toHaveCount(1, { timeout: 1_000 });
    }
  }).toPass({ timeout: 30_000 });
  await expect(page.getByRole("row")).toHaveCount(9); // the header and eight payments, newest first
  await expect(page.getByRole("row").nth(1)).toContainText(RLS.title);
  await expect(page.getByRole("row").nth(1)).toContainText("Processing");

  // what each row says, in the learner's words
  const partly = row(page, WEBHOOKS, /^Partly refunded/);
  await expect(partly).toContainText("The lesson is still yours.");
  await expect(partly.getByText("Mastercard •••• 4444")).toBeVisible();
  await expect(partly.getByText("$5.00 refunded on", { exact: false })).toBeVisible();
  await expect(partly.getByRole("cell", { name: /^\$19\.00/ })).toBeVisible();
  await expect(row(page, JOINS, /^Refunded/).getByText(/^\$12\.00 refunded on /)).toBeVisible();
  await expect(row(page, YEN, /^Reversed/)).toContainText("Your bank returned the money to you. Access ended.");
  await expect(row(page, RLS, /^Failed/)).toContainText("You were not charged.");
  await expect(row(page, RLS, /^Processing/).getByRole("link", { name: /Receipt/ })).toHaveCount(0);
  for (const [lesson, state] of [
    [JOINS, /^Paid$/],
    [WEBHOOKS, /^Partly refunded/],
    [YEN, /^Dispute closed/],
  ] as const) {
    const receipt = row(page, lesson, state).getByRole("link", { name: /^Receipt/ });
    await expect(receipt).toHaveAttribute("target", "_blank");
    await expect(receipt).toHaveAttribute("rel", "noopener");
    await expect(receipt).toHaveAttribute("href", /^https?:\/\//);
  }
  // the date and time, in the learner's locale (this browser: en-US, UTC)
  await expect(row(page, JOINS, /^Paid$/).locator("time")).toHaveText(
    /^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2} [AP]M$/,
  );
  await expectAccessible(page, "Purchases with every payment state, 1280 px");
  await steps.shot("purchases-1280");

  // the reference a learner quotes to support: the PaymentIntent id, copied with one button
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: new URL(baseURL!).origin });
  const reference = await paymentIntentOf(joinsAgain);
  const paidRow = row(page, JOINS, /^Paid$/);
  await expect(paidRow.getByText(reference, { exact: true })).toBeVisible();
  await paidRow.getByRole("button", { name: `Copy reference ${reference}` }).click();
  await expect(paidRow.getByRole("button", { name: `Copied reference ${reference}` })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(reference);

  // the receipt opens in a new tab, on the stand-in's receipt page, with no way back to this window
  const opened = page.waitForEvent("popup");
  await paidRow.getByRole("link", { name: /^Receipt/ }).click();
  const receipt = await opened;
  await receipt.waitForLoadState();
  await expect(receipt.getByRole("heading", { name: "Receipt from Lesson shop" })).toBeVisible();
  await expect(receipt.getByText("12.00 USD")).toBeVisible();
  await expect(receipt.getByText(JOINS.title)).toBeVisible();
  await expect(receipt.getByText("Visa ending in 4242")).toBeVisible();
  expect(await receipt.evaluate(() => window.opener)).toBeNull();
  await steps.shot("receipt", receipt);
  await receipt.close();

  // the partly refunded payment's receipt lists its refund
  const partlyOpened = page.waitForEvent("popup");
  await partly.getByRole("link", { name: /^Receipt/ }).click();
  const partlyReceipt = await partlyOpened;
  await expect(partlyReceipt.getByText(/5\.00 USD on .+/)).toBeVisible();
  await partlyReceipt.close();

  // on a phone: the same payments as cards, and nothing to scroll sideways
  await page.setViewportSize(PHONE);
  await page.reload();
  const payments = page.getByRole("list", { name: "Your payments, newest first" }).getByRole("article");
  await expect(payments).toHaveCount(8);
  await expect(page.getByRole("table")).toBeHidden();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow, "Purchases scrolls sideways at 390 px").toBeLessThanOrEqual(0);
  const partlyCard = payments.filter({ hasText: "Partly refunded" });
  await expect(partlyCard.getByRole("heading", { level: 2, name: WEBHOOKS.title })).toBeVisible();
  await expect(partlyCard.getByText("Mastercard •••• 4444")).toBeVisible();
  await expect(partlyCard.getByRole("link", { name: /^Receipt/ })).toBeVisible();
  await expectAccessible(page, "Purchases with every payment state, 390 px");
  await steps.shot("purchases-390");

  // the catalogue says the same, card by card, on the phone and on the laptop
  await page.goto("/lessons");
  await expect(card(page, EUROS).getByText("Access paused")).toBeVisible();
  await expect(card(page, RLS).getByText("Payment processing")).toBeVisible();
  await expect(card(page, YEN).getByText("Owned", { exact: true })).toBeVisible();
  await expect(card(page, WEBHOOKS).getByText("Owned", { exact: true })).toBeVisible();
  const catalogueOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(catalogueOverflow, "the catalogue scrolls sideways at 390 px").toBeLessThanOrEqual(0);
  await expectAccessible(page, "the catalogue with every lesson state, 390 px");
  await steps.shot("catalogue-390");
  await page.goto(`/lessons/${EUROS.slug}`);
  await steps.shot("lesson-disputed-390");
  await page.setViewportSize(LAPTOP);
  await page.goto("/lessons");
  await steps.shot("catalogue-1280");
  await page.goto(`/lessons/${RLS.slug}`);
  await expect(page.getByText("We'll unlock the lesson when your bank confirms the payment.")).toBeVisible();
  await expectAccessible(page, "a lesson with a payment processing");
  await steps.shot("lesson-processing-1280");
});
