// Account basics as a learner lives them, on a phone (390 px): forgot the password, reset it
// through the mailed link (read from the mail outbox through Mailpit's API), signed in with the
// new one; the link refused the second time with what to do; signing out says so; the sign-in
// and sign-up pages send a signed-in learner on.
import {
  expect,
  test,
  PASSWORD,
  Steps,
  alerts,
  existingLearner,
  expectAccessible,
  expectSignedInAs,
  linkIn,
  newEmail,
  newestMailTo,
  notification,
  signOut,
  signUp,
  stack,
} from "./support";

const PHONE = { width: 390, height: 844 };
const NEW_PASSWORD = "a-fresh-learner-password";

async function fitsTheScreen(page: import("@playwright/test").Page, where: string) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width, `${where}: no horizontal scroll at ${PHONE.width} px`).toBeLessThanOrEqual(PHONE.width);
}

test("a learner who forgot their password resets it through the mailed link and is signed in", async ({ page }) => {
  await page.setViewportSize(PHONE);
  const steps = new Steps(page, test.info());
  const email = newEmail("forgot");
  await existingLearner(email);

  await page.goto("/lessons");
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Sign up" })).toBeVisible();
  await nav.getByRole("link", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
  await page.getByRole("link", { name: "Forgot password?" }).click();

  await expect(page).toHaveURL(/\/forgot-password$/);
  await expect(page.getByRole("heading", { level: 1, name: "Reset your password" })).toBeVisible();
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Send reset link" }).click();
  await expect(notification(page)).toContainText(`If an account exists for ${email}, we've sent it a link`);
  await expectAccessible(page, "forgot password, link sent");
  await fitsTheScreen(page, "/forgot-password");
  await steps.shot("link-sent");

  const mail = await newestMailTo(email);
  expect(mail.subject).toBe("Reset your Lesson shop password");
  const link = linkIn(mail.html, "/api/auth/confirm");
  expect(new URL(link).origin, "the mail links to this site").toBe(new URL(page.url()).origin);
  const outbox = await page.context().newPage();
  await outbox.setViewportSize(PHONE);
  await outbox.goto(stack.mail);
  await expect(outbox.getByRole("link", { name: "Reset your Lesson shop password" }).first()).toBeVisible();
  await steps.shot("outbox", outbox);
  await outbox.close();

  await page.goto(link);
  await expect(page).toHaveURL(/\/reset-password$/);
  await expect(page.getByText(`Signed in as ${email} from your reset link.`)).toBeVisible();
  await expectSignedInAs(page, email); // the header
  await expectAccessible(page, "choose a new password");
  await fitsTheScreen(page, "/reset-password");
  await steps.shot("choose-new-password");
  await page.getByLabel("New password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Save new password" }).click();
  await expect(notification(page)).toContainText(`Your password is changed and you're signed in as ${email}.`);
  await steps.shot("password-changed");

  // the old password no longer works, the new one does
  const old = await fetch(`${stack.supabase}/auth/v1/token?grant_type=password`, {
    method: "POST",
    headers: { apikey: stack.anonKey, "content-type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(old.status).toBe(400);

  await signOut(page);
  await expect(notification(page)).toContainText("You're signed out.");
  await expect(nav.getByRole("link", { name: "Sign in" })).toBeVisible();
  await steps.shot("signed-out");

  // the same link a second time: GoTrue refuses it, the page says what to do
  await page.goto(link);
  await expect(page).toHaveURL(/\/forgot-password\?error=otp_expired$/);
  await expect(alerts(page)).toContainText("That reset link has expired or was already used.");
  await expect(page.getByRole("button", { name: "Send reset link" })).toBeEnabled();
  await expectAccessible(page, "a used reset link");
  await steps.shot("link-used-twice");

  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/lessons$/);
  await expectSignedInAs(page, email);
});

test("a reset link that is not one says so, and the reset page without a link says how to get one", async ({
  page,
}) => {
  await page.goto("/api/auth/confirm?token_hash=pkce_not-a-real-token&type=recovery&next=/reset-password");
  await expect(page).toHaveURL(/\/forgot-password\?error=otp_expired$/);
  await expect(alerts(page)).toContainText("That reset link has expired or was already used.");
  await page.goto("/reset-password");
  await expect(alerts(page)).toContainText("Open this page from the link in your reset email.");
  await expect(page.getByRole("link", { name: "Get a new link" })).toHaveAttribute("href", "/forgot-password");
});

test("the sign-in and sign-up pages send a signed-in learner on", async ({ page }) => {
  const email = newEmail("signed-in");
  await signUp(page, email);
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Sign up" })).toHaveCount(0);
  await page.goto(`/login?next=${encodeURIComponent("/profile")}`);
  await expect(page).toHaveURL(/\/profile$/);
  await page.goto("/signup");
  await expect(page).toHaveURL(/\/lessons$/);
  await page.goto("/forgot-password");
  await expect(page).toHaveURL(/\/lessons$/);
  // the pages are prerendered: the browser sends the learner on, and never off the site
  await page.goto(`/login?next=${encodeURIComponent("//evil.example/x")}`);
  await expect(page).toHaveURL(`${stack.site}/lessons`);
  // a prerendered page learns who is signed in from the session cookie
  await page.goto("/terms");
  await expectSignedInAs(page, email);
  await expect(nav.getByRole("link", { name: "Sign in" })).toHaveCount(0);
});
