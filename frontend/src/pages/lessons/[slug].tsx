import Head from "next/head";
import Link from "next/link";
import { useRouter } from "next/router";
import type { GetServerSideProps } from "next";
import { useCallback, useState } from "react";

import { CheckoutReturn } from "@/components/CheckoutReturn";
import { ErrorBoundary } from "@/components/ErrorBoundary";
import { AccessFooter } from "@/components/LessonCard";
import { ProblemNotice } from "@/components/ProblemNotice";
import { useBuy } from "@/hooks/useBuy";
import { accessWords } from "@/lib/access";
import { checkoutReturnQuery, type CheckoutReturnQuery } from "@/lib/checkoutSession";
import { formatPrice } from "@/lib/money";
import { loadLesson, loadLessonContent } from "@/lib/queries";
import { accessAfterReturn, type CheckoutSessionState } from "@/lib/stripe";
import { createServerSupabase, currentUser } from "@/lib/supabase";
import notice from "@/components/Notice.module.css";
import card from "@/components/LessonCard.module.css";
import styles from "@/styles/Page.module.css";
import type { CatalogLesson, LessonContent, ShopUser } from "@/types/shop";

type Props =
  | {
      user: ShopUser | null;
      state: "found";
      lesson: CatalogLesson;
      content: LessonContent | null;
      /** Back from Checkout: the sidecar's success and cancel URLs lead to the lesson's page. */
      checkout: CheckoutReturnQuery;
    }
  | { user: ShopUser | null; state: "missing" }
  | { user: ShopUser | null; state: "loadFailed" };

const SLUG = /^[a-z0-9]+(-[a-z0-9]+)*$/;

export const getServerSideProps: GetServerSideProps<Props, { slug: string }> = async ({ req, res, params, query }) => {
  const slug = params?.slug ?? "";
  const supabase = createServerSupabase(req, res);
  const user = await currentUser(supabase);
  // Rendered here rather than as pages/404 so that the page can say it is a lesson that is missing.
  const missing = () => {
    // 404 for the document; a client-side navigation's data request must stay 200, or the
    // router takes it for a missing page and reloads the same URL
    const dataRequest = Boolean(req.headers["x-nextjs-data"]) || (req.url ?? "").startsWith("/_next/data/");
    if (!dataRequest) res.statusCode = 404;
    return { props: { user, state: "missing" as const } };
  };
  if (!SLUG.test(slug) || slug.length > 100) return missing();
  const found = await loadLesson(supabase, slug);
  if (!found.ok) {
    console.error("lesson failed", found.reason);
    return { props: { user, state: "loadFailed" as const } };
  }
  const lesson = found.value;
  if (!lesson) return missing();
  // RLS decides: free lessons and lessons the learner owns (paid) come back; others do not.
  const content = await loadLessonContent(supabase, lesson.id);
  if (!content.ok) {
    console.error("lesson content failed", content.reason);
    return { props: { user, state: "loadFailed" as const } };
  }
  return {
    props: { user, state: "found" as const, lesson, content: content.value, checkout: checkoutReturnQuery(query) },
  };
};

// Why the lesson is not readable (in lesson_catalog()'s words), then the price and the way forward.
function Paywall({ lesson }: { lesson: CatalogLesson }) {
  const { buy, buying, problems, refresh } = useBuy();
  const problem = problems[lesson.id];
  const words = accessWords(lesson);
  const note = words.note ?? (words.buy ? "Buy this lesson to read it." : null);
  return (
    <div className={styles.panel}>
      {note ? <p className={styles.stateNote}>{note}</p> : null}
      <AccessFooter lesson={lesson} buying={buying === lesson.id} busy={buying !== null} onBuy={(l) => void buy(l)} />
      {problem ? (
        <ProblemNotice
          problem={problem}
          returnTo={`/lessons/${lesson.slug}`}
          onRetry={() => void buy(lesson)}
          onRefresh={refresh}
        />
      ) : null}
    </div>
  );
}

export default function LessonPage(props: Props) {
  const router = useRouter();
  if (props.state === "missing") {
    return (
      <>
        <Head>
          <title>Lesson not found · Lesson shop</title>
        </Head>
        <h1>Lesson not found</h1>
        <p>There is no lesson at this address.</p>
        <p>
          <Link href="/lessons">Back to lessons</Link>
        </p>
      </>
    );
  }
  if (props.state === "loadFailed") {
    return (
      <div role="alert" className={notice.alert}>
        <p>We couldn&apos;t load this lesson. Please try again.</p>
        <button type="button" className={notice.action} onClick={() => void router.replace(router.asPath)}>
          Try again
        </button>
      </div>
    );
  }
  return <FoundLesson {...props} />;
}

function FoundLesson({ lesson: loaded, content, checkout }: Extract<Props, { state: "found" }>) {
  // what the return from Checkout learns about this lesson, over what the server rendered
  const [returned, setReturned] = useState<Pick<CatalogLesson, "access"> | null>(null);
  const lesson = returned ? { ...loaded, ...returned } : loaded;
  const lessonOf = useCallback(
    (lessonId: string) => (lessonId === loaded.id ? { title: loaded.title, slug: loaded.slug } : null),
    [loaded],
  );
  const onSession = useCallback(
    (session: CheckoutSessionState) => {
      if (session.lesson_id === loaded.id) setReturned({ access: accessAfterReturn(session) });
    },
    [loaded.id],
  );
  return (
    <>
      <Head>
        <title>{`${lesson.title} · Lesson shop`}</title>
      </Head>
      <p>
        <Link href="/lessons">← All lessons</Link>
      </p>
      <h1>{lesson.title}</h1>
      <p className={styles.lead}>
        {lesson.description}
        {content ? (
          <>
            {" "}
            <strong>{formatPrice(lesson.price_cents, lesson.currency)}</strong>
            {lesson.access === "owned" ? (
              <>
                {" "}
                · <span className={card.owned}>Owned</span>
              </>
            ) : null}
          </>
        ) : null}
      </p>
      <ErrorBoundary label="the checkout status">
        <CheckoutReturn
          query={checkout}
          lessonOf={lessonOf}
          onSession={onSession}
          returnTo={`/lessons/${loaded.slug}`}
        />
      </ErrorBoundary>
      <ErrorBoundary label="the lesson">
        {content ? (
          <article className={`${styles.panel} ${styles.reading}`} aria-label={lesson.title}>
            {content.body.split(/\n{2,}/).map((paragraph, index) => (
              <p key={index}>{paragraph}</p>
            ))}
            {content.media_url ? (
              <p>
                <a href={content.media_url} rel="noopener noreferrer">
                  Watch the video for this lesson
                </a>
              </p>
            ) : null}
          </article>
        ) : (
          <Paywall lesson={lesson} />
        )}
      </ErrorBoundary>
    </>
  );
}
