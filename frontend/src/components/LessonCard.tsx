import Link from "next/link";

import { ProblemNotice } from "@/components/ProblemNotice";
import { accessWords } from "@/lib/access";
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
  const words = accessWords(lesson);
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
          {words.buy ? (
            <button
              type="button"
              className={styles.buy}
              disabled={buying || busy}
              aria-busy={buying || undefined}
              onClick={() => onBuy?.(lesson)}
            >
              {buying ? "Redirecting…" : words.buy}
            </button>
          ) : null}
        </div>
      </div>
      {words.note && action !== "processing" ? <p className={styles.description}>{words.note}</p> : null}
      {problem ? (
        <ProblemNotice problem={problem} returnTo={href} onRetry={() => onBuy?.(lesson)} onRefresh={onRefresh} />
      ) : null}
    </article>
  );
}
