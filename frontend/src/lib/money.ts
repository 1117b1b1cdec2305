// Stripe writes every amount in the currency's minor unit, and its minor units are not always
// ISO 4217's: https://docs.stripe.com/currencies#zero-decimal and #three-decimal.
const ZERO_DECIMAL = new Set([
  "bif",
  "clp",
  "djf",
  "gnf",
  "jpy",
  "kmf",
  "krw",
  "mga",
  "pyg",
  "rwf",
  "ugx",
  "vnd",
  "vuv",
  "xaf",
  "xof",
  "xpf",
]);
const THREE_DECIMAL = new Set(["bhd", "jod", "kwd", "omr", "tnd"]);

/** How many decimal places Stripe's integer amounts carry for this currency. */
export function minorUnitDigits(currency: string): number {
  const code = currency.toLowerCase();
  if (ZERO_DECIMAL.has(code)) return 0;
  if (THREE_DECIMAL.has(code)) return 3;
  return 2; // includes ISK, HUF and TWD, which Stripe takes in hundredths
}

/** An amount as Stripe and the database store it (minor units), shown in its currency. */
export function formatMoney(amount: number, currency: string, locale = "en-US"): string {
  const code = currency.toUpperCase();
  const value = amount / 10 ** minorUnitDigits(currency);
  try {
    return new Intl.NumberFormat(locale, { style: "currency", currency: code }).format(value);
  } catch {
    // an ISO code this runtime's Intl does not know: still say the number and the code
    return `${value.toFixed(minorUnitDigits(currency))} ${code}`;
  }
}

/** A lesson's price: "Free" when it costs nothing. */
export function formatPrice(priceCents: number, currency: string, locale = "en-US"): string {
  return priceCents === 0 ? "Free" : formatMoney(priceCents, currency, locale);
}
