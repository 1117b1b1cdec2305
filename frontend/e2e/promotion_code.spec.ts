// A learner types a promotion code on the hosted Checkout page (CHECKOUT_PROMOTION_CODES is on
// in the devstack's .env.example) and Purchases shows what was charged and what the code took off.
import { expect, test, RLS, card, expectHostedCheckout, newEmail, notification, signUp, stripe } from "./support";

test("a learner applies a promotion code and sees the discount in Purchases", async ({ page }) => {
  const word = `SAVE${Date.now().toString(36).toUpperCase()}`;
  const coupon = await stripe("POST", "/v1/coupons", { percent_off: "20", duration: "once" });
  await stripe("POST", "/v1/promotion_codes", {
    "promotion[type]": "coupon",
    "promotion[coupon]": String(coupon.id),
    code: word,
  });

  await signUp(page, newEmail("coupon"));
  await card(page, RLS).getByRole("button", { name: "Buy" }).click();
  await expectHostedCheckout(page, RLS);
  await page.getByLabel("Promotion code").fill("not-a-code");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByRole("alert")).toHaveText("This code is invalid.");
  await page.getByLabel("Promotion code").fill(word);
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByText(`Discount (${word})`)).toBeVisible();
  await expect(page.getByText("20.00 USD").first()).toBeVisible();
  await page.getByRole("button", { name: "Pay", exact: true }).click();
  await expect(notification(page)).toContainText(`Purchase complete: ${RLS.title} is yours.`);

  await page.getByRole("navigation").getByRole("link", { name: "Purchases" }).click();
  const row = page.getByRole("row", { name: new RegExp(RLS.title) });
  await expect(row.getByRole("cell", { name: /^Paid/ })).toBeVisible();
  await expect(row).toContainText("$20.00");
  await expect(row).toContainText(`$5.00 off with code ${word}`);
});
