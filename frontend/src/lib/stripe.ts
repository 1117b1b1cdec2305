// The browser's side of Checkout (the server's side is pages/api/stripe/checkout_session.ts,
// which forwards to the sidecar): ask our API route for a Checkout Session and send the learner
// to Stripe's page; read a session back when they return. Every refusal becomes a CheckoutProblem
// a learner can act on. The sidecar's address never reaches the browser: only our API route.
import { describeProblem, UNREACHABLE, type CheckoutProblem } from "@/lib/checkoutErrors";
import type { CheckoutSessionLink, CheckoutSessionState, ErrorBody } from "@/types/shop";

export type { CheckoutSessionState };

export const CHECKOUT_ROUTE = "/api/stripe/checkout_session";

export type Outcome<T> = { ok: true; value: T } | { ok: false; problem: CheckoutProblem };

async function problemFrom(response: Response): Promise<CheckoutProblem> {
  let code = "";
  try {
    const body = (await response.json()) as Partial<ErrorBody> | null;
    const found: unknown = body?.error?.code;
    if (typeof found === "string") code = found;
  } catch {
    // not JSON (a proxy's error page): the status says enough
  }
  return describeProblem(response.status, code);
}

function unreachable(): Outcome<never> {
  return { ok: false, problem: { status: 0, code: "network_error", message: UNREACHABLE, next: "retry" } };
}

/** Open (or reuse) the learner's Checkout Session for a lesson; its URL on success. */
export async function requestCheckout(lessonId: string): Promise<Outcome<string>> {
  let response: Response;
  try {
    response = await fetch(CHECKOUT_ROUTE, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ lesson_id: lessonId }),
      credentials: "same-origin",
    });
  } catch {
    return unreachable();
  }
  if (!response.ok) return { ok: false, problem: await problemFrom(response) };
  const { url } = (await response.json()) as CheckoutSessionLink;
  // the browser is about to go there: the route checked it, and a string it must be
  if (typeof url !== "string") return { ok: false, problem: describeProblem(502, "bad_gateway") };
  return { ok: true, value: url };
}

/** Start Checkout and leave for Stripe's page; resolves only with a problem to show. */
export async function startCheckout(
  lessonId: string,
  go: (url: string) => void = (url) => window.location.assign(url),
): Promise<CheckoutProblem | null> {
  const outcome = await requestCheckout(lessonId);
  if (!outcome.ok) return outcome.problem;
  go(outcome.value);
  return null;
}

/** The state of one of the learner's Checkout Sessions, as the sidecar last synced it. */
export async function readCheckoutSession(sessionId: string, origin = ""): Promise<Outcome<CheckoutSessionState>> {
  let response: Response;
  try {
    response = await fetch(`${origin}${CHECKOUT_ROUTE}?session_id=${encodeURIComponent(sessionId)}`, {
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    return unreachable();
  }
  if (!response.ok) return { ok: false, problem: await problemFrom(response) };
  return { ok: true, value: (await response.json()) as CheckoutSessionState };
}
