// The sidecar (or Stripe) stopped mid-flow: the learner sees what happened and a way forward,
// never raw JSON or an endless spinner, and "Try again" works once it is back.
import {
  expect,
  test,
  alerts,
  JOINS,
  RLS,
  WEBHOOKS,
  Steps,
  card,
  expectAccessible,
  expectHostedCheckout,
  signUp,
  newEmail,
  notification,
  part,
  returnedTo,
  sidecar,
  tabTo,
} from "./support";

const UNREACHABLE = "We couldn't reach the payment service. Please try again in a moment.";

test("Buy while the sidecar is down: a clear error, and Try again works once it is back", async ({ page }) => {
  const steps = new Steps(page, test.info());
  await signUp(page, newEmail("sidecar-down"));
  const joins = card(page, JOINS);
  await expect(joins.getByRole("button", { name: "Buy" })).toBeEnabled();

  await sidecar("stop");
  try {
    await joins.getByRole("button", { name: "Buy" }).click();
    await expect(alerts(page).filter({ hasText: UNREACHABLE })).toBeVisible();
    await expect(alerts(page)).not.toContainText("{");
    await expect(page.getByText("Redirecting…")).toHaveCount(0);
    await expect(page.getByRole("button", { name: "Try again" })).toBeEnabled();
    await expectAccessible(page, "the payment service unreachable");
    await steps.shot("sidecar-down");
  } finally {
    await sidecar("start");
  }

  // with the keyboard: the retry is a real, focusable button
  await tabTo(page, page.getByRole("button", { name: "Try again" }));
  await page.keyboard.press("Enter");
  await expectHostedCheckout(page, JOINS);
  await steps.shot("checkout-after-retry");
  await page.getByRole("button", { name: "Pay", exact: true }).click();
  await expect(notification(page)).toContainText(`Purchase complete: ${JOINS.title} is yours.`);
  await steps.shot("owned");
});

test("back from paying while the sidecar is down: a clear error, then Try again shows Owned", async ({ page }) => {
  const steps = new Steps(page, test.info());
  await signUp(page, newEmail("return-down"));
  const rls = card(page, RLS);
  await rls.getByRole("button", { name: "Buy" }).click();
  await expectHostedCheckout(page, RLS);

  await sidecar("stop");
  try {
    await page.getByRole("button", { name: "Pay", exact: true }).click();
    await expect(page).toHaveURL(returnedTo(RLS));
    // the webhook cannot land and the session cannot be read back: say so, do not spin forever
    await expect(alerts(page).filter({ hasText: UNREACHABLE })).toBeVisible({ timeout: 60_000 });
    await expect(alerts(page).filter({ hasText: UNREACHABLE })).toContainText("your payment is safe");
    await expect(page.getByRole("button", { name: "Try again" })).toBeEnabled();
    await expect(page.getByText("Purchase complete")).toHaveCount(0);
    await expect(page.getByRole("article")).toHaveCount(0);
    await expectAccessible(page, "the return with the payment service unreachable");
    await steps.shot("return-sidecar-down");
  } finally {
    await sidecar("start");
  }

  await page.getByRole("button", { name: "Try again" }).click();
  await expect(notification(page)).toContainText(`Purchase complete: ${RLS.title} is yours.`, { timeout: 30_000 });
  await expect(page.getByRole("link", { name: "Start reading" })).toBeFocused();
  await expect(alerts(page)).toHaveCount(0);
  await steps.shot("owned-after-retry");
});

test("Stripe unreachable: the sidecar's 502 becomes a plain message, and Try again works", async ({ page }) => {
  // runs last in this file: the stand-in keeps its state in memory, so a restart forgets
  // every earlier session (this test's learner has none)
  const steps = new Steps(page, test.info());
  await signUp(page, newEmail("stripe-down"));
  const webhooks = card(page, WEBHOOKS);

  await part("stripe", "stop");
  try {
    await webhooks.getByRole("button", { name: "Buy" }).click();
    await expect(alerts(page)).toContainText("not been charged");
    await expect(alerts(page)).not.toContainText("{");
    await expect(page.getByText("Redirecting…")).toHaveCount(0);
    await expect(page.getByRole("button", { name: "Try again" })).toBeEnabled();
    await expectAccessible(page, "the payment provider unreachable");
    await steps.shot("stripe-down");
  } finally {
    await part("stripe", "start");
  }

  await page.getByRole("button", { name: "Try again" }).click();
  await expectHostedCheckout(page, WEBHOOKS);
  await page.getByRole("button", { name: "Pay", exact: true }).click();
  await expect(notification(page)).toContainText(`Purchase complete: ${WEBHOOKS.title} is yours.`);
  await steps.shot("owned");
});
