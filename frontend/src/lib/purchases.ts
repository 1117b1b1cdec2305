// Words for the rows of the Purchases page. purchase_list() decides each payment's state
// (`status`, a payment_state) and what Stripe reported about it; this only puts them in words
// and refuses any link that is not http(s). Nothing here re-derives a state.
import { formatMoney } from "@/lib/money";
import type { Database } from "@/types/database";
import type { PurchaseRow } from "@/types/shop";

export type PaymentState = Database["public"]["Enums"]["payment_state"];

/** How a state is shown: its colour says good news, news to wait for, bad news, or neither. */
export type Tone = "good" | "waiting" | "bad" | "neutral";

export type StateWords = {
  /** The state in a word or two, as the row's badge. */
  word: string;
  /** A sentence a learner needs to make sense of it, or null when the word says enough. */
  detail: string | null;
  tone: Tone;
};

// A dispute is the learner's bank contesting the payment: "won" and "lost" are the shop's
// words (Stripe's dispute status), so the learner reads what each means for them.
export const PAYMENT_STATE_WORDS: Record<PaymentState, StateWords> = {
  processing: {
    word: "Processing",
    detail: "Waiting for your bank to confirm the payment.",
    tone: "waiting",
  },
  paid: { word: "Paid", detail: null, tone: "good" },
  failed: { word: "Failed", detail: "The payment didn't go through. You were not charged.", tone: "bad" },
  refunded: { word: "Refunded", detail: "The whole payment was refunded.", tone: "neutral" },
  partly_refunded: {
    word: "Partly refunded",
    detail: "Part of the payment was refunded. The lesson is still yours.",
    tone: "neutral",
  },
  disputed: {
    word: "Disputed",
    detail: "Your bank is reviewing this payment. Access is paused until it decides.",
    tone: "waiting",
  },
  dispute_won: {
    word: "Dispute closed",
    detail: "Your bank's review found the payment valid. The lesson is yours.",
    tone: "good",
  },
  dispute_lost: {
    word: "Reversed by your bank",
    detail: "Your bank returned the money to you. Access ended.",
    tone: "bad",
  },
};

// Why the shop itself refunded a payment (purchase_list().refund_reason), said instead of the
// plain "Refunded" once the refund is made. An early fraud warning is the card issuer telling
// Stripe the payment looks like fraud: the learner reads who flagged it and what it means.
export const REFUND_REASON_WORDS: Record<string, StateWords> = {
  early_fraud_warning: {
    word: "Refunded (flagged by the card issuer)",
    detail: "Your card issuer flagged this payment as possible fraud, so it was refunded in full. Access ended.",
    tone: "neutral",
  },
};

// The same reasons while the refund is on its way: the shop has decided it and access has
// already ended, but Stripe's refund events have not come yet (seconds, or longer when Stripe
// is slow to answer); "Paid" would tell the learner the lesson is still theirs.
export const REFUND_UNDER_WAY_WORDS: Record<string, StateWords> = {
  early_fraud_warning: {
    word: "Being refunded (flagged by the card issuer)",
    detail: "Your card issuer flagged this payment as possible fraud, so we are refunding it in full. Access ended.",
    tone: "waiting",
  },
};

/** A payment state in words; an unknown one (a newer database) is still shown, plainly. A
 * refund the shop makes for a reason of its own says why, before and after it is made. */
export function stateWords(status: string, refundReason: string | null = null): StateWords {
  if (status === "refunded" && refundReason && REFUND_REASON_WORDS[refundReason]) {
    return REFUND_REASON_WORDS[refundReason];
  }
  if ((status === "paid" || status === "partly_refunded") && refundReason && REFUND_UNDER_WAY_WORDS[refundReason]) {
    return REFUND_UNDER_WAY_WORDS[refundReason];
  }
  return (
    PAYMENT_STATE_WORDS[status as PaymentState] ?? {
      word: status.replaceAll("_", " "),
      detail: null,
      tone: "neutral",
    }
  );
}

// Stripe's card brands (payment_method_details.card.brand) as their owners write them.
const CARD_BRANDS: Record<string, string> = {
  amex: "American Express",
  cartes_bancaires: "Cartes Bancaires",
  diners: "Diners Club",
  discover: "Discover",
  eftpos_au: "eftpos",
  interac: "Interac",
  jcb: "JCB",
  link: "Link",
  mastercard: "Mastercard",
  unionpay: "UnionPay",
  visa: "Visa",
};

