import Link from "next/link";

import type { CheckoutProblem } from "@/lib/checkoutErrors";
import { signInPath, signUpPath } from "@/lib/navigation";

import styles from "./Notice.module.css";

/** A refusal or failure in words, with the way forward that fits it. */
export function ProblemNotice({
  problem,
  returnTo,
  onRetry,
  onRefresh,
}: {
  problem: CheckoutProblem;
  returnTo: string;
  onRetry?: () => void;
  onRefresh?: () => void;
}) {
  return (
    <div role="alert" className={styles.alert}>
      <p>{problem.message}</p>
      {problem.next === "retry" && onRetry ? (
        <button type="button" className={styles.action} onClick={onRetry}>
          Try again
        </button>
      ) : null}
      {problem.next === "sign_in" ? <Link href={signInPath(returnTo)}>Sign in</Link> : null}
      {problem.next === "sign_up" ? <Link href={signUpPath(returnTo)}>Create an account</Link> : null}
      {problem.next === "profile" ? <Link href="/profile">Your purchases</Link> : null}
      {problem.next === "reload" && onRefresh ? (
        <button type="button" className={styles.action} onClick={onRefresh}>
          Refresh
        </button>
      ) : null}
    </div>
  );
}
