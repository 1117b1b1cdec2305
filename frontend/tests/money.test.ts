import { describe, expect, it } from "vitest";

import { formatMoney, formatPrice, minorUnitDigits } from "@/lib/money";

describe("formatPrice", () => {
  it("shows a free lesson as Free, whatever its currency", () => {
    expect(formatPrice(0, "usd")).toBe("Free");
    expect(formatPrice(0, "jpy")).toBe("Free");
  });

  it("divides two-decimal currencies by 100", () => {
    expect(formatPrice(900, "usd")).toBe("$9.00");
    expect(formatPrice(1200, "eur")).toBe("€12.00");
    expect(formatPrice(1999, "gbp")).toBe("£19.99");
  });

  it("takes zero-decimal currencies as whole units", () => {
    expect(formatPrice(1200, "jpy")).toBe("¥1,200");
    expect(formatPrice(15000, "krw")).toBe("₩15,000");
  });

  it("divides three-decimal currencies by 1000 and shows three places", () => {
    expect(formatPrice(5250, "kwd")).toBe("KWD\u00a05.250");
    expect(formatPrice(1000, "bhd")).toBe("BHD\u00a01.000");
  });

  it("reads Stripe's hundredths for ISK even though the króna has no decimals", () => {
    expect(minorUnitDigits("isk")).toBe(2);
    expect(formatPrice(50000, "isk")).toBe("ISK\u00a0500");
  });

  it("accepts upper-case codes as well as Stripe's lower case", () => {
    expect(formatPrice(1200, "JPY")).toBe("¥1,200");
  });

  it("formats for another locale", () => {
    expect(formatMoney(1200, "eur", "de-DE")).toBe("12,00\u00a0€");
  });

  it("falls back to number and code for a code Intl rejects", () => {
    expect(formatMoney(1234, "x1z")).toBe("12.34 X1Z");
  });
});