// Stripe's payment method types (payment_method_details.type) other than card, in words.
const METHOD_TYPES: Record<string, string> = {
  acss_debit: "Canadian pre-authorized debit",
  affirm: "Affirm",
  afterpay_clearpay: "Afterpay",
  alipay: "Alipay",
  amazon_pay: "Amazon Pay",
  au_becs_debit: "BECS Direct Debit",
  bacs_debit: "Bacs Direct Debit",
  bancontact: "Bancontact",
  blik: "BLIK",
  boleto: "Boleto",
  cashapp: "Cash App Pay",
  customer_balance: "Bank transfer",
  eps: "EPS",
  fpx: "FPX",
  giropay: "giropay",
  grabpay: "GrabPay",
  ideal: "iDEAL",
  klarna: "Klarna",
  konbini: "Konbini",
  link: "Link",
  mobilepay: "MobilePay",
  multibanco: "Multibanco",
  oxxo: "OXXO",
  p24: "Przelewy24",
  paynow: "PayNow",
  paypal: "PayPal",
  pix: "Pix",
  promptpay: "PromptPay",
  revolut_pay: "Revolut Pay",
  sepa_debit: "SEPA Direct Debit",
  sofort: "Sofort",
  swish: "Swish",
  twint: "TWINT",
  us_bank_account: "US bank account",
  wechat_pay: "WeChat Pay",
  zip: "Zip",
};

function sentenceCase(code: string): string {
  const words = code.replaceAll("_", " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export type PaymentMethodWords = {
  /** As shown: "Visa •••• 4242", "US bank account". */
  text: string;
  /** As a screen reader says it: "Visa ending in 4242". */
  spoken: string;
};

/** The payment method as Stripe reported it, or null when no charge has said yet. */
export function paymentMethodWords(
  type: string | null,
  brand: string | null,
  last4: string | null,
): PaymentMethodWords | null {
  if (type === "card" || (type === null && (brand || last4))) {
    const name = brand ? (CARD_BRANDS[brand] ?? sentenceCase(brand)) : "Card";
    if (last4 && /^\d{4}$/.test(last4)) {
      return { text: `${name} •••• ${last4}`, spoken: `${name} ending in ${last4}` };
    }
    return { text: name, spoken: name };
  }
  if (!type) return null;
  const name = METHOD_TYPES[type] ?? sentenceCase(type);
  return { text: name, spoken: name };
}

/** `value` if it is an absolute http(s) URL, else null: a link we may put in an href. */
export function safeHttpUrl(value: unknown): string | null {
  if (typeof value !== "string" || value.trim() !== value || value === "") return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return null;
  if (url.username || url.password) return null;
  return url.href;
}

/** A row of purchase_list() (`invoice_url` is null unless the session had an invoice). */
export type PurchaseInput = PurchaseRow;

/** One payment, ready to show. */
export type PurchaseView = {
  id: string;
  title: string;
  /** The lesson's page. */
  href: string;
  /** When it was paid (or, still processing or failed, started): ISO, shown in the learner's locale. */
  occurredAt: string;
  amount: string;
  state: StateWords;
  method: PaymentMethodWords | null;
  /** The PaymentIntent id, which support can look up. */
  reference: string | null;
  refund: { amount: string; at: string | null } | null;
  /** What a promotion code took off: "$3.00 off with code SPRING", "Free with code X". */
  discount: string | null;
  receiptUrl: string | null;
  invoiceUrl: string | null;
};

// "Free with code X" when a code took everything, else "$3.00 off with code X" (purchase_list()
// gives the amounts and the code's words when the shop has heard of the code).
function discountWords(row: PurchaseInput): string | null {
  if (!row.amount_discount) return null;
  const code = row.promotion_code ? ` with code ${row.promotion_code}` : " with a code";
  if (row.amount_total === 0) return `Free${code}`;
  return `${formatMoney(row.amount_discount, row.currency)} off${code}`;
}

export function purchaseView(row: PurchaseInput): PurchaseView {
  const refunded = row.refunded_amount ?? 0;
  return {
    id: row.id,
    title: row.title,
    href: `/lessons/${encodeURIComponent(row.slug)}`,
    occurredAt: row.occurred_at,
    amount: formatMoney(row.amount_total, row.currency),
    state: stateWords(row.status, row.refund_reason),
    method: paymentMethodWords(row.payment_method_type, row.payment_method_brand, row.payment_method_last4),
    reference: row.payment_reference || null,
    refund: refunded > 0 ? { amount: formatMoney(refunded, row.currency), at: row.refunded_at } : null,
    discount: discountWords(row),
    receiptUrl: safeHttpUrl(row.receipt_url),
    invoiceUrl: safeHttpUrl(row.invoice_url),
  };
}
