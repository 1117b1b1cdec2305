// The purchase flow as a learner lives it, in Chromium, against the whole stack: sign up, buy,
// pay on the Stripe stand-in's hosted page, come back to the lesson, read, see the history and
// its receipt, lose access after a refund; delayed payments that succeed or fail; cancel;
// double clicks and a second tab.
import {
  expect,
  test,
  alerts,
  EUROS,
  FREE,
  JOINS,
  RLS,
  Steps,
  WEBHOOKS,
  YEN,
  cancelledTo,
  card,
  disputeOpened,
  expectAccessible,
  expectSignedInAs,
  openAccountMenu,
  expectHostedCheckout,
  learnerId,
  newEmail,
  notification,
  paymentIntentOf,
  record,
  returnedSession,
  returnedTo,
  sessionsOf,
  settleDelayed,
  signUp,
  stripe,
} from "./support";

test("a learner signs up, buys a lesson, reads it, and loses it after a refund", async ({ page }) => {
  const steps = new Steps(page, test.info());
  const email = newEmail("buyer");

  await page.goto("/signup?next=/lessons");
  await expect(page.getByRole("heading", { name: "Create an account" })).toBeVisible();
  await expectAccessible(page, "sign-up");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("a-long-learner-password");
  await steps.shot("sign-up");
  await page.getByRole("button", { name: "Create account" }).click();

  await expect(page).toHaveURL(/\/lessons$/);
  await expect(page.getByRole("heading", { level: 1, name: "Lessons" })).toBeVisible();
  await expectSignedInAs(page, email);
  await openAccountMenu(page);
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
  await page.keyboard.press("Escape");
  const joins = card(page, JOINS);
  for (const lesson of [JOINS, EUROS, YEN]) {
    await expect(card(page, lesson).getByText(lesson.price, { exact: true })).toBeVisible();
    await expect(card(page, lesson).getByRole("button", { name: "Buy" })).toBeEnabled();
  }
  await expect(card(page, FREE).getByText("Free", { exact: true })).toBeVisible();
  await expect(card(page, FREE).getByRole("link", { name: "Read" })).toBeVisible();
  await expectAccessible(page, "the catalogue, signed in");
  await steps.shot("catalogue");

  const buyClicked = Date.now();
  await joins.getByRole("button", { name: "Buy" }).click();
  await expectHostedCheckout(page, JOINS);
  await expect(page.getByText("12.00 USD")).toBeVisible();
  await steps.shot("stripe-checkout");

  const payClicked = Date.now();
  await page.getByRole("button", { name: "Pay", exact: true }).click();
  // back on the lesson's own page, where the next thing to do is to read it
  await expect(page).toHaveURL(returnedTo(JOINS));
  const startReading = page.getByRole("link", { name: "Start reading" });
  await expect(startReading).toBeFocused();
  const owned = Date.now();
  record("Buy click → Purchase complete (ms)", owned - buyClicked);
  record("Pay click → Purchase complete (ms)", owned - payClicked);
  const sessionId = returnedSession(page);
  await expect(notification(page)).toContainText(`Purchase complete: ${JOINS.title} is yours.`);
  await expect(page.getByRole("heading", { level: 1, name: JOINS.title })).toBeVisible();
  await expect(page.getByRole("button", { name: "Buy" })).toHaveCount(0);
  await expectAccessible(page, "the return from Checkout");
  await steps.shot("back-purchase-complete");

  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(new RegExp(`/lessons/${JOINS.slug}$`));
  await expect(page.getByRole("heading", { level: 1, name: JOINS.title })).toBeVisible();
  await expect(page.getByRole("article")).toContainText("An inner join keeps the rows that match");
  await expect(page.getByText("Buy this lesson to read it.")).toHaveCount(0);
  await expect(notification(page)).toHaveCount(0);
  await expectAccessible(page, "the lesson, owned");
  await steps.shot("reading");

  // the server-rendered catalogue agrees
  await page.goto("/lessons");
  await expect(joins.getByText("Owned", { exact: true })).toBeVisible();
  await expect(joins.getByRole("link", { name: "Read" })).toBeVisible();

  await page.getByRole("navigation").getByRole("link", { name: "Purchases" }).click();
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole("heading", { name: "Your purchases" })).toBeVisible();
  for (const header of ["Lesson", "Date", "Amount", "Status", "Payment", "Receipt"]) {
    await expect(page.getByRole("columnheader", { name: header })).toBeVisible();
  }
  const row = page.getByRole("row", { name: new RegExp(JOINS.title) });
  await expect(row.getByRole("cell", { name: "Paid", exact: true })).toBeVisible();
  await expect(row.getByRole("cell", { name: JOINS.price, exact: true })).toBeVisible();
  await expect(row.getByText("Visa •••• 4242")).toBeVisible();
  const paymentIntent = await paymentIntentOf(sessionId);
  await expect(row.getByText(paymentIntent, { exact: true })).toBeVisible();
  await expect(row.getByRole("link", { name: /^Receipt/ })).toHaveAttribute("target", "_blank");
  await expectAccessible(page, "the purchase history");
  await steps.shot("profile-paid");

  // the shop's operator refunds the payment in Stripe; the charge.refunded webhook ends access
  await stripe("POST", "/v1/refunds", { payment_intent: paymentIntent });
  await expect(async () => {
    await page.reload();
    await expect(row.getByRole("cell", { name: /^Refunded/ })).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await expect(row.getByText(/^\$12\.00 refunded on /)).toBeVisible();
  await expectAccessible(page, "the purchase history after a refund");
  await steps.shot("profile-refunded");

  await page.goto(`/lessons/${JOINS.slug}`);
  await expect(page.getByRole("heading", { level: 1, name: JOINS.title })).toBeVisible();
  await expect(page.getByText(/^Refunded on .+\. Access ended\.$/)).toBeVisible();
  await expect(page.getByRole("button", { name: "Buy again" })).toBeEnabled();
  await expect(page.getByText("An inner join keeps the rows that match")).toHaveCount(0);
  await expectAccessible(page, "the lesson's paywall after a refund");
  await steps.shot("paywall-after-refund");

  await page.goto("/lessons");
  await expect(joins.getByRole("button", { name: "Buy again" })).toBeEnabled();
  await expect(joins.getByText(/^Refunded on .+\. Access ended\.$/)).toBeVisible();
  await expect(joins.getByText("Owned", { exact: true })).toHaveCount(0);
  await steps.shot("catalogue-after-refund");
});

test("a delayed payment that succeeds unlocks the lesson without a reload", async ({ page }) => {
  const steps = new Steps(page, test.info());
  await signUp(page, newEmail("delayed-ok"));
  const rls = card(page, RLS);
  await rls.getByRole("button", { name: "Buy" }).click();
  await expectHostedCheckout(page, RLS);
  await page.getByRole("button", { name: "Pay with a delayed method" }).click();

  await expect(page).toHaveURL(returnedTo(RLS));
  const sessionId = returnedSession(page);
  await expect(notification(page).first()).toContainText(
    "Payment processing. We'll unlock the lesson when your bank confirms it.",
  );
  await expect(page.getByText("Payment processing", { exact: true })).toBeVisible();
  await expect(page.getByRole("button", { name: "Buy" })).toHaveCount(0);
  await expectAccessible(page, "a delayed payment processing");
  await steps.shot("processing");

  await settleDelayed(sessionId, "delayed_succeed");
  await expect(notification(page)).toContainText(`Purchase complete: ${RLS.title} is yours.`, {
    timeout: 30_000,
  });
  await expect(page.getByRole("link", { name: "Start reading" })).toBeFocused();
  await steps.shot("owned");
  await page.getByRole("link", { name: "Start reading" }).click();
  await expect(page.getByRole("article")).toBeVisible();

  await page.goto("/profile");
  const row = page.getByRole("row", { name: new RegExp(RLS.title) });
  await expect(row.getByRole("cell", { name: "Paid", exact: true })).toBeVisible();
  await steps.shot("profile");
});

test("a delayed payment that fails says so and grants nothing", async ({ page }) => {
  const steps = new Steps(page, test.info());
  await signUp(page, newEmail("delayed-fail"));
  const webhooks = card(page, WEBHOOKS);
  await webhooks.getByRole("button", { name: "Buy" }).click();
  await expectHostedCheckout(page, WEBHOOKS);
  await page.getByRole("button", { name: "Pay with a delayed method" }).click();
  await expect(page).toHaveURL(returnedTo(WEBHOOKS));
  const sessionId = returnedSession(page);
  await expect(page.getByText("Payment processing", { exact: true })).toBeVisible();
  await steps.shot("processing");

  // meanwhile, in another tab, the history lists the payment as processing
  const history = await page.context().newPage();
  await history.goto("/profile");
  const row = history.getByRole("row", { name: new RegExp(WEBHOOKS.title) });
  await expect(row.getByRole("cell", { name: /^Processing/ })).toBeVisible();
  await expect(row.getByRole("cell", { name: WEBHOOKS.price, exact: true })).toBeVisible();
  await expectAccessible(history, "the history with a payment processing");
  await steps.shot("profile-processing", history);
  await history.close();

  await settleDelayed(sessionId, "delayed_fail");
  await expect(alerts(page)).toContainText("The payment failed. You have not been charged.", {
    timeout: 30_000,
  });
  await expect(page.getByText("Owned", { exact: true })).toHaveCount(0);
  await expect(page.getByRole("article")).toHaveCount(0);
  await expectAccessible(page, "a failed delayed payment");
  await steps.shot("failed");

  // nothing was granted, and the learner may try again: on the lesson, its card and Purchases
  await page.goto(`/lessons/${WEBHOOKS.slug}`);
  await expect(page.getByText("Your last payment didn't go through. You were not charged.")).toBeVisible();
  await expect(page.getByRole("button", { name: "Try again" })).toBeEnabled();
  await page.goto("/lessons");
  await expect(webhooks.getByRole("button", { name: "Try again" })).toBeEnabled();
  await expect(webhooks.getByText("Your last payment didn't go through. You were not charged.")).toBeVisible();
  await expect(webhooks.getByText("Payment processing", { exact: true })).toHaveCount(0);
  await page.goto("/profile");
  const failedRow = page.getByRole("row", { name: new RegExp(WEBHOOKS.title) });
  await expect(failedRow.getByRole("cell", { name: /^Failed/ })).toContainText("You were not charged.");
  await expect(failedRow.getByRole("link", { name: /Receipt/ })).toHaveCount(0);
  await expectAccessible(page, "a history with a failed payment");
  await steps.shot("profile-failed");
});

test("cancelling Checkout charges nothing and the learner can buy again", async ({ page }) => {
  const steps = new Steps(page, test.info());
  const email = newEmail("cancel");
  await signUp(page, email);
  const userId = await learnerId(email);
  const joins = card(page, JOINS);
  await joins.getByRole("button", { name: "Buy" }).click();
  await expectHostedCheckout(page, JOINS);
  const hosted = page.url();
  await page.getByRole("button", { name: "Cancel" }).click();

  // back on the lesson, told plainly (not in success green), with Buy right there
  await expect(page).toHaveURL(cancelledTo(JOINS));
  await expect(page.getByRole("heading", { level: 1, name: JOINS.title })).toBeVisible();
  await expect(notification(page)).toHaveText("Checkout cancelled. You have not been charged.");
  const background = await notification(page).evaluate((el) => getComputedStyle(el).backgroundColor);
  expect(background, "the cancel notice is not success-green").toBe("rgb(238, 241, 244)");
  await expect(page.getByText("Owned", { exact: true })).toHaveCount(0);
  await expect(alerts(page)).toHaveCount(0);
  await expectAccessible(page, "a cancelled Checkout");
  await steps.shot("cancelled");

  // buying again returns to the same Checkout Session: nothing was opened twice
  await expect(page.getByRole("button", { name: "Buy" })).toBeEnabled();
  await page.getByRole("button", { name: "Buy" }).click();
  await expectHostedCheckout(page, JOINS);
  expect(page.url()).toBe(hosted);
  expect(await sessionsOf(userId)).toHaveLength(1);
  await steps.shot("checkout-again");
});

test("a double click on Buy and a second tab open one Checkout Session", async ({ page, context }) => {
  const steps = new Steps(page, test.info());
  const email = newEmail("double");
  await signUp(page, email);
  const userId = await learnerId(email);
  const second = await context.newPage();
  await second.goto("/lessons");
  await expect(card(second, EUROS).getByRole("button", { name: "Buy" })).toBeEnabled();

  // hold our API route's answer a moment so the loading state can be seen (the request still
  // goes through unchanged), and count what the page sends
  let posts = 0;
  page.on("request", (r) => {
    if (r.method() === "POST" && r.url().includes("/api/stripe/checkout_session")) posts += 1;
  });
  await page.route("**/api/stripe/checkout_session", async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await route.continue();
  });
  await card(page, EUROS).getByRole("button", { name: "Buy" }).dblclick();
  const starting = card(page, EUROS).getByRole("button", { name: "Redirecting…" });
  await expect(starting).toBeDisabled();
  await steps.shot("redirecting");
  await expectHostedCheckout(page, EUROS);
  expect(posts, "a double click sends one request").toBe(1);
  await expect(page.getByText("15.00 EUR")).toBeVisible();
  await steps.shot("first-tab");

  await card(second, EUROS).getByRole("button", { name: "Buy" }).click();
  await expectHostedCheckout(second, EUROS);
  await steps.shot("second-tab", second);
  expect(second.url()).toBe(page.url());

  const sessions = await sessionsOf(userId);
  expect(sessions.map((s) => s.id)).toEqual([page.url().split("/").pop()]);
  expect(sessions[0]).toMatchObject({ amount_total: 1500, currency: "eur", status: "open" });
});

