// The sign-in, sign-up and forgot-password pages are for learners who are signed out, and are
// prerendered: once the browser knows a learner is signed in (a session cookie read by the
// Supabase client, or a sign-in just now), they are sent on to where they were going (`?next=`,
// a path on this site, else the catalogue). Replace, so Back does not return to the form.
import { useRouter } from "next/router";
import { useEffect } from "react";

import { useAuth } from "@/context/AuthContext";
import { safeNext } from "@/lib/navigation";

export function useSendSignedInOn(): void {
  const { user, prepare } = useAuth();
  const router = useRouter();
  useEffect(() => prepare(), [prepare]);
  const next = router.isReady ? safeNext(router.query.next) : null;
  const signedIn = user !== null;
  useEffect(() => {
    if (signedIn && next) void router.replace(next);
  }, [signedIn, next, router]);
}
