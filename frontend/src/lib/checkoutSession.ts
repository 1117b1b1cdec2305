import type { CheckoutSessionState, LessonAccess } from "@/types/shop";

// What a Stripe Checkout Session id looks like: `cs_` then letters, digits and underscores
// (cs_test_a1…, cs_live_b1…). The sidecar and SQL hold the same pattern; all of them are tested
// against ../tests/cases/checkout_session_ids.json. An id from a query string is checked here
// before it is put in a path or sent anywhere.
const CHECKOUT_SESSION_ID = /^cs_[A-Za-z0-9_]{1,250}$/;

/** Whether `value` has the shape of a Checkout Session id. */
export function isCheckoutSessionId(value: unknown): value is string {
  return typeof value === "string" && CHECKOUT_SESSION_ID.test(value);
}

/** Where the return from Checkout left the learner: paid (with the session to read back), cancelled, or neither. */
export type CheckoutReturnQuery = { kind: "success"; sessionId: string } | { kind: "cancelled" } | null;

/** The return from Checkout a page's query carries (`?checkout=success&session_id=cs_…` or `?checkout=cancelled`). */
export function checkoutReturnQuery(query: Record<string, string | string[] | undefined>): CheckoutReturnQuery {
  const sessionId = query.session_id;
  if (query.checkout === "success" && isCheckoutSessionId(sessionId)) {
    return { kind: "success", sessionId };
  }
  if (query.checkout === "cancelled") return { kind: "cancelled" };
  return null;
}

/** What the return notice says first, before it has read the session back. */
export const RETURN_FIRST_WORDS = {
  success: "Payment received. Unlocking your lesson…",
  cancelled: "Checkout cancelled. You have not been charged.",
} as const;

export type ReturnPhase = "confirming" | "processing" | "owned" | "failed" | "expired";

/** Where a returned-from session stands, in the words the page shows. */
export function phaseOf(session: CheckoutSessionState): ReturnPhase {
  if (session.owned) return "owned";
  if (session.status === "failed") return "failed";
  if (session.status === "expired") return "expired";
  if (session.status === "processing") return "processing";
  if (session.status === "complete" && session.payment_status !== "paid") return "processing";
  return "confirming";
}

/**
 * What the catalogue shows for a lesson while the learner is back from Checkout, before the
 * next read of lesson_catalog(): owned once the sidecar says so, payment processing while the
 * session is confirming or processing, failed (the learner was not charged; Try again) as
 * lesson_catalog() says it, else available to buy again (expired).
 */
export function accessAfterReturn(session: CheckoutSessionState): LessonAccess {
  const phase = phaseOf(session);
  if (phase === "owned") return "owned";
  if (phase === "processing" || phase === "confirming") return "processing";
  if (phase === "failed") return "failed";
  return "available";
}
