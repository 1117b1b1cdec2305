import Link from "next/link";

import { ProblemNotice } from "@/components/ProblemNotice";
import { accessWords } from "@/lib/access";
import type { CheckoutProblem } from "@/lib/checkoutErrors";
import { COVER_HEIGHT, COVER_WIDTH, type Cover } from "@/lib/covers";
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
  /** The lesson's cover, shown above its title. */
  cover?: Cover | null;
  coverLoading?: "eager" | "lazy";
};

/** The price, what state the lesson is in, and the way forward (buy, read, or see the payment). */
export function AccessFooter({
  lesson,
  buying = false,
  busy = false,
  onBuy,
  namedAction = false,
}: Pick<LessonCardProps, "lesson" | "buying" | "busy" | "onBuy"> & {
  /** The lesson's own page: the button says which lesson and what it costs, out loud and on screen. */
  namedAction?: boolean;
}) {
  // lesson_catalog() decided what the lesson offers; this only puts it in words
  const words = accessWords(lesson);
  const href = `/lessons/${lesson.slug}`;
  const price = formatPrice(lesson.price_cents, lesson.currency);
  // one name per button, so a screen reader's list of buttons is not five times "Buy"
  const what = `${lesson.title} — ${price}`;
  return (
    <div className={styles.footer}>
      <p className={styles.price}>
        <span>{price}</span>
        {words.badge ? (
          <span className={words.badge === "Owned" ? styles.owned : styles.pending}>{words.badge}</span>
        ) : null}
      </p>
      <div className={styles.action}>
        {words.read ? (
          <Link className={styles.read} href={href}>
            Read
          </Link>
        ) : null}
        {words.purchases ? (
          <Link className={styles.more} href="/profile">
            See your payment
          </Link>
        ) : null}
        {words.buy ? (
          <button
            type="button"
            className={styles.buy}
            disabled={buying || busy}
            aria-busy={buying || undefined}
            onClick={() => onBuy?.(lesson)}
          >
            {buying ? (
              "Redirecting…"
            ) : namedAction ? (
              `${words.buy} ${what}`
            ) : (
              <>
                {words.buy} <span className="visually-hidden">{what}</span>
              </>
            )}
          </button>
        ) : null}
      </div>
    </div>
  );
}

export function LessonCard({
  lesson,
  buying = false,
  busy = false,
  problem,
  onBuy,
  onRefresh,
  cover = null,
  coverLoading = "lazy",
}: LessonCardProps) {
  const headingId = `lesson-${lesson.id}`;
  const href = `/lessons/${lesson.slug}`;
  const { note } = accessWords(lesson);
  return (
    <article className={styles.card} aria-labelledby={headingId}>
      {cover ? (
        // eslint-disable-next-line @next/next/no-img-element -- a fixed-size file from Storage: next/image's loader adds nothing
        <img
          className={styles.cover}
          src={cover.url}
          alt={cover.alt}
          width={COVER_WIDTH}
          height={COVER_HEIGHT}
          loading={coverLoading}
          decoding="async"
        />
      ) : null}
      <h2 id={headingId} className={styles.title}>
        <Link href={href}>{lesson.title}</Link>
      </h2>
      {lesson.description ? <p className={styles.description}>{lesson.description}</p> : null}
      {note ? <p className={styles.note}>{note}</p> : null}
      <AccessFooter lesson={lesson} buying={buying} busy={busy} onBuy={onBuy} />
      {problem ? (
        <ProblemNotice problem={problem} returnTo={href} onRetry={() => onBuy?.(lesson)} onRefresh={onRefresh} />
      ) : null}
    </article>
  );
}
