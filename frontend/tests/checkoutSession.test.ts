// The frontend's Checkout Session id pattern against the cases every layer shares.
import { readFileSync } from "node:fs";

import { describe, expect, it } from "vitest";

import { isCheckoutSessionId } from "@/lib/checkoutSession";

type Cases = { valid: string[]; invalid: string[] };

const cases = JSON.parse(
  readFileSync(new URL("../../tests/cases/checkout_session_ids.json", import.meta.url), "utf8"),
) as Cases;

describe("isCheckoutSessionId", () => {
  it("has cases of both kinds to check", () => {
    expect(cases.valid.length).toBeGreaterThan(0);
    expect(cases.invalid.length).toBeGreaterThan(0);
  });

  it.each(cases.valid.map((id) => [JSON.stringify(id), id]))("accepts %s", (_label, id) => {
    expect(isCheckoutSessionId(id)).toBe(true);
  });

  it.each(cases.invalid.map((id) => [JSON.stringify(id), id]))("refuses %s", (_label, id) => {
    expect(isCheckoutSessionId(id)).toBe(false);
  });

  it.each([[null], [undefined], [["cs_test_a1"]], [42]])("refuses a value that is not a string: %o", (value) => {
    expect(isCheckoutSessionId(value)).toBe(false);
  });
});