test("an expired Checkout Session charges nothing and Buy opens a fresh one", async ({ page }) => {
  const steps = new Steps(page, test.info());
  const email = newEmail("expired");
  await signUp(page, email);
  const userId = await learnerId(email);
  const yen = card(page, YEN);
  await yen.getByRole("button", { name: "Buy" }).click();
  await expectHostedCheckout(page, YEN);
  const first = page.url();
  await page.getByRole("button", { name: "Expire" }).click();

  await expect(page).toHaveURL(cancelledTo(YEN));
  await expect(notification(page)).toContainText("You have not been charged.");
  await expect(page.getByRole("button", { name: "Buy" })).toBeEnabled();
  await steps.shot("expired");

  await page.getByRole("button", { name: "Buy" }).click();
  await expectHostedCheckout(page, YEN);
  expect(page.url()).not.toBe(first);
  const sessions = await sessionsOf(userId);
  expect(sessions.map((s) => s.status).sort()).toEqual(["expired", "open"]);
  await page.getByRole("button", { name: "Pay", exact: true }).click();
  await expect(notification(page)).toContainText(`Purchase complete: ${YEN.title} is yours.`);
  await steps.shot("owned");
});

test("a return link for a Checkout Session that is not the learner's explains itself", async ({ page }) => {
  const steps = new Steps(page, test.info());
  await signUp(page, newEmail("stray-link"));
  await page.goto("/lessons?checkout=success&session_id=cs_test_not_a_session_of_yours");
  await expect(alerts(page)).toHaveText(/\w/);
  await expect(alerts(page)).not.toContainText("{");
  await expect(alerts(page).getByRole("link", { name: "Your purchases" })).toHaveAttribute("href", "/profile");
  await expect(page.getByText("Purchase complete")).toHaveCount(0);
  await expect(card(page, JOINS).getByRole("button", { name: "Buy" })).toBeEnabled();
  await expectAccessible(page, "a stray return link");
  await steps.shot("stray-return-link");
});

