import Link from "next/link";

import { ProblemNotice } from "@/components/ProblemNotice";
import type { CheckoutProblem } from "@/lib/checkoutErrors";
import { formatPrice } from "@/lib/money";
import type { CatalogLesson } from "@/types/shop";

import styles from "./LessonCard.module.css";

export type LessonCardProps = {
  lesson: CatalogLesson;
  /** Checkout is being opened for this lesson: the button stays disabled until we leave. */
  buying?: boolean;
  /** Another purchase is starting elsewhere on the page. */
  busy?: boolean;
  problem?: CheckoutProblem | null;
  onBuy?: (lesson: CatalogLesson) => void;
  onRefresh?: () => void;
};

export function LessonCard({ lesson, buying = false, busy = false, problem, onBuy, onRefresh }: LessonCardProps) {
  const headingId = `lesson-${lesson.id}`;
  const href = `/lessons/${lesson.slug}`;
  // lesson_catalog() decided what the lesson offers; the card only puts it in words
  const action = lesson.access;
  return (
    <article className={styles.card} aria-labelledby={headingId}>
      <h2 id={headingId} className={styles.title}>
        {lesson.title}
      </h2>
      {lesson.description ? <p className={styles.description}>{lesson.description}</p> : null}
      <div className={styles.footer}>
        <p className={styles.price}>{formatPrice(lesson.price_cents, lesson.currency)}</p>
        <div className={styles.action}>
          {action === "free" ? (
            <Link className={styles.read} href={href}>
              Read
            </Link>
          ) : null}
          {action === "owned" ? (
            <>
              <span className={styles.owned}>Owned</span>
              <Link className={styles.read} href={href}>
                Read
              </Link>
            </>
          ) : null}
          {action === "processing" ? <span className={styles.pending}>Payment processing</span> : null}
          {action === "available" ? (
            <button
              type="button"
              className={styles.buy}
              disabled={buying || busy}
              aria-busy={buying || undefined}
              onClick={() => onBuy?.(lesson)}
            >
              {buying ? "Redirecting…" : "Buy"}
            </button>
          ) : null}
        </div>
      </div>
      {problem ? (
        <ProblemNotice problem={problem} returnTo={href} onRetry={() => onBuy?.(lesson)} onRefresh={onRefresh} />
      ) : null}
    </article>
  );
}
