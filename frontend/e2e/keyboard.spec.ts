// Every control of the purchase path is reachable and usable with the keyboard alone.
import {
  expect,
  test,
  JOINS,
  PASSWORD,
  Steps,
  accountButton,
  card,
  expectHostedCheckout,
  expectSignedInAs,
  newEmail,
  tabTo,
} from "./support";

test("a keyboard-only learner signs up, buys, reads, and signs out", async ({ page }) => {
  const steps = new Steps(page, test.info());
  const email = newEmail("keyboard");
  await page.goto("/signup?next=/lessons");

  await tabTo(page, page.getByLabel("Email"));
  await page.keyboard.type(email);
  await tabTo(page, page.getByLabel("Password"));
  await page.keyboard.type(PASSWORD);
  await tabTo(page, page.getByRole("button", { name: "Create account" }));
  await steps.shot("sign-up-focused");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/lessons$/);
  await expectSignedInAs(page, email);

  const joins = card(page, JOINS);
  await tabTo(page, joins.getByRole("button", { name: "Buy" }));
  await steps.shot("buy-focused");
  await page.keyboard.press("Enter");
  await expectHostedCheckout(page, JOINS);
  await tabTo(page, page.getByRole("button", { name: "Pay", exact: true }));
  await page.keyboard.press("Enter");
  // back on the lesson, the focus is already on Start reading, with its ring showing
  const startReading = page.getByRole("link", { name: "Start reading" });
  await expect(startReading).toBeFocused();
  expect(await startReading.evaluate((el) => el.matches(":focus-visible"))).toBe(true);
  await steps.shot("start-reading-focused");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: JOINS.title })).toBeVisible();
  await expect(page.getByRole("article")).toContainText("An inner join keeps the rows that match");

  await tabTo(page, page.getByRole("navigation").getByRole("link", { name: "Purchases" }));
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: "Your purchases" })).toBeVisible();
  await expect(page.getByRole("row", { name: new RegExp(JOINS.title) })).toContainText("Paid");
  // the reference's Copy button and the receipt are reachable too
  await tabTo(page, page.getByRole("button", { name: /^Copy reference pi_/ }));
  await tabTo(page, page.getByRole("link", { name: /^Receipt/ }));
  await steps.shot("profile");

  // the account menu opens from the keyboard, and Sign out is the next stop in it
  await tabTo(page, accountButton(page));
  await page.keyboard.press("Enter");
  await expect(accountButton(page)).toHaveAttribute("aria-expanded", "true");
  await expect(page.getByText(email, { exact: true })).toBeVisible();
  await tabTo(page, page.getByRole("button", { name: "Sign out" }));
  await steps.shot("account-menu-open");
  await page.keyboard.press("Enter");
  await expect(page.getByText(email)).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Sign out" })).toHaveCount(0);
  await expect(accountButton(page)).toHaveCount(0);
  // a way back in: the header's link, or the sign-in page itself
  const signIn = page.getByRole("link", { name: "Sign in" }).or(page.getByRole("heading", { name: "Sign in" }));
  await expect(signIn.first()).toBeVisible();
  await steps.shot("signed-out");
});
