// @vitest-environment jsdom
// The Purchases page's rows: every payment state in words, the card and other payment methods,
// refunds, and links to Stripe's receipt and invoice only when they are http(s) URLs.
import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { PurchaseList } from "@/components/PurchaseList";
import { formatDate, formatDateTime, formatTime } from "@/lib/dates";
import {
  PAYMENT_STATE_WORDS,
  paymentMethodWords,
  purchaseView,
  safeHttpUrl,
  stateWords,
  type PaymentState,
  type PurchaseInput,
} from "@/lib/purchases";

const paid: PurchaseInput = {
  id: "cs_test_a1",
  lesson_id: "00000000-0000-4000-8000-000000000003",
  slug: "stripe-webhooks",
  title: "Stripe webhooks that never lose a payment",
  amount_total: 1900,
  currency: "usd",
  status: "paid",
  occurred_at: "2026-12-03T14:05:00Z",
  payment_method_type: "card",
  payment_method_brand: "visa",
  payment_method_last4: "4242",
  payment_reference: "pi_3Q1a2b3c4d5e6f7g8h9i0j",
  refunded_amount: null,
  refunded_at: null,
  receipt_url: "https://pay.stripe.com/receipts/payment/CAcaFwoV",
  amount_discount: 0,
  promotion_code: null,
  invoice_url: null,
  refund_reason: null,
};

const STATES: [PaymentState, string, string | null][] = [
  ["processing", "Processing", "Waiting for your bank to confirm the payment."],
  ["paid", "Paid", null],
  ["failed", "Failed", "The payment didn't go through. You were not charged."],
  ["refunded", "Refunded", "The whole payment was refunded."],
  ["partly_refunded", "Partly refunded", "Part of the payment was refunded. The lesson is still yours."],
  ["disputed", "Disputed", "Your bank is reviewing this payment. Access is paused until it decides."],
  ["dispute_won", "Dispute closed", "Your bank's review found the payment valid. The lesson is yours."],
  ["dispute_lost", "Reversed by your bank", "Your bank returned the money to you. Access ended."],
];

describe("payment states", () => {
  it("has words for every state purchase_list() returns", () => {
    expect(Object.keys(PAYMENT_STATE_WORDS).sort()).toEqual(STATES.map(([state]) => state).sort());
  });

  it.each(STATES)("says %s as %j", (state, word, detail) => {
    const view = purchaseView({ ...paid, status: state });
    expect(view.state.word).toBe(word);
    expect(view.state.detail).toBe(detail);
  });

  it("says a refund the card issuer's fraud warning led to in a learner's words", () => {
    const view = purchaseView({
      ...paid,
      status: "refunded",
      refunded_amount: 1900,
      refunded_at: "2026-12-04T09:00:00Z",
      refund_reason: "early_fraud_warning",
    });
    expect(view.state.word).toBe("Refunded (flagged by the card issuer)");
    expect(view.state.detail).toBe(
      "Your card issuer flagged this payment as possible fraud, so it was refunded in full. Access ended.",
    );
    expect(view.refund).toEqual({ amount: "$19.00", at: "2026-12-04T09:00:00Z" });
  });

  it("says a refund the shop decided is on its way before Stripe reports it, and never a reason it does not know", () => {
    const underWay = purchaseView({ ...paid, refund_reason: "early_fraud_warning" }).state;
    expect(underWay.word).toBe("Being refunded (flagged by the card issuer)");
    expect(underWay.detail).toContain("Access ended.");
    expect(underWay.tone).toBe("waiting");
    expect(
      purchaseView({ ...paid, status: "partly_refunded", refunded_amount: 500, refund_reason: "early_fraud_warning" })
        .state.word,
    ).toBe("Being refunded (flagged by the card issuer)");
    expect(purchaseView({ ...paid, refund_reason: "something_new" }).state.word).toBe("Paid");
    expect(purchaseView({ ...paid, status: "refunded", refund_reason: "something_new" }).state.word).toBe("Refunded");
    // a dispute speaks louder than the refund the shop meant to make
    expect(
      purchaseView({ ...paid, status: "disputed", refund_reason: "early_fraud_warning" }).state.word,
    ).not.toContain("refunded");
  });

  it("shows a state it does not know yet plainly instead of failing", () => {
    expect(stateWords("chargeback_pending")).toEqual({ word: "chargeback pending", detail: null, tone: "neutral" });
  });

  it("colours good news, waiting and bad news apart", () => {
    expect(stateWords("paid").tone).toBe("good");
    expect(stateWords("processing").tone).toBe("waiting");
    expect(stateWords("failed").tone).toBe("bad");
    expect(stateWords("refunded").tone).toBe("neutral");
  });
});

