// Signed out: Buy goes to sign-in and comes back to the lesson; pages that need a learner send
// a visitor to sign in and back; free lessons and unknown ones behave.
import {
  expect,
  test,
  alerts,
  FREE,
  PASSWORD,
  Steps,
  YEN,
  card,
  existingLearner,
  expectAccessible,
  expectSignedInAs,
  expectHostedCheckout,
  newEmail,
} from "./support";

test("a signed-out Buy returns to its lesson after sign-in", async ({ page }) => {
  const steps = new Steps(page, test.info());
  const email = newEmail("returning");
  await existingLearner(email);

  await page.goto("/");
  await expect(page).toHaveURL(/\/lessons$/);
  await expect(page.getByRole("navigation").getByRole("link", { name: "Sign in" })).toBeVisible();
  const yen = card(page, YEN);
  await expect(yen.getByText(YEN.price, { exact: true })).toBeVisible();
  await expectAccessible(page, "the catalogue, signed out");
  await steps.shot("catalogue-signed-out");

  await yen.getByRole("button", { name: "Buy" }).click();
  await expect(page).toHaveURL(/\/login\?next=(\/|%2F)lessons(\/|%2F)indexes-explained$/);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await expectAccessible(page, "sign-in");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await steps.shot("sign-in");
  await page.getByRole("button", { name: "Sign in" }).click();

  await expect(page).toHaveURL(new RegExp(`/lessons/${YEN.slug}$`));
  await expect(page.getByRole("heading", { level: 1, name: YEN.title })).toBeVisible();
  await expectSignedInAs(page, email);
  await expect(page.getByText("Buy this lesson to read it.")).toBeVisible();
  await expectAccessible(page, "the lesson's paywall");
  await steps.shot("back-on-the-lesson");

  await page.getByRole("button", { name: "Buy" }).click();
  await expectHostedCheckout(page, YEN);
  await expect(page.getByText("1,800 JPY")).toBeVisible();
  await steps.shot("checkout-in-yen");
});

test("a wrong password is refused with a clear message", async ({ page }) => {
  const steps = new Steps(page, test.info());
  const email = newEmail("wrong-password");
  await existingLearner(email);
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(alerts(page)).toHaveText(/\w/);
  await expect(alerts(page)).not.toContainText("{");
  await expect(page).toHaveURL(/\/login/);
  await expectAccessible(page, "a refused sign-in");
  await steps.shot("refused");
});

test("signed out, the purchase history asks to sign in and comes back", async ({ page }) => {
  const email = newEmail("history");
  await existingLearner(email);
  await page.goto("/profile");
  await expect(page).toHaveURL(/\/login\?next=(\/|%2F)profile$/);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole("heading", { name: "Your purchases" })).toBeVisible();
  await expect(page.getByText("You haven't bought any lessons yet.")).toBeVisible();
});

test("a free lesson reads without an account; an unknown one is a 404 page", async ({ page }) => {
  const steps = new Steps(page, test.info());
  await page.goto(`/lessons/${FREE.slug}`);
  await expect(page.getByRole("heading", { level: 1, name: FREE.title })).toBeVisible();
  await expect(page.getByRole("article")).toContainText("A table is a set of rows.");
  await expectAccessible(page, "a free lesson");
  await steps.shot("free-lesson");

  const response = await page.goto("/lessons/no-such-lesson");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Lesson not found" })).toBeVisible();
  await expectAccessible(page, "the 404 page");
  await steps.shot("not-found");
  await page.getByRole("link", { name: "Back to lessons" }).click();
  await expect(page).toHaveURL(/\/lessons$/);
});
