// The operator unpublishes a lesson while a learner's payment for it is still processing: the
// learner's Purchases page keeps the row, under the title purchase_list() kept for it (it once
// answered 500 there), and the row moves on to Paid when the bank confirms.
import {
  expect,
  test,
  Steps,
  card,
  expectAccessible,
  expectHostedCheckout,
  newEmail,
  operatorWrite,
  returnedSession,
  settleDelayed,
  signUp,
} from "./support";

test("Purchases keeps a payment for a lesson the operator has unpublished since", async ({ page }) => {
  const steps = new Steps(page, test.info());
  const tag = Date.now().toString(36);
  const lesson = { slug: `retired-${tag}`, title: `Cursors, retired ${tag}`, price: "$7.00" };
  const [row] = await operatorWrite("POST", "lessons", {
    slug: lesson.slug,
    title: lesson.title,
    description: "A lesson the shop stops selling.",
    price_cents: 700,
    currency: "usd",
    published: true,
  });
  const lessonId = String(row?.id);
  try {
    await signUp(page, newEmail("unpublished"));
    await card(page, lesson).getByRole("button", { name: /^Buy/ }).click();
    await expectHostedCheckout(page, lesson);
    await page.getByRole("button", { name: "Pay with a delayed method" }).click();
    await expect(page).toHaveURL(/checkout=success&session_id=cs_/);
    const sessionId = returnedSession(page);
    // back on the lesson's page, which says the payment is on its way
    await expect(page).toHaveURL(new RegExp(`/lessons/${lesson.slug}\\?`));
    await expect(page.getByText("Payment processing", { exact: true })).toBeVisible();

    await operatorWrite("PATCH", `lessons?id=eq.${lessonId}`, { published: false });
    await page.goto("/lessons");
    await expect(card(page, lesson)).toHaveCount(0);

    const response = await page.goto("/profile");
    expect(response?.status(), "the Purchases page renders").toBe(200);
    await expect(page.getByRole("heading", { name: "Your purchases" })).toBeVisible();
    const payment = page.getByRole("row", { name: new RegExp(lesson.title) });
    await expect(payment.getByRole("cell", { name: /^Processing/ })).toBeVisible();
    await expect(payment.getByRole("cell", { name: lesson.price, exact: true })).toBeVisible();
    await expectAccessible(page, "Purchases with an unpublished lesson");
    await steps.shot("profile-unpublished-processing");

    await settleDelayed(sessionId, "delayed_succeed");
    await expect(async () => {
      await page.reload();
      await expect(payment.getByRole("cell", { name: /^Paid/ })).toBeVisible({ timeout: 1_000 });
    }).toPass({ timeout: 20_000 });
    await steps.shot("profile-unpublished-paid");
  } finally {
    await operatorWrite("PATCH", `lessons?id=eq.${lessonId}`, { published: false });
  }
});
