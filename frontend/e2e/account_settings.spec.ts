// The signed-in header and the account page, as a learner lives them: the header keeps one row
// on a phone with an account menu (a disclosure that opens by tap or keyboard, closes with
// Escape, outside, or on navigation); the account page changes the password (then signing in
// takes the new one), changes the email through the links Auth mails to both addresses (read
// from the outbox), and deletes the account: signed out and told so, sign-in refused, and the
// payment still in the operator's books with nobody named in it.
import type { Page } from "@playwright/test";

import {
  expect,
  test,
  JOINS,
  PASSWORD,
  Steps,
  accountButton,
  alerts,
  card,
  existingLearner,
  expectAccessible,
  expectHostedCheckout,
  expectSignedInAs,
  linkIn,
  newEmail,
  newestMailTo,
  notification,
  openAccountMenu,
  signOut,
  signUp,
  stack,
} from "./support";

const PHONE = { width: 390, height: 844 };
const NEW_PASSWORD = "a-changed-learner-password";

async function passwordGrant(email: string, password: string): Promise<number> {
  const res = await fetch(`${stack.supabase}/auth/v1/token?grant_type=password`, {
    method: "POST",
    headers: { apikey: stack.anonKey, "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  return res.status;
}

async function toAccountSettings(page: Page): Promise<void> {
  const panel = await openAccountMenu(page);
  await panel.getByRole("link", { name: "Account settings" }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByRole("heading", { level: 1, name: "Your account" })).toBeFocused();
  await expect(accountButton(page)).toHaveAttribute("aria-expanded", "false");
}

/** The operator's view of a payment: the checkout_sessions row through the REST API with the secret key. */
async function operatorPayment(sessionId: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${stack.supabase}/rest/v1/checkout_sessions?id=eq.${sessionId}&select=*`, {
    headers: { apikey: stack.secretKey, accept: "application/vnd.pgrst.object+json" },
  });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as Record<string, unknown>;
}

for (const viewport of [PHONE, { width: 1280, height: 900 }]) {
  test(`the account menu at ${viewport.width} px: one row, opens by tap, closes with Escape, outside and on navigation`, async ({
    browser,
  }) => {
    const context = await browser.newContext({ viewport, hasTouch: true });
    const page = await context.newPage();
    const steps = new Steps(page, test.info());
    const email = newEmail("menu");
    await signUp(page, email);

    // one row: the brand, Lessons and the account button share the bar's line
    const banner = page.getByRole("banner");
    const brand = await page.getByRole("link", { name: "Lesson shop" }).boundingBox();
    const button = await accountButton(page).boundingBox();
    expect(brand && button, "the brand and the account button are shown").toBeTruthy();
    expect(Math.abs(brand!.y + brand!.height / 2 - (button!.y + button!.height / 2))).toBeLessThan(4);
    expect((await banner.boundingBox())!.height, "the header is one row high").toBeLessThan(80);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    const nav = page.getByRole("navigation", { name: "Main" });
    await expect(accountButton(page)).toHaveAttribute("aria-expanded", "false");
    await steps.shot("signed-in-header");

    // a tap opens it: who is signed in, and where to go
    await accountButton(page).tap();
    await expect(accountButton(page)).toHaveAttribute("aria-expanded", "true");
    const panel = page.locator(`[id="${await accountButton(page).getAttribute("aria-controls")}"]`);
    await expect(panel.getByText(email, { exact: true })).toBeVisible();
    await expect(panel.getByRole("link", { name: "Account settings" })).toBeVisible();
    await expect(panel.getByRole("button", { name: "Sign out" })).toBeVisible();
    if (viewport.width < 640) {
      // Purchases moved into the menu on a phone
      await expect(panel.getByRole("link", { name: "Purchases" })).toBeVisible();
      await expect(nav.getByRole("link", { name: "Purchases" })).toHaveCount(1);
    } else {
      await expect(panel.getByRole("link", { name: "Purchases" })).toBeHidden();
      await expect(nav.getByRole("link", { name: "Purchases" })).toBeVisible();
    }
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await expectAccessible(page, "the account menu open");
    await steps.shot("menu-open");

    // Escape closes it and hands the focus back to its button
    await page.keyboard.press("Escape");
    await expect(panel).toBeHidden();
    await expect(accountButton(page)).toBeFocused();

    // a tap outside closes it
    await accountButton(page).tap();
    await expect(panel).toBeVisible();
    await page.touchscreen.tap(8, viewport.height - 8); // the page's margin, clear of the panel
    await expect(panel).toBeHidden();
    await expect(accountButton(page)).toHaveAttribute("aria-expanded", "false");

    // the keyboard opens it too, and leaving it by Tab closes it
    await accountButton(page).focus();
    await page.keyboard.press("Enter");
    await expect(panel).toBeVisible();
    await page.keyboard.press("Tab");
    await expect(panel.getByRole("link").first()).toBeFocused();

    // following a link closes it, on the page it leads to
    await panel.getByRole("link", { name: "Account settings" }).click();
    await expect(page).toHaveURL(/\/account$/);
    await expect(panel).toBeHidden();
    await expect(page.getByRole("heading", { level: 1, name: "Your account" })).toBeFocused();
    await steps.shot("account-page");
    await context.close();
  });
}

test("a learner changes their password on the account page, then signs in with it", async ({ page }) => {
  await page.setViewportSize(PHONE);
  const steps = new Steps(page, test.info());
  const email = newEmail("new-password");
  await signUp(page, email);
  await toAccountSettings(page);
  await expectAccessible(page, "the account page");

  await page.getByLabel("New password").fill("short");
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page).toHaveURL(/\/account$/); // the browser's own check: 6 characters at least
  expect(await passwordGrant(email, PASSWORD)).toBe(200);

  await page.getByLabel("New password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(notification(page)).toContainText("Your password is changed.");
  await expect(page.getByLabel("New password")).toHaveValue("");
  await steps.shot("password-changed");
  expect(await passwordGrant(email, PASSWORD), "the old password no longer works").toBe(400);

  // signing out says so, on the page it lands on (the account page needs a learner: sign-in)
  await signOut(page);
  await expect(page).toHaveURL(/\/login\?next=%2Faccount$/);
  await expect(notification(page)).toContainText("You're signed out.");
  await steps.shot("signed-out");

  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expectSignedInAs(page, email);
});

test("a learner changes their email through the links mailed to both addresses", async ({ page }) => {
  await page.setViewportSize(PHONE);
  const steps = new Steps(page, test.info());
  const email = newEmail("old-address");
  const moved = newEmail("new-address");
  await signUp(page, email);
  await toAccountSettings(page);
  await expect(page.getByText(`You sign in as ${email}.`)).toBeVisible();

  // the address it already has, and one another account holds: refused in words, nothing sent
  const taken = newEmail("taken");
  await existingLearner(taken);
  await page.getByLabel("New email").fill(email.toUpperCase());
  await page.getByRole("button", { name: "Change email" }).click();
  await expect(alerts(page)).toContainText("That is already your email.");
  await page.getByLabel("New email").fill(taken);
  await page.getByRole("button", { name: "Change email" }).click();
  await expect(alerts(page)).toContainText("Another account already uses that email.");

  await page.getByLabel("New email").fill(moved);
  await page.getByRole("button", { name: "Change email" }).click();
  await expect(notification(page)).toContainText(`We've sent a link to ${moved} and one to ${email}.`);
  await steps.shot("links-sent");

  const toNew = await newestMailTo(moved);
  const toOld = await newestMailTo(email);
  expect(toNew.subject).toBe("Confirm your new Lesson shop email");
  expect(toOld.subject).toBe("Confirm your new Lesson shop email");
  const newLink = linkIn(toNew.html, "/api/auth/confirm");
  const oldLink = linkIn(toOld.html, "/api/auth/confirm");
  expect(new URL(newLink).origin, "the mail links to this site").toBe(new URL(page.url()).origin);
  expect(newLink).not.toBe(oldLink);

  // the first link: accepted, and the page says what is left to do
  await page.goto(oldLink);
  await expect(page).toHaveURL(/\/account\?email_change=confirmed_one$/);
  await expect(notification(page)).toContainText("That address is confirmed. Now open the link we sent to your other");
  await expect(page.getByText(`You sign in as ${email}.`)).toBeVisible();
  expect(await passwordGrant(email, PASSWORD), "nothing changed yet").toBe(200);
  await steps.shot("one-link-opened");

  // the second: the email is changed and the learner signed in with it
  await page.goto(newLink);
  await expect(page).toHaveURL(/\/account\?email_change=done$/);
  await expect(notification(page)).toContainText("Your email is changed.");
  await expect(page.getByText(`You sign in as ${moved}.`)).toBeVisible();
  await expectSignedInAs(page, moved);
  await expectAccessible(page, "email changed");
  await steps.shot("email-changed");
  expect(await passwordGrant(email, PASSWORD), "the old address no longer signs in").toBe(400);
  expect(await passwordGrant(moved, PASSWORD)).toBe(200);

  // a link used twice says so
  await page.goto(newLink);
  await expect(page).toHaveURL(/\/account\?email_change=otp_expired$/);
  await expect(alerts(page)).toContainText("That link has expired or was already used.");
});

test("a learner deletes their account: signed out and told so, sign-in refused, the payment kept for the books with nobody named", async ({
  page,
}) => {
  await page.setViewportSize(PHONE);
  const steps = new Steps(page, test.info());
  const email = newEmail("leaving");
  await signUp(page, email);

  // a purchase first: its payment must outlive the account
  await card(page, JOINS).getByRole("button", { name: /^Buy/ }).click();
  await expectHostedCheckout(page, JOINS);
  await page.getByRole("button", { name: "Pay", exact: true }).click();
  await expect(notification(page)).toContainText(`Purchase complete: ${JOINS.title} is yours.`);
  const sessionId = new URL(page.url()).searchParams.get("session_id") ?? "";
  expect(sessionId).toMatch(/^cs_/);
  const before = await operatorPayment(sessionId);
  expect(before.user_id).toBeTruthy();

  await toAccountSettings(page);
  // the secret key the deletion route uses never reaches the browser
  const scripts = await page
    .locator("script[src]")
    .evaluateAll((found) => found.map((s) => (s as HTMLScriptElement).src));
  expect(scripts.length).toBeGreaterThan(0);
  for (const src of scripts) expect(await (await fetch(src)).text(), src).not.toContain(stack.secretKey);
  const section = page.getByRole("region", { name: "Delete your account" });
  await expect(section).toContainText("Records of your payments (amount, date, Stripe reference and any refund) stay");
  const remove = section.getByRole("button", { name: "Delete my account" });
  await expect(remove).toBeDisabled();
  await section.getByLabel('Type your email or the word "delete" to confirm').fill("someone-else@example.com");
  await expect(remove).toBeDisabled();
  await section.getByLabel('Type your email or the word "delete" to confirm').fill(email.toUpperCase());
  await expect(remove).toBeEnabled();
  await expectAccessible(page, "the account page, deletion confirmed");
  await steps.shot("confirm-deletion");
  await remove.click();

  await expect(page).toHaveURL(/\/lessons\?account=deleted$/);
  await expect(notification(page)).toContainText("Your account is deleted and you're signed out.");
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sign in" })).toBeVisible();
  await expect(accountButton(page)).toHaveCount(0);
  await steps.shot("deleted");

  // the account page no longer opens, and signing in is refused
  await page.goto("/account");
  await expect(page).toHaveURL(/\/login\?next=%2Faccount$/);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(alerts(page)).toContainText("That email and password don't match an account.");
  expect(await passwordGrant(email, PASSWORD)).toBe(400);
  await steps.shot("sign-in-refused");

  // the operator still has the payment, naming nobody
  const after = await operatorPayment(sessionId);
  expect(after.user_id).toBeNull();
  const books = (row: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(row).filter(([key]) => !["user_id", "updated_at"].includes(key)));
  expect(books(after), "amounts, dates, Stripe ids and status as they were").toEqual(books(before));
  expect(after.amount_total).toBe(1200);
  expect(after.stripe_payment_intent_id).toMatch(/^pi_/);
});
