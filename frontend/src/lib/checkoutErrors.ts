// What a learner is told when starting or reading back a checkout fails, and what they can do
// next. The sidecar's error codes are its HTTP contract (sidecar/errors.py); the API route
// passes them through and both it and the browser use these words.

export type NextStep = "retry" | "sign_in" | "sign_up" | "reload" | "profile" | "none";

export type CheckoutProblem = {
  status: number;
  code: string;
  message: string;
  next: NextStep;
};

export const UNREACHABLE = "We couldn't reach the payment service. Please try again in a moment.";

// Said after a learner comes back from paying, when the payment can't be confirmed yet: the
// webhook and reconcile record a paid session whatever the return page manages to read.
export const PAYMENT_SAFE = "If you paid, your payment is safe: the lesson unlocks as soon as it's confirmed.";

export function describeProblem(status: number, code: string): CheckoutProblem {
  const problem = (message: string, next: NextStep): CheckoutProblem => ({
    status,
    code,
    message,
    next,
  });
  switch (code) {
    case "not_signed_in":
      return problem("Please sign in to continue.", "sign_in");
    case "sign_up_required":
      return problem("Create an account to buy lessons.", "sign_up");
    case "already_owned":
      return problem("You already own this lesson.", "reload");
    case "payment_pending":
      return problem(
        "A payment for this lesson is still being processed. We'll unlock it when it's confirmed.",
        "reload",
      );
    case "payment_disputed":
      return problem(
        "Your payment for this lesson is disputed, so access is paused while your bank reviews it. There is nothing to pay now.",
        "reload",
      );
    case "account_disabled":
      return problem("This account can't make purchases: it has been suspended or deleted.", "profile");
    case "free_lesson":
      return problem("This lesson is free; there is nothing to pay.", "reload");
    case "unknown_lesson":
      return problem("This lesson is no longer for sale.", "reload");
    case "checkout_session_not_found":
      return problem("We couldn't find that checkout. Your purchases are listed on your profile.", "profile");
    case "checkout_conflict":
      return problem("The lesson changed while checkout was opening. Please try again.", "retry");
    case "invalid_body":
    case "bad_request":
      return problem("That request wasn't understood. Please reload the page and try again.", "reload");
    case "invalid_session_id":
      return problem("That checkout link isn't valid. Your purchases are listed on your profile.", "profile");
    case "payload_too_large":
      return problem("That request was too large.", "reload");
    case "cross_site_request":
    case "unsupported_content_type":
      return problem(
        "That request didn't come from this site's pages. Please reload the page and try again.",
        "reload",
      );
    case "method_not_allowed":
      return problem("Use POST to start a checkout or GET to read one back.", "none");
    case "bad_gateway":
      return problem("The payment service gave an answer we didn't understand. Please try again.", "retry");
    case "payment_provider_error":
      return problem(
        "The payment provider didn't respond. You have not been charged. Please try again in a moment.",
        "retry",
      );
  }
  if (status === 401) return problem("Your sign-in has ended. Please sign in again.", "sign_in");
  if (status === 403) return problem("Your account can't buy lessons.", "none");
  if (status === 404) return problem("We couldn't find that.", "reload");
  if (status === 502 || status === 503 || status === 504) return problem(UNREACHABLE, "retry");
  return problem("Something went wrong on our side. Please try again.", "retry");
}
