// Back from Checkout (on the lesson's page, where the sidecar's success and cancel URLs lead):
// say so at once, then read the session back with bounded, backing-off polling until the lesson
// is owned, still processing (a delayed payment method), failed or expired. Whatever happens,
// the learner sees where things stand and a way forward; once the lesson is theirs, the focus
// is on Start reading.
import Link from "next/link";
import { useCallback, useEffect, useRef, useState } from "react";

import { ProblemNotice } from "@/components/ProblemNotice";
import { type CheckoutProblem, PAYMENT_SAFE } from "@/lib/checkoutErrors";
import { phaseOf, RETURN_FIRST_WORDS, type CheckoutReturnQuery, type ReturnPhase } from "@/lib/checkoutSession";
import { readCheckoutSession, type CheckoutSessionState, type Outcome } from "@/lib/stripe";

import styles from "./Notice.module.css";

export type { CheckoutReturnQuery };

/** The lesson a session was for, as the page knows it. */
export type ReturnedLesson = { title: string; slug: string };

/** Delay before poll number `attempt` (0-based): 1 s growing by half each time, at most 8 s. */
export function pollDelay(attempt: number): number {
  return Math.min(1000 * 1.5 ** attempt, 8000);
}

// Polls while the payment is being confirmed (≈1.5 min), and while a delayed method is
// processing (≈8 min more); after that the learner gets a button to check again.
export const CONFIRMING_POLLS = 15;
export const PROCESSING_POLLS = 60;
const FAILURES_BEFORE_GIVING_UP = 3;

type View = { phase: ReturnPhase; stopped: boolean } | { phase: "problem"; problem: CheckoutProblem };

export function CheckoutReturn({
  query,
  lessonOf,
  onSession,
  returnTo = "/lessons",
  read = readCheckoutSession,
  delay = pollDelay,
}: {
  query: CheckoutReturnQuery;
  lessonOf: (lessonId: string) => ReturnedLesson | null;
  onSession: (session: CheckoutSessionState) => void;
  /** Where a sign-in asked for by a problem comes back to. */
  returnTo?: string;
  /** How a session is read back (our API route); tests point it at their own server. */
  read?: (sessionId: string) => Promise<Outcome<CheckoutSessionState>>;
  delay?: (attempt: number) => number;
}) {
  const sessionId = query?.kind === "success" ? query.sessionId : null;
  const [view, setView] = useState<View>({ phase: "confirming", stopped: false });
  const [lessonId, setLessonId] = useState<string | null>(null);
  const [round, setRound] = useState(0);
  const onSessionRef = useRef(onSession);
  const startReading = useRef<HTMLAnchorElement>(null);
  useEffect(() => {
    onSessionRef.current = onSession;
  }, [onSession]);

  useEffect(() => {
    if (!sessionId) return;
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;
    let failures = 0;
    let processingPolls = 0;

    const poll = async () => {
      const outcome = await read(sessionId);
      if (cancelled) return;
      attempt += 1;
      if (!outcome.ok) {
        failures += 1;
        const transient = outcome.problem.next === "retry";
        if (!transient || failures >= FAILURES_BEFORE_GIVING_UP) {
          // a learner back from paying must not fear the money is lost when we can't confirm it
          const problem = transient
            ? { ...outcome.problem, message: `${outcome.problem.message} ${PAYMENT_SAFE}` }
            : outcome.problem;
          setView({ phase: "problem", problem });
          return;
        }
      } else {
        failures = 0;
        const session = outcome.value;
        const phase = phaseOf(session);
        setLessonId(session.lesson_id);
        onSessionRef.current(session);
        if (phase === "owned" || phase === "failed" || phase === "expired") {
          setView({ phase, stopped: true });
          return;
        }
        if (phase === "processing") processingPolls += 1;
        const exhausted = phase === "processing" ? processingPolls >= PROCESSING_POLLS : attempt >= CONFIRMING_POLLS;
        if (exhausted) {
          setView({ phase, stopped: true });
          return;
        }
        setView({ phase, stopped: false });
      }
      timer = setTimeout(poll, delay(attempt));
    };
    void poll();
    return () => {
      cancelled = true;
      if (timer) clearTimeout(timer);
    };
  }, [sessionId, round, read, delay]);

  // the lesson is theirs: the next thing to do is read it, so that is where the focus goes
  useEffect(() => {
    if (view.phase === "owned") startReading.current?.focus();
  }, [view.phase]);

  const again = useCallback(() => {
    setView((current) =>
      current.phase === "problem" ? { phase: "confirming", stopped: false } : { phase: current.phase, stopped: false },
    );
    setRound((n) => n + 1);
  }, []);

  if (query?.kind === "cancelled") {
    return (
      <div role="status" className={styles.neutral}>
        <p>{RETURN_FIRST_WORDS.cancelled}</p>
      </div>
    );
  }
  if (!sessionId) return null;

  if (view.phase === "problem") {
    return <ProblemNotice problem={view.problem} returnTo={returnTo} onRetry={again} />;
  }
  const lesson = lessonId ? lessonOf(lessonId) : null;
  const title = lesson?.title ?? "Your lesson";
  switch (view.phase) {
    case "owned":
      return (
        <div role="status" className={styles.status}>
          <p>
            <strong>Purchase complete:</strong> {title} is yours.
          </p>
          <Link ref={startReading} className={styles.go} href={lesson ? `/lessons/${lesson.slug}` : "/profile"}>
            Start reading
          </Link>
        </div>
      );
    case "failed":
      return (
        <div role="alert" className={styles.alert}>
          <p>The payment failed. You have not been charged.</p>
        </div>
      );
    case "expired":
      return (
        <div role="status" className={styles.neutral}>
          <p>This checkout expired before it was paid. You have not been charged, and you can buy the lesson again.</p>
        </div>
      );
    case "processing":
      return (
        <div role="status" className={styles.status}>
          <p>Payment processing. We&apos;ll unlock the lesson when your bank confirms it.</p>
          {view.stopped ? (
            <button type="button" className={styles.action} onClick={again}>
              Check again
            </button>
          ) : null}
        </div>
      );
    case "confirming":
      return view.stopped ? (
        <div role="alert" className={styles.alert}>
          <p>We haven&apos;t had the payment confirmed yet. This can take a minute.</p>
          <button type="button" className={styles.action} onClick={again}>
            Try again
          </button>
        </div>
      ) : (
        <div role="status" className={styles.status}>
          <p>{RETURN_FIRST_WORDS.success}</p>
        </div>
      );
  }
}