test("a disputed payment ends access and the history says Disputed", async ({ page }) => {
  const steps = new Steps(page, test.info());
  await signUp(page, newEmail("disputed"));
  const euros = card(page, EUROS);
  await euros.getByRole("button", { name: "Buy" }).click();
  await expectHostedCheckout(page, EUROS);
  await page.getByRole("button", { name: "Pay", exact: true }).click();
  await expect(notification(page)).toContainText("Purchase complete");
  const paymentIntent = await paymentIntentOf(returnedSession(page));

  // the learner's bank opens a dispute (the stand-in's test control sends charge.dispute.created)
  await disputeOpened(paymentIntent);
  await page.goto("/profile");
  const row = page.getByRole("row", { name: new RegExp(EUROS.title) });
  await expect(async () => {
    await page.reload();
    await expect(row.getByRole("cell", { name: /^Disputed/ })).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await expect(row.getByRole("cell", { name: EUROS.price, exact: true })).toBeVisible();
  await expectAccessible(page, "the history with a dispute");
  await steps.shot("profile-disputed");

  await page.goto(`/lessons/${EUROS.slug}`);
  await expect(page.getByText("Your payment is disputed: access is paused while your bank reviews it.")).toBeVisible();
  await expect(page.getByRole("button", { name: /^Buy/ })).toHaveCount(0);
  await expect(page.getByText("Under read committed each statement")).toHaveCount(0);
  await expect(page.getByRole("link", { name: "See your payment" })).toHaveAttribute("href", "/profile");
  await steps.shot("paywall-while-disputed");
});