describe("payment method", () => {
  it("says a card by brand and last four", () => {
    expect(paymentMethodWords("card", "visa", "4242")).toEqual({
      text: "Visa •••• 4242",
      spoken: "Visa ending in 4242",
    });
    expect(paymentMethodWords("card", "amex", "0005")?.text).toBe("American Express •••• 0005");
    expect(paymentMethodWords("card", "mastercard", "4444")?.text).toBe("Mastercard •••• 4444");
  });

  it("says a card whose brand or digits Stripe left out as well as it can", () => {
    expect(paymentMethodWords("card", null, "4242")?.text).toBe("Card •••• 4242");
    expect(paymentMethodWords("card", "visa", null)?.text).toBe("Visa");
    expect(paymentMethodWords("card", "visa", "42x2")?.text).toBe("Visa");
    expect(paymentMethodWords("card", "new_brand", "1234")?.text).toBe("New brand •••• 1234");
  });

  it("says other payment methods in words", () => {
    expect(paymentMethodWords("us_bank_account", null, null)?.text).toBe("US bank account");
    expect(paymentMethodWords("sepa_debit", null, "3000")?.text).toBe("SEPA Direct Debit");
    expect(paymentMethodWords("ideal", null, null)?.text).toBe("iDEAL");
    expect(paymentMethodWords("some_new_method", null, null)?.text).toBe("Some new method");
  });

  it("is null until Stripe has reported one", () => {
    expect(paymentMethodWords(null, null, null)).toBeNull();
    const processing = { ...paid, status: "processing" as const, payment_method_type: null };
    expect(purchaseView({ ...processing, payment_method_brand: null, payment_method_last4: null }).method).toBeNull();
  });
});

describe("a row", () => {
  it("links the lesson, and carries amount, date, reference and receipt", () => {
    const view = purchaseView(paid);
    expect(view).toMatchObject({
      title: paid.title,
      href: "/lessons/stripe-webhooks",
      occurredAt: "2026-12-03T14:05:00Z",
      amount: "$19.00",
      reference: "pi_3Q1a2b3c4d5e6f7g8h9i0j",
      refund: null,
      receiptUrl: "https://pay.stripe.com/receipts/payment/CAcaFwoV",
      invoiceUrl: null,
    });
  });

  it("says how much was refunded, in the payment's currency, and when", () => {
    const view = purchaseView({
      ...paid,
      currency: "eur",
      amount_total: 1500,
      status: "partly_refunded",
      refunded_amount: 500,
      refunded_at: "2026-12-04T09:00:00Z",
    });
    expect(view.amount).toBe("€15.00");
    expect(view.refund).toEqual({ amount: "€5.00", at: "2026-12-04T09:00:00Z" });
  });

  it("shows no refund when none was made", () => {
    expect(purchaseView({ ...paid, refunded_amount: 0 }).refund).toBeNull();
  });

  it("has no receipt before Stripe gave one", () => {
    expect(purchaseView({ ...paid, status: "processing", receipt_url: null }).receiptUrl).toBeNull();
  });

  it("carries an invoice link when the row has one, and none without", () => {
    expect(purchaseView({ ...paid, invoice_url: "https://invoice.stripe.com/i/acct_1/test_YW" }).invoiceUrl).toBe(
      "https://invoice.stripe.com/i/acct_1/test_YW",
    );
    expect(purchaseView({ ...paid, invoice_url: null }).invoiceUrl).toBeNull();
    expect(purchaseView(paid).invoiceUrl).toBeNull();
  });
});

describe("a row's discount", () => {
  it("says what a code took off, by its words when the shop knows them", () => {
    expect(purchaseView({ ...paid, amount_total: 1520, amount_discount: 380, promotion_code: "SPRING" }).discount).toBe(
      "$3.80 off with code SPRING",
    );
    expect(purchaseView({ ...paid, amount_discount: 500 }).discount).toBe("$5.00 off with a code");
    expect(purchaseView({ ...paid, amount_total: 0, amount_discount: 1900, promotion_code: "FREE" }).discount).toBe(
      "Free with code FREE",
    );
    expect(purchaseView(paid).discount).toBeNull();
  });
});

describe("safeHttpUrl", () => {
  it.each(["https://pay.stripe.com/receipts/x", "http://127.0.0.1:12111/receipts/payment/abc"])("keeps %s", (url) => {
    expect(safeHttpUrl(url)).toBe(url);
  });

  it.each([
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox",
    "ftp://files.example/receipt",
    "/receipts/payment/abc",
    "//evil.example/receipt",
    "receipt",
    " https://pay.stripe.com/receipts/x",
    "https://user:pass@pay.stripe.com/receipts/x",
    "",
  ])("refuses %j", (url) => {
    expect(safeHttpUrl(url)).toBeNull();
  });

  it("refuses what is not a string", () => {
    expect(safeHttpUrl(null)).toBeNull();
    expect(safeHttpUrl(undefined)).toBeNull();
    expect(safeHttpUrl({ href: "https://x" })).toBeNull();
  });

  it("puts no link on a row whose receipt or invoice is not http(s)", () => {
    const view = purchaseView({ ...paid, receipt_url: "javascript:alert(1)", invoice_url: "data:text/html,x" });
    expect(view.receiptUrl).toBeNull();
    expect(view.invoiceUrl).toBeNull();
  });
});

