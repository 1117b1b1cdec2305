import { useRouter } from "next/router";
import { useCallback, useEffect, useRef, useState } from "react";

import { useAuth } from "@/context/AuthContext";
import type { CheckoutProblem } from "@/lib/checkoutErrors";
import { signInPath } from "@/lib/navigation";

type Buyable = { id: string; slug: string };

const UNLOADED: CheckoutProblem = {
  status: 0,
  code: "network_error",
  message: "We couldn't reach the payment service. Please try again in a moment.",
  next: "retry",
};

/**
 * Buying a lesson from a page: signed out → sign in and come back; signed in → one request
 * for a Checkout Session (a second click while it runs does nothing), then off to Stripe.
 */
export function useBuy() {
  const { user } = useAuth();
  const router = useRouter();
  const [buying, setBuying] = useState<string | null>(null);
  const [problems, setProblems] = useState<Record<string, CheckoutProblem>>({});
  const inFlight = useRef(false);

  // Back from Stripe through the browser's back button, the page may come from the
  // back/forward cache with the button still saying "Redirecting…".
  useEffect(() => {
    const reset = (event: PageTransitionEvent) => {
      if (event.persisted) {
        inFlight.current = false;
        setBuying(null);
      }
    };
    window.addEventListener("pageshow", reset);
    return () => window.removeEventListener("pageshow", reset);
  }, []);

  const buy = useCallback(
    async (lesson: Buyable) => {
      if (inFlight.current) return;
      if (!user) {
        await router.push(signInPath(`/lessons/${lesson.slug}`));
        return;
      }
      inFlight.current = true;
      setBuying(lesson.id);
      setProblems((all) => {
        const rest = { ...all };
        delete rest[lesson.id];
        return rest;
      });
      // the code that talks to Checkout loads on the first Buy, not with the page
      const problem = await import("@/lib/stripe").then(
        ({ startCheckout }) => startCheckout(lesson.id),
        () => UNLOADED,
      );
      if (problem) {
        inFlight.current = false;
        setBuying(null);
        setProblems((all) => ({ ...all, [lesson.id]: problem }));
      }
      // no problem: the browser is leaving for Checkout; the button stays disabled
    },
    [router, user],
  );

  const refresh = useCallback(() => {
    void router.replace(router.asPath, undefined, { scroll: false });
  }, [router]);

  return { buy, buying, problems, refresh };
}
