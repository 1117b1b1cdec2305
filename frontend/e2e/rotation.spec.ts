// Supabase's signing key rotated in the middle of a session, as the dashboard does it (a standby
// key first, then "rotate"): a learner signed in before keeps browsing and buying on the token
// the old key signed (it stays published until such tokens expire), and a learner signed in
// after gets a token from the new key, which the sidecar, holding a key set cached before the
// rotation, accepts by fetching the key set again for the key id it has not seen.
import {
  expect,
  test,
  JOINS,
  RLS,
  WEBHOOKS,
  card,
  cookieAccessToken,
  expectHostedCheckout,
  expectSignedInAs,
  keyId,
  newEmail,
  publishedKeyIds,
  signingKeys,
  signUp,
} from "./support";

// sidecar/auth.py: an unknown key id makes the sidecar fetch the key set again at most once per
// 30 s (so forged key ids cannot make it fetch on every request)
const SIDECAR_REFETCH_INTERVAL_MS = 30_000;

test("signing keys rotate mid-session: learners stay signed in, old tokens verify until they expire", async ({
  page,
  browser,
}) => {
  test.setTimeout(150_000);
  // a learner signs in on the current key and opens a Checkout: the sidecar verifies the token
  // and caches the key set
  const before = newEmail("rotation-before");
  await signUp(page, before);
  await card(page, JOINS).getByRole("button", { name: /^Buy/ }).click();
  await expectHostedCheckout(page, JOINS);
  const oldKid = keyId(await cookieAccessToken(page.context()));
  const sidecarLastVerified = Date.now();
  expect(await publishedKeyIds()).toContain(oldKid);

  const standby = await signingKeys("standby");
  expect(await publishedKeyIds()).toEqual(expect.arrayContaining([oldKid, standby]));
  const current = await signingKeys("rotate");
  expect(current, "the standby key signs from now on").toBe(standby);
  expect(await publishedKeyIds(), "the old key stays published for the tokens it signed").toEqual(
    expect.arrayContaining([oldKid, current]),
  );

  // the learner signed in before: still signed in, on the page server and at the sidecar
  await page.goto("/lessons");
  await expectSignedInAs(page, before);
  await page.goto("/profile");
  await expect(page.getByRole("heading", { name: "Your purchases" })).toBeVisible();
  await page.goto("/lessons");
  await card(page, RLS).getByRole("button", { name: /^Buy/ }).click();
  await expectHostedCheckout(page, RLS);
  expect(keyId(await cookieAccessToken(page.context())), "verified on the old key's token").toBe(oldKid);

  // a learner signed in after: a token from the new key, which the sidecar has not seen yet
  const after = await browser.newContext();
  try {
    const second = await after.newPage();
    await signUp(second, newEmail("rotation-after"));
    expect(keyId(await cookieAccessToken(after))).toBe(current);
    const wait = sidecarLastVerified + SIDECAR_REFETCH_INTERVAL_MS + 1_000 - Date.now();
    if (wait > 0) await second.waitForTimeout(wait);
    await card(second, WEBHOOKS).getByRole("button", { name: /^Buy/ }).click();
    await expectHostedCheckout(second, WEBHOOKS);
  } finally {
    await after.close();
  }
  expect(await publishedKeyIds(), "until the old key's tokens expire").toContain(oldKid);
});