describe("PurchaseList", () => {
  const rows: PurchaseInput[] = [
    { ...paid, invoice_url: "https://invoice.stripe.com/i/acct_1/test_YW" },
    {
      ...paid,
      id: "cs_test_b2",
      status: "processing",
      payment_method_type: null,
      payment_method_brand: null,
      payment_method_last4: null,
      payment_reference: "pi_3Qprocessing",
      receipt_url: null,
    },
    { ...paid, id: "cs_test_c3", status: "failed", receipt_url: "javascript:alert(document.cookie)" },
  ];

  function table() {
    return screen.getByRole("table");
  }

  it("opens Stripe's receipt and invoice in a new tab, without handing it our window", () => {
    render(<PurchaseList views={rows.map(purchaseView)} />);
    const row = within(table()).getAllByRole("row")[1]!;
    const receipt = within(row).getByRole("link", { name: /^Receipt/ });
    expect(receipt.getAttribute("href")).toBe("https://pay.stripe.com/receipts/payment/CAcaFwoV");
    expect(receipt.getAttribute("target")).toBe("_blank");
    expect(receipt.getAttribute("rel")).toBe("noopener");
    expect(receipt.textContent).toContain("opens in a new tab");
    const invoice = within(row).getByRole("link", { name: /^Invoice/ });
    expect(invoice.getAttribute("href")).toBe("https://invoice.stripe.com/i/acct_1/test_YW");
    expect(invoice.getAttribute("rel")).toBe("noopener");
  });

  it("puts no Receipt link on a payment without one, or with one that is not http(s)", () => {
    const { container } = render(<PurchaseList views={rows.map(purchaseView)} />);
    const [, , processing, failed] = within(table()).getAllByRole("row");
    expect(within(processing!).queryByRole("link", { name: /Receipt/ })).toBeNull();
    expect(within(processing!).getByText("None yet")).toBeTruthy();
    expect(within(failed!).queryByRole("link", { name: /Receipt/ })).toBeNull();
    expect(container.innerHTML).not.toContain("javascript:");
  });

  it("shows each row's lesson, date, amount, state, method and reference", () => {
    render(<PurchaseList views={rows.map(purchaseView)} />);
    const row = within(table()).getAllByRole("row")[1]!;
    expect(within(row).getByRole("link", { name: paid.title }).getAttribute("href")).toBe("/lessons/stripe-webhooks");
    expect(row.textContent).toContain("$19.00");
    expect(row.textContent).toContain("Paid");
    expect(within(row).getByText("Visa •••• 4242")).toBeTruthy();
    expect(within(row).getByText("Visa ending in 4242")).toBeTruthy();
    expect(within(row).getByText("pi_3Q1a2b3c4d5e6f7g8h9i0j")).toBeTruthy();
    expect(within(row).getByRole("button", { name: "Copy reference pi_3Q1a2b3c4d5e6f7g8h9i0j" })).toBeTruthy();
    const time = row.querySelector("time");
    expect(time?.getAttribute("dateTime")).toBe("2026-12-03T14:05:00Z");
    // rendered on the client, in the learner's locale and time zone
    expect(time?.textContent).toBe(`${formatDate("2026-12-03T14:05:00Z")} ${formatTime("2026-12-03T14:05:00Z")}`);
  });

  it("draws the same payments as cards for a phone", () => {
    render(<PurchaseList views={rows.map(purchaseView)} />);
    const cards = within(screen.getByRole("list", { name: "Your payments, newest first" })).getAllByRole("article");
    expect(cards).toHaveLength(3);
    const first = cards[0]!;
    expect(within(first).getByRole("heading", { level: 2, name: paid.title })).toBeTruthy();
    expect(within(first).getByText("Paid with")).toBeTruthy();
    expect(
      within(first)
        .getByRole("link", { name: /^Receipt/ })
        .getAttribute("rel"),
    ).toBe("noopener");
    expect(within(cards[1]!).queryByText("Paid with")).toBeNull(); // not reported yet: no empty line
    expect(within(cards[2]!).queryByRole("link", { name: /Receipt/ })).toBeNull();
  });
});

describe("formatDateTime", () => {
  it("says UTC when it cannot know the learner's time zone", () => {
    expect(formatDateTime("2026-12-03T14:05:00Z", "en-GB", "UTC")).toBe("3 Dec 2026, 14:05 UTC");
  });

  it("writes a day and a time apart, for a table column to break between them", () => {
    expect(formatDate("2026-12-03T14:05:00Z", "en-US", "UTC")).toBe("Dec 3, 2026");
    expect(formatTime("2026-12-03T14:05:00Z", "en-US", "America/New_York")).toBe("9:05 AM");
    expect(formatTime("2026-12-03T14:05:00Z", "en-GB", "UTC")).toBe("14:05 UTC");
  });

  it("writes the learner's locale and clock when given them", () => {
    expect(formatDateTime("2026-12-03T14:05:00Z", "en-US", "America/New_York")).toBe("Dec 3, 2026, 9:05 AM");
    expect(formatDateTime("2026-12-03T14:05:00Z", "de-DE", "Europe/Berlin")).toBe("03.12.2026, 15:05");
  });
});
